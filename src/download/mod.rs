//! Streamed downloads of bills and receipts, checked against the platform's digest.
//!
//! Bills and receipts come in two steps. A signed call such as `GET v3/bill/tradebill`
//! answers a signed JSON [`DownloadLink`] `{download_url, hash_type, hash_value}`; the
//! file itself then comes from `download_url` (signed request, unsigned answer), possibly
//! gzip-compressed (`tar_type=GZIP`). The file is only trustworthy once the digest of its
//! **uncompressed** bytes matches `hash_value`.
//!
//! A [`Download`] does the second half for any byte stream (a hyper body, a file, a test
//! stream): it decompresses gzip on the fly, computes the digest (SHA-1, SHA-256 or SM3)
//! while writing, and reports progress. Memory stays bounded (one buffer of
//! [`Download::buffer_size`] bytes plus the decoder's window) whatever the size.
//! [`Download::to_path`] writes to a temporary file in the target's directory and renames
//! it only once the digest matches, so a failed download never leaves a file behind.
//!
//! Failures are distinct [`DownloadErrorKind`]s: digest mismatch, truncated stream, bad
//! gzip, over the size limit, a failing connection, a failing disk.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use wechatpay::download::{Download, DownloadLink};
//!
//! // Step one's answer (normally from `wxpay.chain("v3/bill/tradebill")...`).
//! let link = DownloadLink::from_json(br#"{
//!     "download_url": "https://api.mch.weixin.qq.com/v3/billdownload/file?token=x",
//!     "hash_type": "SHA1",
//!     "hash_value": "1c5585087cc7a6de563cc51ee91d2d7c6df528f4"
//! }"#)?;
//! assert_eq!(link.target(), "/v3/billdownload/file?token=x");
//!
//! // Step two's body: any stream of byte chunks (here a file-like reader).
//! let bill: &[u8] = "\u{feff}交易时间\r\n`2026-11-29 10:00:00\r\n".as_bytes();
//! let body = tokio_util::io::ReaderStream::new(bill);
//! let mut out = Vec::new();
//! let done = Download::from_link(&link).to_writer(body, &mut out).await?;
//! assert_eq!(done.bytes, bill.len() as u64);
//! assert_eq!(out, bill);
//! # Ok(()) }
//! ```
//!
//! A hyper body fits through `http_body_util::BodyExt::into_data_stream()`; a file through
//! `tokio_util::io::ReaderStream`.

use std::fmt;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use async_compression::tokio::bufread::GzipDecoder;
use bytes::{Buf, Bytes};
use futures_core::Stream;
use serde::Deserialize;
use tokio::io::{AsyncBufRead, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::error::{BoxError, Error};

mod fetch;

pub use fetch::DownloadBuilder;

/// The default limit on a download's size (uncompressed, and compressed): 16 GiB.
///
/// It protects the disk, not the memory (which stays bounded whatever the size); the
/// response size limit of JSON calls ([`DEFAULT_MAX_RESPONSE_SIZE`](crate::DEFAULT_MAX_RESPONSE_SIZE))
/// does not apply to downloads.
pub const DEFAULT_MAX_DOWNLOAD_SIZE: u64 = 16 << 30;

/// The default longest wait for a download's next bytes (see [`Download::idle_timeout`]).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The default size of the one buffer a download reads, digests and writes through.
pub const DEFAULT_BUFFER_SIZE: usize = 256 << 10;

// ---- digests (crypto/digest.rs) ---------------------------------------------------------

pub(crate) use crate::crypto::digest::{hex, Hasher};
pub use crate::crypto::digest::{Digest, HashType};

// ---- step one: the link ----------------------------------------------------------------------

/// The signed answer of a bill or receipt endpoint: where the file is and its digest.
///
/// Parsed from `{"download_url": …, "hash_type": …, "hash_value": …}` (other fields, such
/// as a receipt's `state`, are ignored).
#[derive(Clone, PartialEq, Eq)]
pub struct DownloadLink {
    download_url: String,
    target_start: usize,
    digest: Digest,
}

impl DownloadLink {
    /// A link from its parts, e.g. a `download_url` and digest saved earlier.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] if the URL is not an absolute `http(s)` URL with a path, or the
    /// digest is not hex of the algorithm's length.
    pub fn new(download_url: &str, hash_type: HashType, hash_value: &str) -> Result<Self, Error> {
        let digest = Digest::from_hex(hash_type, hash_value)?;
        let uri: http::Uri = download_url.parse().map_err(|e| {
            Error::decode(
                format!("download_url `{download_url}` is not a URL"),
                Some(Box::new(e)),
            )
        })?;
        let scheme_ok = matches!(uri.scheme_str(), Some("https" | "http"));
        if !scheme_ok || uri.authority().is_none() {
            return Err(Error::decode(
                format!("download_url `{download_url}` is not an absolute http(s) URL"),
                None,
            ));
        }
        let target = uri.path_and_query().map_or("", |p| p.as_str());
        if !target.starts_with('/') || !download_url.ends_with(target) {
            return Err(Error::decode(
                format!("download_url `{download_url}` has no path"),
                None,
            ));
        }
        let target_start = download_url.len() - target.len();
        Ok(DownloadLink {
            download_url: download_url.to_owned(),
            target_start,
            digest,
        })
    }

    /// Parses the JSON answer of step one.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] naming what is missing or malformed. A receipt that is not ready
    /// yet (no `download_url`, `state` such as `GENERATING`) says so.
    ///
    /// ```
    /// use wechatpay::download::{DownloadLink, HashType};
    ///
    /// let link = DownloadLink::from_json(br#"{
    ///     "hash_type": "SHA1",
    ///     "hash_value": "79bb0f45fc4c42234a918000b2668d689e2bde04",
    ///     "download_url": "https://api.mch.weixin.qq.com/v3/billdownload/file?token=xxx"
    /// }"#)?;
    /// assert_eq!(link.digest().hash_type(), HashType::Sha1);
    /// assert_eq!(link.target(), "/v3/billdownload/file?token=xxx");
    ///
    /// let pending = DownloadLink::from_json(br#"{"state": "GENERATING"}"#).unwrap_err();
    /// assert!(pending.to_string().contains("GENERATING"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_json(body: &[u8]) -> Result<DownloadLink, Error> {
        #[derive(Deserialize)]
        struct Answer {
            download_url: Option<String>,
            hash_type: Option<String>,
            hash_value: Option<String>,
            state: Option<String>,
        }
        let answer: Answer = serde_json::from_slice(body).map_err(|e| {
            Error::decode(
                "the download answer is not a JSON object",
                Some(Box::new(e)),
            )
        })?;
        let missing = |field: &str| {
            let state = match &answer.state {
                Some(state) => {
                    format!(" (state `{state}`: the file is not ready yet, ask again later)")
                }
                None => String::new(),
            };
            Error::decode(format!("the download answer has no `{field}`{state}"), None)
        };
        let url = answer
            .download_url
            .as_deref()
            .ok_or_else(|| missing("download_url"))?;
        let hash_type = answer
            .hash_type
            .as_deref()
            .ok_or_else(|| missing("hash_type"))?;
        let hash_value = answer
            .hash_value
            .as_deref()
            .ok_or_else(|| missing("hash_value"))?;
        DownloadLink::new(url, hash_type.parse()?, hash_value)
    }

    /// The file's URL.
    pub fn download_url(&self) -> &str {
        &self.download_url
    }

    /// The URL's path and query: the TARGET the step-two request signs.
    pub fn target(&self) -> &str {
        &self.download_url[self.target_start..]
    }

    /// The announced digest of the uncompressed file.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }
}

impl fmt::Debug for DownloadLink {
    /// The query (a one-time token) is not printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self.download_url.split('?').next().unwrap_or_default();
        f.debug_struct("DownloadLink")
            .field("download_url", &format_args!("{url}?…"))
            .field("digest", &self.digest)
            .finish()
    }
}

// ---- step two: the file ----------------------------------------------------------------------

/// Whether the body is gzip-compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Compression {
    /// Gzip if the body starts with gzip's magic bytes `1f 8b` (a CSV bill cannot).
    #[default]
    Auto,
    /// The body is the file.
    None,
    /// The body is gzip (one or more members), as with `tar_type=GZIP`.
    Gzip,
}

/// How far a download has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Progress {
    /// Bytes received from the body (compressed, if it is).
    pub received: u64,
    /// Bytes of the file written out (uncompressed).
    pub written: u64,
    /// The body's announced length (`Content-Length`), when known.
    pub total: Option<u64>,
}

/// What a finished download wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Downloaded {
    /// Bytes of the file (uncompressed).
    pub bytes: u64,
    /// Bytes of the body (compressed, if it was).
    pub received: u64,
    /// The digest, equal to the announced one.
    pub digest: Digest,
    /// Whether the body was gzip.
    pub gzip: bool,
}

type ProgressFn = Box<dyn FnMut(Progress) + Send>;

/// The second step of a bill or receipt download: body in, checked file out.
///
/// Configure, then call [`to_writer`](Download::to_writer) or [`to_path`](Download::to_path).
#[must_use = "a Download does nothing until it is given a body (`to_writer`, `to_path`)"]
pub struct Download {
    expected: Digest,
    compression: Compression,
    content_length: Option<u64>,
    max_size: u64,
    buffer_size: usize,
    on_progress: Option<ProgressFn>,
    progress_tx: Option<tokio::sync::watch::Sender<Progress>>,
    sync: bool,
    idle_timeout: Option<Duration>,
}

impl fmt::Debug for Download {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Download")
            .field("expected", &self.expected)
            .field("compression", &self.compression)
            .field("content_length", &self.content_length)
            .field("max_size", &self.max_size)
            .field("buffer_size", &self.buffer_size)
            .field("sync", &self.sync)
            .field("idle_timeout", &self.idle_timeout)
            .finish_non_exhaustive()
    }
}

impl Download {
    /// A download whose uncompressed bytes must have digest `expected`.
    pub fn new(expected: Digest) -> Download {
        Download {
            expected,
            compression: Compression::Auto,
            content_length: None,
            max_size: DEFAULT_MAX_DOWNLOAD_SIZE,
            buffer_size: DEFAULT_BUFFER_SIZE,
            on_progress: None,
            progress_tx: None,
            sync: true,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
        }
    }

    /// A download checked against `link`'s digest.
    pub fn from_link(link: &DownloadLink) -> Download {
        Download::new(link.digest.clone())
    }

    /// Whether the body is gzip (default [`Compression::Auto`]).
    pub fn compression(mut self, compression: Compression) -> Download {
        self.compression = compression;
        self
    }

    /// The body's announced length (`Content-Length`): fewer bytes is a truncation, more
    /// an error; it is also the `total` of [`Progress`].
    pub fn content_length(mut self, length: Option<u64>) -> Download {
        self.content_length = length;
        self
    }

    /// The largest file (and body) accepted, in bytes (default [`DEFAULT_MAX_DOWNLOAD_SIZE`]).
    pub fn max_size(mut self, bytes: u64) -> Download {
        self.max_size = bytes;
        self
    }

    /// The size of the buffer the file passes through (default [`DEFAULT_BUFFER_SIZE`];
    /// at least 4 KiB).
    pub fn buffer_size(mut self, bytes: usize) -> Download {
        self.buffer_size = bytes.max(4096);
        self
    }

    /// Calls `f` after every buffer written (about every [`DEFAULT_BUFFER_SIZE`] bytes).
    pub fn on_progress(mut self, f: impl FnMut(Progress) + Send + 'static) -> Download {
        self.on_progress = Some(Box::new(f));
        self
    }

    /// Publishes progress on a watch channel (for a progress bar on another task).
    pub fn watch_progress(mut self, sender: tokio::sync::watch::Sender<Progress>) -> Download {
        self.progress_tx = Some(sender);
        self
    }

    /// The longest wait for the body's next bytes before the download fails as
    /// [`DownloadErrorKind::Stalled`] (default [`DEFAULT_IDLE_TIMEOUT`]; `None` waits
    /// forever). A download of gigabytes takes minutes, so a total timeout would not fit;
    /// a connection that goes silent must still end.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Download {
        self.idle_timeout = timeout;
        self
    }

    /// Whether [`to_path`](Download::to_path) flushes the file to disk (`fsync`) before
    /// renaming it into place (default `true`, so a crash never leaves a partial file
    /// under the final name).
    pub fn sync_to_disk(mut self, sync: bool) -> Download {
        self.sync = sync;
        self
    }

    /// Sets the announced length of this attempt's body.
    pub(crate) fn set_content_length(&mut self, length: Option<u64>) {
        self.content_length = length;
    }

    /// Whether a file written to a path is synced before it is renamed.
    pub(crate) fn syncs_to_disk(&self) -> bool {
        self.sync
    }

    /// Streams `body` into `writer`: decompressed, digested, checked.
    ///
    /// The writer sees the bytes before the digest is known: on any error, discard what
    /// it received. [`to_path`](Download::to_path) does that for files.
    ///
    /// # Errors
    ///
    /// [`DownloadError`] of a distinct [`DownloadErrorKind`] for a digest mismatch, a
    /// truncated body, bad gzip, a file over [`max_size`](Download::max_size), a failing
    /// body stream, or a failing writer.
    pub async fn to_writer<S, E, W>(
        mut self,
        body: S,
        writer: &mut W,
    ) -> Result<Downloaded, DownloadError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: Into<BoxError>,
        W: AsyncWrite + Unpin + ?Sized,
    {
        let result = self.run(body, writer).await;
        if result.is_ok() {
            writer
                .flush()
                .await
                .map_err(|e| DownloadError::write(e, None))?;
        }
        result
    }

    /// Streams `body` into the file at `path`, through a temporary file in the same
    /// directory (`.NAME.RANDOM.part`) renamed to `path` only once the digest matches.
    /// On any error (or if the future is dropped) the temporary file is removed and an
    /// existing file at `path` is left as it was.
    ///
    /// # Errors
    ///
    /// As [`to_writer`](Download::to_writer), and [`DownloadErrorKind::Write`] if the
    /// temporary file cannot be created, written, synced or renamed.
    pub async fn to_path<S, E>(
        self,
        body: S,
        path: impl AsRef<Path>,
    ) -> Result<Downloaded, DownloadError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: Into<BoxError>,
    {
        let path = path.as_ref();
        let sync = self.sync;
        // Declared before `file`, so dropped after it: the file is closed before removal.
        let (mut temp, mut file) = TempFile::create(path).await?;
        let with_path = |mut e: DownloadError| {
            if e.kind == DownloadErrorKind::Write && e.path.is_none() {
                e.path = Some(temp.path.clone());
            }
            e
        };
        let done = match self.to_writer(body, &mut file).await {
            Ok(done) => done,
            Err(e) => {
                drop(file);
                return Err(with_path(e));
            }
        };
        if sync {
            file.sync_all()
                .await
                .map_err(|e| with_path(DownloadError::write(e, None)))?;
        }
        drop(file);
        tokio::fs::rename(&temp.path, path)
            .await
            .map_err(|e| DownloadError::write(e, Some(path)))?;
        temp.keep();
        Ok(done)
    }

    /// One pass of `body` into `writer` (no final flush): what the client's file request
    /// runs once per attempt.
    pub(crate) async fn run<S, E, W>(
        &mut self,
        body: S,
        writer: &mut W,
    ) -> Result<Downloaded, DownloadError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: Into<BoxError>,
        W: AsyncWrite + Unpin + ?Sized,
    {
        let mut reader = BodyReader {
            stream: Box::pin(body),
            chunk: Bytes::new(),
            received: 0,
            content_length: self.content_length,
            limit: self.max_size,
            eof: false,
            failure: None,
            idle: self.idle_timeout.map(|idle| {
                (
                    idle,
                    Box::pin(tokio::time::sleep_until(tokio::time::Instant::now() + idle)),
                )
            }),
            waiting: false,
        };
        let gzip = match self.compression {
            Compression::None => false,
            Compression::Gzip => true,
            Compression::Auto => {
                let head = std::future::poll_fn(|cx| reader.poll_prefix(cx, 2)).await;
                match head {
                    Ok(head) => head.starts_with(&[0x1f, 0x8b]),
                    Err(e) => return Err(self.classify(e, &reader)),
                }
            }
        };
        let mut source = if gzip {
            let mut decoder = GzipDecoder::new(reader);
            decoder.multiple_members(true);
            Source::Gzip(Box::new(decoder))
        } else {
            Source::Plain(reader)
        };
        let mut hasher = Hasher::new(self.expected.hash_type());
        let mut buf = vec![0u8; self.buffer_size];
        let mut written = 0u64;
        loop {
            let n = match source.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => return Err(self.classify(e, source.body())),
            };
            written += n as u64;
            if written > self.max_size {
                return Err(DownloadError::new(
                    DownloadErrorKind::TooLarge {
                        limit: self.max_size,
                    },
                    None,
                ));
            }
            hasher.update(&buf[..n]);
            writer
                .write_all(&buf[..n])
                .await
                .map_err(|e| DownloadError::write(e, None))?;
            self.report(Progress {
                received: source.body().received,
                written,
                total: self.content_length,
            });
        }
        let body = source.body();
        if let Some(expected) = self.content_length.filter(|&l| body.received < l) {
            return Err(DownloadError::new(
                DownloadErrorKind::Truncated {
                    received: body.received,
                    expected: Some(expected),
                },
                None,
            ));
        }
        let actual = hasher.finish();
        if actual != self.expected {
            return Err(DownloadError::new(
                DownloadErrorKind::DigestMismatch {
                    expected: self.expected.clone(),
                    actual,
                },
                None,
            ));
        }
        Ok(Downloaded {
            bytes: written,
            received: body.received,
            digest: actual,
            gzip,
        })
    }

    fn report(&mut self, progress: Progress) {
        if let Some(f) = &mut self.on_progress {
            f(progress);
        }
        if let Some(tx) = &self.progress_tx {
            tx.send_replace(progress);
        }
    }

    /// Tells apart why reading failed: the body (truncated, too large, broken) or the
    /// decoder (bad gzip, or gzip cut short because the body ended early).
    fn classify<S>(&self, error: io::Error, body: &BodyReader<S>) -> DownloadError {
        let received = body.received;
        let truncated = |source| {
            DownloadError::new(
                DownloadErrorKind::Truncated {
                    received,
                    expected: body.content_length,
                },
                source,
            )
        };
        let unexpected_eof = error.kind() == io::ErrorKind::UnexpectedEof;
        // Keep the error that caused it (a body error is wrapped in an io::Error).
        let source: Option<BoxError> = if error.get_ref().is_some() {
            error.into_inner()
        } else {
            Some(Box::new(error))
        };
        match body.failure {
            Some(BodyFailure::TooLarge) => DownloadError::new(
                DownloadErrorKind::TooLarge {
                    limit: self.max_size,
                },
                None,
            ),
            Some(BodyFailure::Truncated) => truncated(source),
            Some(BodyFailure::Broken) => DownloadError::new(DownloadErrorKind::Body, source),
            Some(BodyFailure::Stalled) => DownloadError::new(
                DownloadErrorKind::Stalled {
                    idle: self.idle_timeout.unwrap_or_default(),
                },
                source,
            ),
            None if unexpected_eof => truncated(source),
            None => DownloadError::new(DownloadErrorKind::Decompress, source),
        }
    }
}

enum Source<S> {
    Plain(BodyReader<S>),
    // Boxed: the decoder's state is large, and there is one per download.
    Gzip(Box<GzipDecoder<BodyReader<S>>>),
}

impl<S> Source<S> {
    fn body(&self) -> &BodyReader<S> {
        match self {
            Source::Plain(reader) => reader,
            Source::Gzip(decoder) => decoder.get_ref(),
        }
    }
}

impl<S, E> AsyncRead for Source<S>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: Into<BoxError>,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Source::Plain(reader) => Pin::new(reader).poll_read(cx, buf),
            Source::Gzip(decoder) => Pin::new(decoder.as_mut()).poll_read(cx, buf),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyFailure {
    /// The body ended before its announced length, or the connection said it was cut.
    Truncated,
    /// More bytes than the limit.
    TooLarge,
    /// The stream failed otherwise (or sent more than its announced length).
    Broken,
    /// No chunk came within the idle timeout.
    Stalled,
}

/// An [`AsyncBufRead`] over a stream of chunks that counts, limits and classifies.
struct BodyReader<S> {
    stream: Pin<Box<S>>,
    chunk: Bytes,
    received: u64,
    content_length: Option<u64>,
    limit: u64,
    eof: bool,
    failure: Option<BodyFailure>,
    /// The longest wait for the next chunk, and its timer.
    idle: Option<(Duration, Pin<Box<tokio::time::Sleep>>)>,
    /// Whether a chunk is being waited for (the timer runs).
    waiting: bool,
}

impl<S, E> BodyReader<S>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: Into<BoxError>,
{
    fn fail(&mut self, failure: BodyFailure, error: io::Error) -> Poll<io::Result<()>> {
        self.failure = Some(failure);
        Poll::Ready(Err(error))
    }

    /// Makes `self.chunk` non-empty, unless the body has ended.
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.chunk.is_empty() && !self.eof {
            if let Some(failure) = self.failure {
                return Poll::Ready(Err(io::Error::other(format!(
                    "the body already failed ({failure:?})"
                ))));
            }
            if !self.waiting {
                // The wait for this chunk starts now (not at the last chunk: time spent
                // writing is not the connection's fault).
                self.waiting = true;
                if let Some((idle, timer)) = &mut self.idle {
                    timer.as_mut().reset(tokio::time::Instant::now() + *idle);
                }
            }
            let next = match self.stream.as_mut().poll_next(cx) {
                Poll::Ready(next) => next,
                Poll::Pending => {
                    if let Some((idle, timer)) = &mut self.idle {
                        if timer.as_mut().poll(cx).is_ready() {
                            let idle = *idle;
                            return self.fail(
                                BodyFailure::Stalled,
                                io::Error::new(
                                    io::ErrorKind::TimedOut,
                                    format!("no data for {idle:?}"),
                                ),
                            );
                        }
                    }
                    return Poll::Pending;
                }
            };
            self.waiting = false;
            match next {
                Some(Ok(bytes)) => {
                    self.received += bytes.len() as u64;
                    if self.received > self.limit {
                        return self.fail(
                            BodyFailure::TooLarge,
                            io::Error::other("the body is over the download limit"),
                        );
                    }
                    if let Some(length) = self.content_length.filter(|&l| self.received > l) {
                        return self.fail(
                            BodyFailure::Broken,
                            io::Error::other(format!(
                                "the body is longer than its Content-Length ({length})"
                            )),
                        );
                    }
                    self.chunk = bytes;
                }
                Some(Err(e)) => {
                    let e: BoxError = e.into();
                    let failure = if is_cut_short(&*e) {
                        BodyFailure::Truncated
                    } else {
                        BodyFailure::Broken
                    };
                    return self.fail(failure, io::Error::other(e));
                }
                None => {
                    self.eof = true;
                    if let Some(length) = self.content_length.filter(|&l| self.received < l) {
                        return self.fail(
                            BodyFailure::Truncated,
                            io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                format!("the body ended after {} of {length} bytes", self.received),
                            ),
                        );
                    }
                }
            }
        }
        Poll::Ready(Ok(()))
    }

    /// The first `n` bytes (fewer if the body is shorter), joining chunks if needed.
    fn poll_prefix(&mut self, cx: &mut Context<'_>, n: usize) -> Poll<io::Result<Bytes>> {
        loop {
            ready!(self.poll_chunk(cx))?;
            if self.chunk.len() >= n || self.eof {
                return Poll::Ready(Ok(self.chunk.slice(..n.min(self.chunk.len()))));
            }
            // A chunk shorter than `n`: join it with the next one.
            let head = std::mem::take(&mut self.chunk);
            ready!(self.poll_chunk(cx))?;
            let mut joined = Vec::with_capacity(head.len() + self.chunk.len());
            joined.extend_from_slice(&head);
            joined.extend_from_slice(&self.chunk);
            self.chunk = Bytes::from(joined);
        }
    }
}

/// Whether a body error means the peer closed before the end (hyper's "incomplete
/// message", or an unexpected EOF anywhere in the chain).
fn is_cut_short(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(hyper) = e.downcast_ref::<hyper::Error>() {
            if hyper.is_incomplete_message() {
                return true;
            }
        }
        if let Some(io) = e.downcast_ref::<io::Error>() {
            if io.kind() == io::ErrorKind::UnexpectedEof {
                return true;
            }
        }
        current = e.source();
    }
    false
}

impl<S, E> AsyncBufRead for BodyReader<S>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: Into<BoxError>,
{
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        ready!(this.poll_chunk(cx))?;
        Poll::Ready(Ok(&this.chunk))
    }

    fn consume(self: Pin<&mut Self>, amount: usize) {
        let this = self.get_mut();
        this.chunk.advance(amount.min(this.chunk.len()));
    }
}

impl<S, E> AsyncRead for BodyReader<S>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: Into<BoxError>,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_chunk(cx))?;
        let n = buf.remaining().min(this.chunk.len());
        buf.put_slice(&this.chunk[..n]);
        this.chunk.advance(n);
        Poll::Ready(Ok(()))
    }
}

/// A temporary file next to the target, removed on drop unless kept.
pub(crate) struct TempFile {
    pub(crate) path: PathBuf,
    keep: bool,
}

impl TempFile {
    /// Creates `.NAME.RANDOM.part` next to `target`, exclusively.
    pub(crate) async fn create(
        target: &Path,
    ) -> Result<(TempFile, tokio::fs::File), DownloadError> {
        let name = target.file_name().ok_or_else(|| {
            DownloadError::write(
                io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"),
                Some(target),
            )
        })?;
        let dir = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut last = None;
        for _ in 0..4 {
            let random = crate::crypto::random_nonce(12)
                .map_err(|e| DownloadError::write(io::Error::other(e), Some(target)))?;
            let mut temp_name = std::ffi::OsString::from(".");
            temp_name.push(name);
            temp_name.push(format!(".{random}.part"));
            let path = dir.join(temp_name);
            match tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .await
            {
                Ok(file) => return Ok((TempFile { path, keep: false }, file)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(DownloadError::write(e, Some(&path))),
            }
        }
        Err(DownloadError::write(
            last.unwrap_or_else(|| io::Error::other("no temporary name")),
            Some(target),
        ))
    }

    pub(crate) fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            // Best effort: the file may already be gone.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

// ---- errors ----------------------------------------------------------------------------------

/// Why a download failed (see [`DownloadError::kind`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DownloadErrorKind {
    /// The file's digest is not the announced one: it is corrupt or was altered.
    DigestMismatch {
        /// What the platform announced.
        expected: Digest,
        /// What the received bytes hash to.
        actual: Digest,
    },
    /// The body ended early: fewer bytes than its `Content-Length`, a connection closed
    /// mid-body, or a gzip stream without its end.
    Truncated {
        /// Bytes received before the end.
        received: u64,
        /// The announced length, if there was one.
        expected: Option<u64>,
    },
    /// The body is not valid gzip (or its gzip checksum does not match).
    Decompress,
    /// The file (or body) is larger than [`Download::max_size`].
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// No bytes came for longer than [`Download::idle_timeout`].
    Stalled {
        /// The idle timeout.
        idle: Duration,
    },
    /// Reading the body failed for another reason (connection reset, …).
    Body,
    /// Writing the file failed (disk full, permissions, rename).
    Write,
}

/// A failed download. Its [`kind`](DownloadError::kind) says why; the cause, if any, is
/// its [`source`](std::error::Error::source).
#[derive(Debug)]
pub struct DownloadError {
    kind: DownloadErrorKind,
    path: Option<PathBuf>,
    source: Option<BoxError>,
    /// Set by the client's file request: the connection failed before a byte was written,
    /// so another attempt is safe.
    pub(crate) retryable: bool,
}

impl DownloadError {
    pub(crate) fn new(kind: DownloadErrorKind, source: Option<BoxError>) -> DownloadError {
        DownloadError {
            kind,
            path: None,
            source,
            retryable: false,
        }
    }

    pub(crate) fn write(error: io::Error, path: Option<&Path>) -> DownloadError {
        DownloadError {
            kind: DownloadErrorKind::Write,
            path: path.map(Path::to_path_buf),
            source: Some(Box::new(error)),
            retryable: false,
        }
    }

    /// Why the download failed.
    pub fn kind(&self) -> &DownloadErrorKind {
        &self.kind
    }

    /// Whether the file failed its integrity check (digest mismatch): what the CLI
    /// reports as a verification failure.
    pub fn is_digest_mismatch(&self) -> bool {
        matches!(self.kind, DownloadErrorKind::DigestMismatch { .. })
    }

    /// The path a write failure concerns, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Whether the connection, not the file, failed (cut short, broken, silent): worth
    /// another attempt if nothing was written yet.
    pub(crate) fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            DownloadErrorKind::Truncated { .. }
                | DownloadErrorKind::Body
                | DownloadErrorKind::Stalled { .. }
        )
    }

    pub(crate) fn with_path(mut self, path: &Path) -> DownloadError {
        if self.kind == DownloadErrorKind::Write && self.path.is_none() {
            self.path = Some(path.to_path_buf());
        }
        self
    }
}

impl fmt::Display for DownloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            DownloadErrorKind::DigestMismatch { expected, actual } => write!(
                f,
                "the downloaded file's {} is {} but the platform announced {}: do not use it",
                expected.hash_type(),
                actual.to_hex(),
                expected.to_hex()
            ),
            DownloadErrorKind::Truncated {
                received,
                expected: Some(expected),
            } => write!(
                f,
                "the download ended early: {received} of {expected} bytes received"
            ),
            DownloadErrorKind::Truncated { received, expected: None } => write!(
                f,
                "the download ended early, after {received} bytes (the file is incomplete)"
            ),
            DownloadErrorKind::Decompress => f.write_str("the download is not valid gzip data"),
            DownloadErrorKind::TooLarge { limit } => write!(
                f,
                "the download is larger than the limit of {limit} bytes (raise it with Download::max_size)"
            ),
            DownloadErrorKind::Stalled { idle } => write!(
                f,
                "the download stalled: no data for {idle:?} (raise Download::idle_timeout for a slow link)"
            ),
            DownloadErrorKind::Body => f.write_str("reading the download failed"),
            DownloadErrorKind::Write => match &self.path {
                Some(path) => write!(f, "writing the download to {} failed", path.display()),
                None => f.write_str("writing the download failed"),
            },
        }
    }
}

impl std::error::Error for DownloadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A failed download as the crate's [`Error::Download`].
impl From<DownloadError> for Error {
    fn from(error: DownloadError) -> Error {
        Error::Download(Box::new(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    struct Chunks(VecDeque<Result<Bytes, io::Error>>);

    impl Stream for Chunks {
        type Item = Result<Bytes, io::Error>;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Ready(self.0.pop_front())
        }
    }

    fn chunks(data: &[u8], size: usize) -> Chunks {
        Chunks(
            data.chunks(size)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect(),
        )
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    async fn run(download: Download, body: Chunks) -> Result<(Downloaded, Vec<u8>), DownloadError> {
        let mut out = Vec::new();
        let done = download.to_writer(body, &mut out).await?;
        Ok((done, out))
    }

    #[test]
    fn known_digests() {
        assert_eq!(
            Digest::of(HashType::Sha1, b"abc").to_hex(),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        // GB/T 32905-2016, example 1.
        assert_eq!(
            Digest::of(HashType::Sm3, b"abc").to_hex(),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
        assert_eq!(
            Digest::of(HashType::Sha256, b"abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn hash_types_parse_like_the_platform_writes_them() {
        assert_eq!("SHA1".parse::<HashType>().unwrap(), HashType::Sha1);
        assert_eq!("sha-256".parse::<HashType>().unwrap(), HashType::Sha256);
        assert_eq!("SM3".parse::<HashType>().unwrap(), HashType::Sm3);
        let err = "MD5".parse::<HashType>().unwrap_err().to_string();
        assert!(err.contains("MD5"), "{err}");
    }

    #[test]
    fn links_check_their_parts() {
        let ok = |url| DownloadLink::new(url, HashType::Sha1, &"ab".repeat(20));
        assert_eq!(
            ok("https://h/v3/billdownload/file?token=a/b")
                .unwrap()
                .target(),
            "/v3/billdownload/file?token=a/b"
        );
        assert_eq!(ok("http://127.0.0.1:8080/x").unwrap().target(), "/x");
        assert!(ok("/v3/billdownload/file").is_err());
        assert!(ok("ftp://h/x").is_err());
        assert!(DownloadLink::new("https://h/x", HashType::Sha1, "zz").is_err());
        let debug = format!("{:?}", ok("https://h/x?token=secret").unwrap());
        assert!(!debug.contains("secret"), "{debug}");
    }

    #[tokio::test]
    async fn plain_and_gzip_in_odd_chunks() {
        let data: Vec<u8> = (0..300_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let digest = Digest::of(HashType::Sha1, &data);
        for (body, compression) in [
            (data.clone(), Compression::Auto),
            (data.clone(), Compression::None),
            (gzip(&data), Compression::Auto),
            (gzip(&data), Compression::Gzip),
        ] {
            for size in [1, 7, 65_536] {
                let (done, out) = run(
                    Download::new(digest.clone()).compression(compression),
                    chunks(&body, size),
                )
                .await
                .unwrap();
                assert_eq!(out, data);
                assert_eq!(done.received, body.len() as u64);
                assert_eq!(done.gzip, body[0] == 0x1f);
            }
        }
    }

    #[tokio::test]
    async fn failures_are_told_apart() {
        let data = b"`2026-11-29 10:00:00,`SUCCESS\r\n".repeat(5_000);
        let digest = Digest::of(HashType::Sha1, &data);
        let gz = gzip(&data);

        let wrong = Digest::of(HashType::Sha1, b"other");
        let e = run(Download::new(wrong), chunks(&data, 999))
            .await
            .unwrap_err();
        assert!(e.is_digest_mismatch(), "{e}");

        let e = run(
            Download::new(digest.clone()).content_length(Some(data.len() as u64 + 1)),
            chunks(&data, 999),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(
                e.kind(),
                DownloadErrorKind::Truncated {
                    expected: Some(_),
                    ..
                }
            ),
            "{e}"
        );

        let e = run(
            Download::new(digest.clone()),
            chunks(&gz[..gz.len() / 2], 999),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(
                e.kind(),
                DownloadErrorKind::Truncated { expected: None, .. }
            ),
            "{e}"
        );

        let mut bad = gz.clone();
        crate::sandbox::bills::BillFault::corrupt_gzip(&mut bad);
        let e = run(Download::new(digest.clone()), chunks(&bad, 999))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), &DownloadErrorKind::Decompress, "{e}");

        let e = run(
            Download::new(digest.clone()).compression(Compression::Gzip),
            chunks(&data, 999),
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind(), &DownloadErrorKind::Decompress, "{e}");

        let e = run(
            Download::new(digest.clone()).max_size(1000),
            chunks(&gz, 100),
        )
        .await
        .unwrap_err();
        assert_eq!(
            e.kind(),
            &DownloadErrorKind::TooLarge { limit: 1000 },
            "{e}"
        );

        let mut broken = chunks(&data, 999);
        broken.0.insert(
            3,
            Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset")),
        );
        let e = run(Download::new(digest.clone()), broken)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), &DownloadErrorKind::Body, "{e}");
        assert!(std::error::Error::source(&e).is_some());
    }

    /// A stream that yields its chunks, then never ends.
    struct Silent(VecDeque<Bytes>);

    impl Stream for Silent {
        type Item = Result<Bytes, io::Error>;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            match self.0.pop_front() {
                Some(chunk) => Poll::Ready(Some(Ok(chunk))),
                None => Poll::Pending,
            }
        }
    }

    #[tokio::test]
    async fn a_silent_body_stalls_after_the_idle_timeout() {
        let body = Silent(VecDeque::from([Bytes::from_static(b"`2026-11-29,`1\r\n")]));
        let mut sink = tokio::io::sink();
        let download = Download::new(Digest::of(HashType::Sha1, b""))
            .idle_timeout(Some(Duration::from_millis(50)))
            .to_writer(body, &mut sink);
        let e = download.await.unwrap_err();
        assert_eq!(
            e.kind(),
            &DownloadErrorKind::Stalled {
                idle: Duration::from_millis(50)
            }
        );
        assert!(e.to_string().contains("no data for 50ms"), "{e}");
    }

    #[tokio::test]
    async fn progress_is_reported() {
        let data = vec![b'x'; 1_000_000];
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        let (tx, rx) = tokio::sync::watch::channel(Progress::default());
        run(
            Download::new(Digest::of(HashType::Sm3, &data))
                .content_length(Some(data.len() as u64))
                .buffer_size(100_000)
                .on_progress(move |p| record.lock().unwrap().push(p))
                .watch_progress(tx),
            chunks(&data, 30_000),
        )
        .await
        .unwrap();
        let seen = seen.lock().unwrap();
        assert!(seen.len() >= 10);
        assert!(seen.windows(2).all(|w| w[0].written < w[1].written));
        let last = *rx.borrow();
        assert_eq!(last, *seen.last().unwrap());
        assert_eq!(last.written, 1_000_000);
        assert_eq!(last.received, 1_000_000);
        assert_eq!(last.total, Some(1_000_000));
    }
}
