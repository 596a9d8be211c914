//! Bills: `v3/bill/tradebill`, `v3/bill/fundflowbill` and `v3/profitsharing/bills` answer a
//! signed `{download_url, hash_type, hash_value}` whose `download_url` points at the
//! sandbox itself, and `v3/billdownload/file?token=…` serves the generated file, plain or
//! gzip (`tar_type=GZIP`), streamed from a generator on a blocking thread (or from a disk
//! cache, see [`BillServing::cache_dir`]) so that a bill of any size takes a few chunks of
//! memory. [`BillServing`] says how large the bills are and how they misbehave.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::{HeaderMap, Response, StatusCode};
use serde_json::json;

use super::{Body, Routed};
use crate::sandbox::bills::{BillDigest, BillFault, BillKind, BillSpec};
use crate::sandbox::decode::query_pairs;
use crate::sandbox::routes::Answer;
use crate::sandbox::{Sandbox, State};

/// How many issued download links the sandbox remembers (the oldest are forgotten).
const ISSUED_LIMIT: usize = 256;
/// How many bills' digests the sandbox keeps (computing one is a generation pass).
const DIGEST_LIMIT: usize = 32;
/// The size of the pieces a cached file is read in.
const CACHE_CHUNK: usize = 256 << 10;

/// How the sandbox serves bills: their size, seed, gzip level, a misbehaviour, and an
/// optional disk cache. Set with [`Sandbox::serve_bills`]; links already issued keep the
/// serving they were issued under.
///
/// ```
/// use wechatpay::sandbox::BillServing;
/// use wechatpay::sandbox::bills::BillFault;
///
/// let big = BillServing::new().approx_bytes(1 << 30).gzip_level(1);
/// let broken = BillServing::new().rows(1_000).fault(BillFault::Truncate { after: 4096 });
/// # let _ = (big, broken);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillServing {
    rows: Option<u64>,
    bytes: Option<u64>,
    seed: u64,
    gzip_level: u32,
    fault: Option<BillFault>,
    cache_dir: Option<PathBuf>,
}

impl Default for BillServing {
    fn default() -> BillServing {
        BillServing {
            rows: Some(10),
            bytes: None,
            seed: 0,
            gzip_level: 6,
            fault: None,
            cache_dir: None,
        }
    }
}

impl BillServing {
    /// Bills of 10 records, seed 0, gzip level 6 when gzip is asked for, no fault.
    pub fn new() -> BillServing {
        BillServing::default()
    }

    /// Bills of exactly `rows` records.
    #[must_use]
    pub fn rows(mut self, rows: u64) -> BillServing {
        self.rows = Some(rows);
        self.bytes = None;
        self
    }

    /// Bills of about `bytes` bytes (uncompressed), e.g. `1 << 30` for a 1 GiB bill.
    #[must_use]
    pub fn approx_bytes(mut self, bytes: u64) -> BillServing {
        self.bytes = Some(bytes);
        self.rows = None;
        self
    }

    /// Another seed gives other (equally deterministic) records.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> BillServing {
        self.seed = seed;
        self
    }

    /// The gzip level (0-9) of bills asked for with `tar_type=GZIP` (default 6).
    #[must_use]
    pub fn gzip_level(mut self, level: u32) -> BillServing {
        self.gzip_level = level.min(9);
        self
    }

    /// Serve bills with this misbehaviour.
    #[must_use]
    pub fn fault(mut self, fault: BillFault) -> BillServing {
        self.fault = Some(fault);
        self
    }

    /// Generate each file once into `dir` and serve it from there (streamed from disk),
    /// instead of generating it for every request: for benchmarks, where the sandbox's own
    /// generation and compression would otherwise be what is measured. Files are named by
    /// their spec and stay in `dir`. Not used for [`BillFault::CorruptGzip`].
    #[must_use]
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> BillServing {
        self.cache_dir = Some(dir.into());
        self
    }
}

impl Sandbox {
    /// Sets how bills are served from now on (see [`BillServing`]): their size, gzip level
    /// and misbehaviour. `v3/bill/tradebill`, `v3/bill/fundflowbill` and
    /// `v3/profitsharing/bills` answer a link to the sandbox's own `v3/billdownload/file`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// use wechatpay::sandbox::{bills::BillFault, BillServing, Sandbox};
    ///
    /// let sandbox = Sandbox::start().await?;
    /// sandbox.serve_bills(BillServing::new().rows(100).fault(BillFault::WrongDigest));
    /// let mut sink = Vec::new();
    /// let error = sandbox.client().download().tradebill("2026-11-29")
    ///     .to_writer(&mut sink).await.unwrap_err();
    /// assert!(error.is_verification()); // the digest does not match
    /// # Ok(()) }
    /// ```
    pub fn serve_bills(&self, serving: BillServing) {
        *self
            .state
            .files
            .serving
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = serving;
    }
}

/// A link the sandbox issued: what its file is and how it is served.
#[derive(Clone)]
struct Issued {
    spec: BillSpec,
    gzip_level: Option<u32>,
    fault: Option<BillFault>,
    digest: Arc<BillDigest>,
    cache_dir: Option<PathBuf>,
}

/// The sandbox's bill state: its own address, the serving in force, the links issued,
/// the digests computed.
#[derive(Default)]
pub(crate) struct Files {
    origin: OnceLock<String>,
    serving: Mutex<BillServing>,
    issued: Mutex<VecDeque<(String, Issued)>>,
    digests: Mutex<HashMap<BillSpec, Arc<BillDigest>>>,
    /// Held while a cache file is generated, so it is generated once.
    generating: Mutex<()>,
}

impl fmt::Debug for Files {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Files")
            .field("origin", &self.origin.get())
            .finish_non_exhaustive()
    }
}

impl Files {
    /// Records the sandbox's own origin, `http://addr` or `https://addr` (for the links
    /// it issues).
    pub(crate) fn set_origin(&self, origin: String) {
        let _ = self.origin.set(origin);
    }

    fn issue(&self, issued: Issued) -> Option<String> {
        let token = crate::crypto::random_nonce(40).ok()?;
        let mut all = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        if all.len() >= ISSUED_LIMIT {
            all.pop_front();
        }
        all.push_back((token.clone(), issued));
        Some(token)
    }

    fn issued(&self, token: &str) -> Option<Issued> {
        let all = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        all.iter().find(|(t, _)| t == token).map(|(_, i)| i.clone())
    }

    async fn digest(&self, spec: &BillSpec) -> Option<Arc<BillDigest>> {
        if let Some(known) = self
            .digests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(spec)
        {
            return Some(Arc::clone(known));
        }
        let owned = spec.clone();
        let digest = Arc::new(
            tokio::task::spawn_blocking(move || owned.digest())
                .await
                .ok()?,
        );
        let mut digests = self.digests.lock().unwrap_or_else(|e| e.into_inner());
        if digests.len() >= DIGEST_LIMIT {
            digests.clear();
        }
        digests.insert(spec.clone(), Arc::clone(&digest));
        Some(digest)
    }
}

/// The bill routes: step one for the three bill endpoints, the file for issued tokens.
pub(crate) async fn answer(
    state: &State,
    headers: &HeaderMap,
    path: &str,
    query: &str,
) -> Option<Routed> {
    let query = query_pairs(query);
    let get = |name: &str| {
        query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    if path == "v3/billdownload/file" {
        let issued = state.files.issued(get("token")?)?;
        return Some(Routed::File(file(state, issued).await));
    }
    let kind = match path {
        "v3/bill/tradebill" => match get("bill_type").unwrap_or("ALL") {
            "ALL" => BillKind::TradeAll,
            "SUCCESS" => BillKind::TradeSuccess,
            "REFUND" => BillKind::TradeRefund,
            other => return Some(Routed::Answer(invalid("bill_type", other))),
        },
        "v3/bill/fundflowbill" => match get("account_type").unwrap_or("BASIC") {
            "BASIC" | "OPERATION" | "FEES" => BillKind::FundFlow,
            other => return Some(Routed::Answer(invalid("account_type", other))),
        },
        "v3/profitsharing/bills" => BillKind::ProfitSharing,
        _ => return None,
    };
    // Without a date the catalog route answers the platform's 400 naming it.
    let date = get("bill_date").filter(|d| !d.is_empty())?;
    if !is_date(date) {
        return Some(Routed::Answer(invalid("bill_date", date)));
    }
    let gzip = match get("tar_type") {
        None | Some("") => false,
        Some("GZIP") => true,
        Some(other) => return Some(Routed::Answer(invalid("tar_type", other))),
    };
    let serving = state
        .files
        .serving
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    // Each account and bill type is a bill of its own.
    let variant = match (get("bill_type"), get("account_type")) {
        (Some("SUCCESS"), _) | (_, Some("OPERATION")) => 1,
        (Some("REFUND"), _) | (_, Some("FEES")) => 2,
        _ => 0,
    };
    let mut spec = BillSpec::new(kind, date)
        .seed(serving.seed.wrapping_add(variant))
        .mchid(&state.merchant_id);
    spec = match (serving.rows, serving.bytes) {
        (_, Some(bytes)) => spec.approx_bytes(bytes),
        (Some(rows), None) => spec.rows(rows),
        (None, None) => spec,
    };
    let Some(digest) = state.files.digest(&spec).await else {
        return Some(Routed::Answer(Answer::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SYSTEM_ERROR",
            "the sandbox could not generate the bill",
        )));
    };
    let hash_value = match &serving.fault {
        Some(fault) => fault.hash_value(&digest),
        None => digest.sha1_hex(),
    };
    let issued = Issued {
        spec,
        gzip_level: gzip.then_some(serving.gzip_level),
        fault: serving.fault,
        digest,
        cache_dir: serving.cache_dir,
    };
    let Some(token) = state.files.issue(issued) else {
        return Some(Routed::Answer(Answer::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SYSTEM_ERROR",
            "no randomness for a token",
        )));
    };
    // The sandbox's own address; the Host the client used if it is not known yet.
    let origin = match state.files.origin.get() {
        Some(origin) => origin.clone(),
        None => format!(
            "http://{}",
            headers
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1")
        ),
    };
    Some(Routed::Answer(Answer::json(
        StatusCode::OK,
        &json!({
            "hash_type": "SHA1",
            "hash_value": hash_value,
            "download_url": format!("{origin}/v3/billdownload/file?token={token}"),
        }),
    )))
}

fn invalid(name: &str, value: &str) -> Answer {
    Answer::json(
        StatusCode::BAD_REQUEST,
        &json!({
            "code": "PARAM_ERROR",
            "message": format!("参数错误 (query parameter {name} has an invalid value `{value}`)"),
            "detail": { "field": name, "location": "query" },
        }),
    )
}

fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// The file of an issued link: headers now, the body streamed from a blocking thread.
async fn file(state: &State, issued: Issued) -> Response<Body> {
    let served = issued
        .spec
        .served(&issued.digest, issued.gzip_level, issued.fault.as_ref());
    let cacheable = !matches!(issued.fault, Some(BillFault::CorruptGzip));
    let cached = match (&issued.cache_dir, cacheable) {
        (Some(dir), true) => {
            let dir = dir.clone();
            let files = Arc::clone(&state.files);
            let spec = issued.spec.clone();
            let level = issued.gzip_level;
            tokio::task::spawn_blocking(move || cache_file(&files, &dir, &spec, level))
                .await
                .ok()
                .and_then(Result::ok)
        }
        _ => None,
    };
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let cut_after = served.cut_after;
    let pace = served.pace;
    let content_length = served.content_length;
    let generated = served.body;
    tokio::task::spawn_blocking(move || {
        let chunks: Box<dyn Iterator<Item = io::Result<Vec<u8>>>> = match cached {
            Some(path) => match std::fs::File::open(&path) {
                Ok(file) => Box::new(FileChunks(file)),
                Err(e) => Box::new(std::iter::once(Err(e))),
            },
            None => Box::new(generated),
        };
        stream(chunks, cut_after, pace, &tx);
    });
    let mut response = Response::new(Body::Stream(rx));
    let headers = response.headers_mut();
    let content_type = if issued.gzip_level.is_some() {
        "application/x-gzip"
    } else {
        "text/plain;charset=utf-8"
    };
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(length) = content_length {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    }
    if let Ok(id) = crate::crypto::random_nonce(32) {
        if let Ok(value) = HeaderValue::from_str(&id.to_ascii_uppercase()) {
            headers.insert("Request-ID", value);
        }
    }
    *response.status_mut() = StatusCode::OK;
    response
}

/// Sends `chunks` down `tx`, paced and cut as the fault says. Ends when the receiver goes
/// (the client disconnected).
fn stream(
    chunks: Box<dyn Iterator<Item = io::Result<Vec<u8>>>>,
    cut_after: Option<u64>,
    pace: Option<(usize, Duration)>,
    tx: &tokio::sync::mpsc::Sender<Result<Bytes, io::Error>>,
) {
    let mut sent = 0u64;
    for chunk in chunks {
        let chunk = match chunk {
            Ok(chunk) => Bytes::from(chunk),
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        let pieces: Vec<Bytes> = match pace {
            Some((size, _)) => (0..chunk.len())
                .step_by(size)
                .map(|at| chunk.slice(at..(at + size).min(chunk.len())))
                .collect(),
            None => vec![chunk],
        };
        for mut piece in pieces {
            if let Some(cut) = cut_after {
                let left = cut.saturating_sub(sent);
                if (piece.len() as u64) >= left {
                    piece.truncate(left as usize);
                    if !piece.is_empty() {
                        let _ = tx.blocking_send(Ok(piece));
                    }
                    // Let what was sent reach the wire first (hyper would otherwise drop
                    // the connection before flushing the head), then end the body with an
                    // error: hyper drops the connection mid-file.
                    std::thread::sleep(Duration::from_millis(100));
                    let _ = tx.blocking_send(Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "the sandbox cut the bill short (BillFault::Truncate)",
                    )));
                    return;
                }
            }
            sent += piece.len() as u64;
            if tx.blocking_send(Ok(piece)).is_err() {
                return;
            }
            if let Some((_, pause)) = pace {
                std::thread::sleep(pause);
            }
        }
    }
}

/// A file read in [`CACHE_CHUNK`] pieces.
struct FileChunks(std::fs::File);

impl Iterator for FileChunks {
    type Item = io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<io::Result<Vec<u8>>> {
        let mut buf = vec![0u8; CACHE_CHUNK];
        let mut filled = 0;
        while filled < buf.len() {
            match self.0.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Some(Err(e)),
            }
        }
        if filled == 0 {
            return None;
        }
        buf.truncate(filled);
        Some(Ok(buf))
    }
}

/// The cache file of `spec` (gzip at `level`, or plain) in `dir`, generated once.
fn cache_file(
    files: &Files,
    dir: &std::path::Path,
    spec: &BillSpec,
    level: Option<u32>,
) -> io::Result<PathBuf> {
    let _once = files.generating.lock().unwrap_or_else(|e| e.into_inner());
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    std::hash::Hash::hash(spec, &mut hasher);
    let name = format!(
        "bill-{:016x}{}",
        std::hash::Hasher::finish(&hasher),
        match level {
            Some(level) => format!(".gz{level}"),
            None => ".csv".to_owned(),
        }
    );
    let path = dir.join(name);
    if path.exists() {
        return Ok(path);
    }
    std::fs::create_dir_all(dir)?;
    let temp = dir.join(format!(
        ".{}.part",
        crate::crypto::random_nonce(12).unwrap_or_default()
    ));
    let written = (|| {
        let mut out = io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&temp)?);
        spec.write_to(&mut out, level)?;
        out.flush()?;
        out.get_ref().sync_all()
    })();
    match written {
        Ok(()) => {
            std::fs::rename(&temp, &path)?;
            Ok(path)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
    }
}
