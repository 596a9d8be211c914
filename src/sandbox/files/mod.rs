//! Files both ways: uploads (`multipart/form-data`, signed over their `meta` JSON) and bill
//! downloads (step one answers a `download_url` pointing at the sandbox itself; the file is
//! generated and streamed, never held whole).
//!
//! The server calls in here at three points: the size limit of a request body (raised for
//! uploads only), the bytes the request's signature covers (the `meta` part of an upload),
//! and the routes (before the hand-written and catalog ones).

mod bill_routes;
mod multipart;
mod uploads;

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Body as HttpBody, Frame, SizeHint};

use super::routes::Answer;
use super::State;

pub use bill_routes::BillServing;
pub(crate) use bill_routes::Files;

/// The largest upload body the sandbox reads: the client's own largest file (for endpoints
/// without a documented limit) and room for the form around it.
const MAX_UPLOAD_BODY: usize = crate::multipart::DEFAULT_MAX_FILE_SIZE as usize + (1 << 20);

/// A response body of the sandbox: a whole answer, or a file streamed from a generator.
pub(crate) enum Body {
    Full(Full<Bytes>),
    Stream(tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>),
}

impl From<Full<Bytes>> for Body {
    fn from(full: Full<Bytes>) -> Body {
        Body::Full(full)
    }
}

impl HttpBody for Body {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.get_mut() {
            Body::Full(full) => Pin::new(full)
                .poll_frame(cx)
                .map(|frame| frame.map(|f| f.map_err(|never| match never {}))),
            Body::Stream(chunks) => chunks
                .poll_recv(cx)
                .map(|chunk| chunk.map(|c| c.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Full(full) => full.is_end_stream(),
            Body::Stream(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(full) => full.size_hint(),
            Body::Stream(_) => SizeHint::default(),
        }
    }
}

/// What a file route answers: an answer to sign like any other, or a file (unsigned).
pub(crate) enum Routed {
    Answer(Answer),
    File(Response<Body>),
}

/// Whether a request carries a `multipart/form-data` body.
fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

/// The largest request body read: `normal`, or more for an upload.
pub(crate) fn request_limit(headers: &HeaderMap, normal: usize) -> usize {
    if is_multipart(headers) {
        normal.max(MAX_UPLOAD_BODY)
    } else {
        normal
    }
}

/// The bytes the request's signature covers: the body, or an upload's `meta` part (as the
/// platform does). A form the sandbox cannot read is refused like the platform's 400.
pub(crate) fn signed_body<'a>(headers: &HeaderMap, body: &'a [u8]) -> Result<&'a [u8], Answer> {
    if !is_multipart(headers) {
        return Ok(body);
    }
    let form = multipart::parse(headers, body).map_err(|why| {
        Answer::error(
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            &format!("multipart 请求体格式错误 (the multipart body cannot be read: {why})"),
        )
    })?;
    match form.part("meta") {
        Some(meta) => Ok(meta.data),
        None => Err(Answer::error(
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "缺少 meta (the form has no `meta` part, which the signature covers)",
        )),
    }
}

/// The file routes: uploads, the bill endpoints (step one) and the files they name. `None`
/// for every other request (and for a file token the sandbox never issued, which the
/// hand-written route answers).
pub(crate) async fn answer(
    state: &State,
    method: &Method,
    headers: &HeaderMap,
    target: &str,
    body: &[u8],
) -> Option<Routed> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let path = path.trim_start_matches('/');
    if *method == Method::POST && is_multipart(headers) {
        return uploads::answer(headers, path, body).map(Routed::Answer);
    }
    if *method != Method::GET {
        return None;
    }
    bill_routes::answer(state, headers, path, query).await
}
