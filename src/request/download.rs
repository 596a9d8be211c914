//! The file request of a download: a signed `GET` of a `download_url` whose body streams
//! into a [`Download`] (gzip, digest, destination) instead of being read whole.
//!
//! The answer's head must arrive within the attempt's limit, like any answer; its body is
//! governed by the download's own limit and idle timeout instead of the maximum response
//! size and the total timeout. A 2xx body is not verified by signature: files are unsigned
//! (the catalog's list), and their integrity is the digest that the signed answer of step
//! one announced. A non-2xx answer is read whole (within the maximum response size) and
//! classified like any answer. An attempt that fails on the connection before a byte was
//! written may be retried; once bytes are written, the failure is final.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::uri::Scheme;
use http::{Method, Request, Uri};
use tokio::io::AsyncWrite;

use super::send::{record, Exchange};
use super::{append_query, Pipeline, RequestBuilder};
use crate::download::{Download, Downloaded};
use crate::error::{Error, TransportErrorKind};
use crate::response::classify;
use crate::transport::{is_loopback, Limit, RawResponse, Transport};

/// The path after the base (for classification), the signed target and the URI of a
/// request to an absolute URL, with `query` appended.
pub(crate) fn absolute_target(
    uri: &Uri,
    query: &[(String, String)],
) -> Result<(String, String, Uri), Error> {
    let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
        return Err(Error::request(format!("`{uri}` is not an absolute URL")));
    };
    let mut target = uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    append_query(&mut target, query);
    let path = target.trim_start_matches('/').to_owned();
    let text = format!("{scheme}://{authority}{target}");
    let uri = text
        .parse()
        .map_err(|e| Error::request_with(format!("`{text}` is not a valid request URI"), e))?;
    Ok((path, target, uri))
}

impl RequestBuilder {
    /// A signed `GET` of an absolute URL (a `download_url`): `https://` anywhere, plain
    /// `http://` to a loopback host only (as for base URLs). Not checked against the
    /// catalog: the URL is the platform's, as given.
    pub(crate) fn for_url(pipeline: Arc<Pipeline>, url: &str) -> RequestBuilder {
        let parsed: Result<Uri, Error> = url
            .parse()
            .map_err(|e| Error::request_with(format!("download_url `{url}` is not a URL"), e));
        let checked = parsed.and_then(|uri| {
            let host = uri.host().unwrap_or_default();
            match uri.scheme() {
                Some(s) if *s == Scheme::HTTPS => Ok(uri),
                Some(s) if *s == Scheme::HTTP && is_loopback(host) => Ok(uri),
                Some(s) if *s == Scheme::HTTP => Err(Error::request(format!(
                    "download_url `{}` uses plain http:// to a non-loopback host; the platform's \
                     files come over https://",
                    without_query(url)
                ))),
                _ => Err(Error::request(format!(
                    "download_url `{}` is not an absolute http(s) URL",
                    without_query(url)
                ))),
            }
        });
        // The span and Debug name the file's path, never its query (a one-time token).
        let template = without_query(url)
            .split_once("://")
            .and_then(|(_, rest)| rest.split_once('/'))
            .map_or("", |(_, path)| path)
            .to_owned();
        let mut builder = RequestBuilder::new(pipeline, Method::GET, template);
        match checked {
            Ok(uri) => builder.absolute = Some(uri),
            Err(error) => builder.fail(error),
        }
        builder.check = Some(false);
        builder
    }

    /// Sends this request as the file request of a download: the 2xx body streams through
    /// `download` into `writer`. Retried (by the request's policy) only while nothing has
    /// been written to `writer`.
    pub(crate) async fn download_into<W>(
        self,
        download: &mut Download,
        writer: &mut W,
    ) -> Result<Downloaded, Error>
    where
        W: AsyncWrite + Unpin + Send + ?Sized,
    {
        let pipeline = Arc::clone(&self.pipeline);
        let mut writer = Counting {
            inner: writer,
            written: 0,
        };
        let exchange = FileExchange {
            pipeline: &pipeline,
            download,
            writer: &mut writer,
        };
        self.execute_with(exchange).await
    }
}

fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or_default()
}

/// One attempt of a file request.
struct FileExchange<'d, 'w, W: ?Sized> {
    pipeline: &'d Pipeline,
    download: &'d mut Download,
    writer: &'d mut Counting<'w, W>,
}

impl<W> Exchange for FileExchange<'_, '_, W>
where
    W: AsyncWrite + Unpin + Send + ?Sized,
{
    type Output = Downloaded;

    async fn exchange<'a>(
        &'a mut self,
        transport: &'a Transport,
        request: Request<Bytes>,
        limit: Limit,
        path: &'a str,
        span: &'a tracing::Span,
    ) -> Result<Downloaded, Error> {
        let answer = match transport.send_streaming(request, limit).await {
            Ok(answer) => answer,
            Err(error) => {
                if let Error::Transport {
                    host: Some(host), ..
                } = &error
                {
                    record(span, host, None);
                }
                return Err(error);
            }
        };
        record(span, &answer.host, Some((answer.status, &answer.headers)));
        if !answer.status.is_success() {
            // An error answer is small JSON: read it whole, within the attempt's limit
            // and the maximum response size, and classify it like any answer.
            let body = read_whole(
                answer.body,
                transport.max_response_size(),
                limit,
                &answer.host,
            )
            .await?;
            let raw = RawResponse {
                status: answer.status,
                headers: answer.headers,
                body,
                host: answer.host,
            };
            return match classify(raw, &self.pipeline.verifier, path) {
                Err(error) => Err(error),
                // A 2xx cannot get here; should classify change, say so rather than write.
                Ok(_) => Err(Error::request("the file answer changed status mid-way")),
            };
        }
        self.download.set_content_length(answer.body.size_hint());
        match self.download.run(answer.body, &mut *self.writer).await {
            Ok(done) => Ok(done),
            Err(mut error) => {
                error.retryable = error.is_transient() && self.writer.written == 0;
                Err(error.into())
            }
        }
    }
}

/// Reads a whole (small) body within the attempt's limit and `max` bytes.
async fn read_whole(
    mut body: crate::transport::BodyStream,
    max: usize,
    limit: Limit,
    host: &str,
) -> Result<Bytes, Error> {
    let read = async {
        let mut buf = Vec::new();
        while let Some(chunk) =
            std::future::poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut body), cx))
                .await
        {
            let chunk = chunk.map_err(|e| {
                Error::transport(TransportErrorKind::Io, Some(host.to_owned()), Some(e))
            })?;
            if buf.len() + chunk.len() > max {
                return Err(Error::transport(
                    TransportErrorKind::BodyTooLarge { limit: max },
                    Some(host.to_owned()),
                    None,
                ));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(buf))
    };
    match tokio::time::timeout_at(limit.at, read).await {
        Ok(result) => result,
        Err(_) => Err(Error::transport(
            limit.expired(),
            Some(host.to_owned()),
            None,
        )),
    }
}

/// A writer that counts what passes through it, so that a failed attempt knows whether
/// anything reached the destination.
struct Counting<'w, W: ?Sized> {
    inner: &'w mut W,
    written: u64,
}

impl<W: AsyncWrite + Unpin + ?Sized> AsyncWrite for Counting<'_, W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut *this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &polled {
            this.written += *n as u64;
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.inner).poll_shutdown(cx)
    }
}
