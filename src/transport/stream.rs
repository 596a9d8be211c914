//! Answers whose body is read as it arrives: file downloads (bills, receipts), which may run
//! to gigabytes and so are never held whole, and to which neither the maximum response size
//! nor the total timeout of JSON calls applies (a download has its own limit and idle
//! timeout, see [`crate::download`]).

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use http::{HeaderMap, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Body;

use crate::error::BoxError;

/// A response body that arrives in chunks: a [`Stream`] of `Bytes`.
///
/// What [`HttpSend::send_streaming`](super::HttpSend::send_streaming) hands back. Make one
/// from any [`http_body::Body`](hyper::body::Body) (hyper's `Incoming`, for instance) with
/// [`BodyStream::new`], or from bytes already read with [`BodyStream::from`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use wechatpay::transport::BodyStream;
///
/// let mut body = BodyStream::from(bytes::Bytes::from_static(b"a bill"));
/// assert_eq!(body.size_hint(), Some(6));
/// let chunk = std::future::poll_fn(|cx| {
///     futures_core::Stream::poll_next(std::pin::Pin::new(&mut body), cx)
/// }).await;
/// assert_eq!(chunk.unwrap().unwrap(), "a bill");
/// # }
/// ```
pub struct BodyStream {
    body: UnsyncBoxBody<Bytes, BoxError>,
}

impl BodyStream {
    /// A stream over any HTTP body (frames other than data, such as trailers, are skipped).
    pub fn new<B>(body: B) -> BodyStream
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        BodyStream {
            body: body.map_err(Into::into).boxed_unsync(),
        }
    }

    /// The body's exact length when it is known (`Content-Length`, or bytes in memory).
    pub fn size_hint(&self) -> Option<u64> {
        self.body.size_hint().exact()
    }
}

impl From<Bytes> for BodyStream {
    fn from(bytes: Bytes) -> BodyStream {
        BodyStream::new(Full::new(bytes).map_err(|never| match never {}))
    }
}

impl Stream for BodyStream {
    type Item = Result<Bytes, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let frame = match Pin::new(&mut self.body).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(frame))) => frame,
            };
            if let Ok(data) = frame.into_data() {
                return Poll::Ready(Some(Ok(data)));
            }
        }
    }
}

impl fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyStream")
            .field("size_hint", &self.size_hint())
            .finish_non_exhaustive()
    }
}

/// An answer whose head has arrived and whose body is still on its way.
pub(crate) struct StreamedResponse {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: BodyStream,
    /// `host:port` of the host that answered.
    pub(crate) host: String,
}
