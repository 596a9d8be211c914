//! Both steps of a bill or receipt download through a client: the signed call that
//! answers `{download_url, hash_type, hash_value}`, then the signed file request whose
//! body streams through a [`Download`] to its destination.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::{
    Compression, Download, DownloadError, DownloadLink, Downloaded, HashType, Progress, TempFile,
};
use crate::client::Wechatpay;
use crate::error::Error;
use crate::request::RequestBuilder;
use crate::retry::RetryPolicy;

impl Wechatpay {
    /// Starts a download of a bill or receipt: name the file with a step-one call
    /// ([`tradebill`](DownloadBuilder::tradebill), [`fundflowbill`](DownloadBuilder::fundflowbill),
    /// [`profitsharing_bill`](DownloadBuilder::profitsharing_bill), any
    /// [`request`](DownloadBuilder::request) answering a download link) or a
    /// [`link`](DownloadBuilder::link) you already have, then write it with
    /// [`to_path`](DownloadBuilder::to_path) or [`to_writer`](DownloadBuilder::to_writer).
    ///
    /// The step-one answer is verified like any answer; the file's body is streamed (never
    /// held whole, whatever its size), decompressed if it is gzip, and checked against the
    /// announced digest. To a path, it goes through a temporary file renamed only once the
    /// digest matches, so a failed download leaves nothing behind.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// let sandbox = wechatpay::sandbox::Sandbox::start().await?;
    /// let dir = std::env::temp_dir().join(format!("wechatpay-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).map_err(|e| wechatpay::Error::Config { message: e.to_string() })?;
    ///
    /// let done = sandbox.client()
    ///     .download()
    ///     .tradebill("2026-11-29")
    ///     .bill_type("ALL")
    ///     .gzip()
    ///     .to_path(dir.join("tradebill.csv"))
    ///     .await?;
    /// assert!(done.gzip && done.bytes > 0); // decompressed, and its SHA-1 checked
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok(()) }
    /// ```
    pub fn download(&self) -> DownloadBuilder {
        self.start_refresher();
        DownloadBuilder {
            client: self.clone(),
            source: None,
            query: Vec::new(),
            settings: Settings::default(),
            error: None,
        }
    }
}

/// Where the file comes from.
enum Source {
    /// A step-one call answering `{download_url, hash_type, hash_value}`.
    Request(Box<RequestBuilder>),
    /// A link already known.
    Link(DownloadLink),
}

/// What the [`Download`] of the file is made with, once its digest is known.
struct Settings {
    compression: Compression,
    max_size: Option<u64>,
    buffer_size: Option<usize>,
    idle_timeout: Option<Option<Duration>>,
    sync: bool,
    on_progress: Option<Box<dyn FnMut(Progress) + Send>>,
    progress_tx: Option<tokio::sync::watch::Sender<Progress>>,
    retry: Option<RetryPolicy>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            compression: Compression::Auto,
            max_size: None,
            buffer_size: None,
            idle_timeout: None,
            sync: true,
            on_progress: None,
            progress_tx: None,
            retry: None,
        }
    }
}

/// A bill or receipt download being configured (see [`Wechatpay::download`]).
///
/// Settings that go wrong (no source, two sources, a bad link) are reported when it runs,
/// as with [`RequestBuilder`].
#[must_use = "a DownloadBuilder does nothing until .to_path(…) or .to_writer(…) is awaited"]
pub struct DownloadBuilder {
    client: Wechatpay,
    source: Option<Source>,
    /// Query parameters added to the step-one call (`bill_type`, `tar_type`, ...).
    query: Vec<(String, String)>,
    settings: Settings,
    error: Option<Error>,
}

impl DownloadBuilder {
    fn fail(&mut self, error: Error) {
        if self.error.is_none() {
            self.error = Some(error);
        }
    }

    fn set_source(mut self, source: Source) -> Self {
        if self.source.is_some() {
            self.fail(Error::request(
                "a download has one source: a bill (tradebill, fundflowbill, ...), a request, \
                 or a link; this one was given two",
            ));
        } else {
            self.source = Some(source);
        }
        self
    }

    fn bill(self, template: &str, bill_date: &str) -> Self {
        let request = self
            .client
            .chain(template)
            .get()
            .query("bill_date", bill_date);
        self.set_source(Source::Request(Box::new(request)))
    }

    /// The trade bill of `bill_date` (`YYYY-MM-DD`): `GET v3/bill/tradebill`. Narrow it
    /// with [`bill_type`](Self::bill_type) (`ALL`, `SUCCESS`, `REFUND`) and
    /// [`sub_mchid`](Self::sub_mchid).
    pub fn tradebill(self, bill_date: &str) -> Self {
        self.bill("v3/bill/tradebill", bill_date)
    }

    /// The fund-flow bill of `bill_date`: `GET v3/bill/fundflowbill`. Choose the account
    /// with [`account_type`](Self::account_type) (`BASIC`, `OPERATION`, `FEES`).
    pub fn fundflowbill(self, bill_date: &str) -> Self {
        self.bill("v3/bill/fundflowbill", bill_date)
    }

    /// The profit-sharing bill of `bill_date`: `GET v3/profitsharing/bills`.
    pub fn profitsharing_bill(self, bill_date: &str) -> Self {
        self.bill("v3/profitsharing/bills", bill_date)
    }

    /// Any step-one call whose answer is `{download_url, hash_type, hash_value}`: a transfer
    /// receipt (`v3/transfer/bill-receipt/{out_batch_no}`,
    /// `v3/transfer-detail/electronic-receipts`), an e-commerce bill, a bill endpoint newer
    /// than this client.
    pub fn request(self, request: RequestBuilder) -> Self {
        self.set_source(Source::Request(Box::new(request)))
    }

    /// A link already known (saved from an earlier answer, or from another system): step
    /// one is skipped.
    pub fn link(self, link: DownloadLink) -> Self {
        self.set_source(Source::Link(link))
    }

    /// A `download_url` and its announced digest, as [`link`](Self::link); a malformed URL
    /// or digest is reported when the download runs.
    pub fn url(mut self, download_url: &str, hash_type: HashType, hash_value: &str) -> Self {
        match DownloadLink::new(download_url, hash_type, hash_value) {
            Ok(link) => self.set_source(Source::Link(link)),
            Err(error) => {
                self.fail(error);
                self
            }
        }
    }

    /// Adds `name=value` to the step-one call's query.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    /// `bill_type` of a trade bill: `ALL` (default on the platform), `SUCCESS`, `REFUND`.
    pub fn bill_type(self, bill_type: &str) -> Self {
        self.query("bill_type", bill_type)
    }

    /// `account_type` of a fund-flow bill: `BASIC` (default on the platform), `OPERATION`,
    /// `FEES`.
    pub fn account_type(self, account_type: &str) -> Self {
        self.query("account_type", account_type)
    }

    /// `sub_mchid`: a service provider's sub-merchant.
    pub fn sub_mchid(self, sub_mchid: &str) -> Self {
        self.query("sub_mchid", sub_mchid)
    }

    /// Asks for the file gzip-compressed (`tar_type=GZIP`): less to transfer; it is
    /// decompressed on the fly and the digest checked over the decompressed bytes.
    pub fn gzip(self) -> Self {
        self.query("tar_type", "GZIP")
    }

    /// Whether the body is gzip (default [`Compression::Auto`]: by its first bytes).
    pub fn compression(mut self, compression: Compression) -> Self {
        self.settings.compression = compression;
        self
    }

    /// The largest file accepted (default [`DEFAULT_MAX_DOWNLOAD_SIZE`](super::DEFAULT_MAX_DOWNLOAD_SIZE)).
    /// The client's maximum response size does not apply to files.
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.settings.max_size = Some(bytes);
        self
    }

    /// The buffer the file passes through (default [`DEFAULT_BUFFER_SIZE`](super::DEFAULT_BUFFER_SIZE)).
    pub fn buffer_size(mut self, bytes: usize) -> Self {
        self.settings.buffer_size = Some(bytes);
        self
    }

    /// The longest wait for the file's next bytes (default
    /// [`DEFAULT_IDLE_TIMEOUT`](super::DEFAULT_IDLE_TIMEOUT); `None` waits forever). The
    /// client's total timeout covers step one and the file's answer head, not its body.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.idle_timeout = Some(timeout);
        self
    }

    /// Calls `f` as the file arrives (bytes received and written, and the total when the
    /// answer announced it).
    pub fn on_progress(mut self, f: impl FnMut(Progress) + Send + 'static) -> Self {
        self.settings.on_progress = Some(Box::new(f));
        self
    }

    /// Publishes progress on a watch channel (for a progress bar on another task).
    pub fn watch_progress(mut self, sender: tokio::sync::watch::Sender<Progress>) -> Self {
        self.settings.progress_tx = Some(sender);
        self
    }

    /// Whether [`to_path`](Self::to_path) syncs the file to disk before renaming it into
    /// place (default `true`).
    pub fn sync_to_disk(mut self, sync: bool) -> Self {
        self.settings.sync = sync;
        self
    }

    /// The retry policy of both requests (default: the client's). Step one is retried like
    /// any GET; the file request only while nothing of the file has been written.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.settings.retry = Some(policy);
        self
    }

    /// Runs step one only and returns the link (to save, or to download elsewhere).
    ///
    /// # Errors
    ///
    /// [`Error::Request`] for a builder without a source (or with two); the errors of the
    /// step-one call ([`Error::Api`], [`Error::Verification`], ...); [`Error::Decode`] if its
    /// answer is not a download link (a receipt that is still `GENERATING` says so; bills
    /// the platform encrypts, `download_bill_list` with `encrypt_key`, are not supported).
    pub async fn fetch_link(mut self) -> Result<DownloadLink, Error> {
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        let query = std::mem::take(&mut self.query);
        let retry = self.settings.retry;
        match self.source.take() {
            Some(Source::Link(link)) => Ok(link),
            Some(Source::Request(request)) => {
                let mut request = *request;
                for (name, value) in query {
                    request = request.query(name, value);
                }
                if let Some(policy) = retry {
                    request = request.retry(policy);
                }
                let answer = request.send().await?;
                link_from(answer.bytes())
            }
            None => Err(Error::request(
                "the download has no source: call .tradebill(date), .fundflowbill(date), \
                 .profitsharing_bill(date), .request(…) or .link(…)",
            )),
        }
    }

    /// Step one (if any), then the file request, ready to run.
    async fn prepare(mut self) -> Result<(RequestBuilder, Download), Error> {
        let settings = std::mem::take(&mut self.settings);
        let client = self.client.clone();
        let link = self.fetch_link().await?;
        let mut download = Download::from_link(&link).compression(settings.compression);
        if let Some(bytes) = settings.max_size {
            download = download.max_size(bytes);
        }
        if let Some(bytes) = settings.buffer_size {
            download = download.buffer_size(bytes);
        }
        if let Some(timeout) = settings.idle_timeout {
            download = download.idle_timeout(timeout);
        }
        if let Some(f) = settings.on_progress {
            download = download.on_progress(f);
        }
        if let Some(tx) = settings.progress_tx {
            download = download.watch_progress(tx);
        }
        download = download.sync_to_disk(settings.sync);
        let mut request =
            RequestBuilder::for_url(Arc::clone(&client.inner.pipeline), link.download_url());
        if let Some(policy) = settings.retry {
            request = request.retry(policy);
        }
        Ok((request, download))
    }

    /// Downloads into `writer`: decompressed, digested, checked, flushed.
    ///
    /// The writer sees the bytes before the digest is known: on any error, discard what
    /// it received ([`to_path`](Self::to_path) does that for files).
    ///
    /// # Errors
    ///
    /// As [`fetch_link`](Self::fetch_link); the transport and API errors of the file
    /// request; [`Error::Download`] once the file's answer has begun (digest mismatch,
    /// truncation, bad gzip, over the limit, stalled, a failing writer).
    pub async fn to_writer<W>(self, writer: &mut W) -> Result<Downloaded, Error>
    where
        W: AsyncWrite + Unpin + Send + ?Sized,
    {
        let (request, mut download) = self.prepare().await?;
        let done = request.download_into(&mut download, writer).await?;
        writer
            .flush()
            .await
            .map_err(|e| Error::from(DownloadError::write(e, None)))?;
        Ok(done)
    }

    /// Downloads to the file at `path`, through a temporary file in the same directory
    /// (`.NAME.RANDOM.part`) renamed to `path` only once the digest matches. On any error
    /// (or if the future is dropped) the temporary file is removed and a file already at
    /// `path` is left as it was.
    ///
    /// # Errors
    ///
    /// As [`to_writer`](Self::to_writer), and [`Error::Download`] of kind
    /// [`Write`](super::DownloadErrorKind::Write) if the file cannot be created, written,
    /// synced or renamed.
    pub async fn to_path(self, path: impl AsRef<Path>) -> Result<Downloaded, Error> {
        let path = path.as_ref();
        let (request, mut download) = self.prepare().await?;
        // Declared before `file`, so dropped after it: the file is closed before removal.
        let (mut temp, mut file) = TempFile::create(path).await?;
        let written = async {
            let done = request.download_into(&mut download, &mut file).await?;
            file.flush()
                .await
                .map_err(|e| DownloadError::write(e, None))?;
            if download.syncs_to_disk() {
                file.sync_all()
                    .await
                    .map_err(|e| DownloadError::write(e, None))?;
            }
            Ok::<_, Error>(done)
        }
        .await;
        drop(file);
        let done = written.map_err(|error| match error {
            Error::Download(download) => Error::from(download.with_path(&temp.path)),
            other => other,
        })?;
        tokio::fs::rename(&temp.path, path)
            .await
            .map_err(|e| DownloadError::write(e, Some(path)))?;
        temp.keep();
        Ok(done)
    }
}

/// The link in a step-one answer; a list of encrypted files is refused by name.
fn link_from(body: &[u8]) -> Result<DownloadLink, Error> {
    if let Ok(Value::Object(answer)) = serde_json::from_slice::<Value>(body) {
        if let Some(Value::Array(files)) = answer.get("download_bill_list") {
            if files.iter().any(|f| f.get("encrypt_key").is_some()) {
                return Err(Error::decode(
                    format!(
                        "the answer lists {} encrypted bill file(s) (download_bill_list with \
                         encrypt_key and nonce): decrypting them is not supported by this client; \
                         each file's download_url can be fetched with a signed GET",
                        files.len()
                    ),
                    None,
                ));
            }
            if let [only] = files.as_slice() {
                return DownloadLink::from_json(only.to_string().as_bytes());
            }
        }
    }
    DownloadLink::from_json(body)
}

impl fmt::Debug for DownloadBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            Some(Source::Request(request)) => format!("request {}", request.template()),
            Some(Source::Link(link)) => format!("{link:?}"),
            None => "none".to_owned(),
        };
        f.debug_struct("DownloadBuilder")
            .field("source", &source)
            .field(
                "query",
                &self.query.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .field("compression", &self.settings.compression)
            .field("max_size", &self.settings.max_size)
            .field("idle_timeout", &self.settings.idle_timeout)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}
