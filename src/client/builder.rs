//! [`WechatpayBuilder`]: every setting of a client, checked at once by `build()`.

#[cfg(feature = "apiv2")]
mod v2;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;

use super::refresh::Refresher;
use super::{Inner, Wechatpay, BACKUP_BASE_URL, DEFAULT_BASE_URL};
use crate::clock::Clock;
use crate::crypto::{Apiv3Key, Certificate, PrivateKey, PublicKey};
use crate::error::Error;
use crate::request::{Pipeline, Retries};
use crate::retry::{Budget, RetryBudget, RetryPolicy, Sleep};
use crate::transport::{
    default_sender, BaseUrl, Failover, HttpSend, HttpSettings, Proxy, Timeouts, TlsSettings,
    Transport, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_RESPONSE_SIZE,
};
use crate::verify::{check_id, Verifier};

/// Configures a [`Wechatpay`]. Nothing is checked until [`build`](Self::build), which
/// checks everything at once.
///
/// ```
/// use wechatpay::{sandbox, PrivateKey, PublicKey, Wechatpay};
///
/// let wxpay = Wechatpay::builder()
///     .mchid("1900000001")
///     .serial(sandbox::MERCHANT_SERIAL)
///     .private_key(PrivateKey::from_pem(sandbox::MERCHANT_PRIVATE_KEY_PEM)?)
///     .platform_key(sandbox::PLATFORM_SERIAL, PublicKey::from_pem(sandbox::PLATFORM_PUBLIC_KEY_PEM)?)
///     .build()?;
/// assert_eq!(wxpay.base_url(), "https://api.mch.weixin.qq.com/");
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Default)]
#[must_use = "a WechatpayBuilder does nothing until .build() makes the client"]
pub struct WechatpayBuilder {
    mchid: Option<String>,
    serial: Option<String>,
    key: Option<PrivateKey>,
    platform_keys: Vec<(String, PublicKey)>,
    certificates: Vec<Certificate>,
    base_url: Option<String>,
    backup: Backup,
    timeouts: Option<Timeouts>,
    max_response_size: Option<usize>,
    max_in_flight: Option<usize>,
    user_agent: Option<String>,
    apiv3_key: Option<String>,
    clock: Option<Clock>,
    strict: bool,
    refresh_interval: Option<Duration>,
    retry: Option<RetryPolicy>,
    retry_budget: Option<RetryBudget>,
    retry_sleep: Option<Sleep>,
    failover: Option<Failover>,
    proxy: ProxyChoice,
    resolve: HashMap<String, Vec<SocketAddr>>,
    tls: TlsSettings,
    http_sender: Option<Arc<dyn HttpSend>>,
    http_wrappers: Vec<Wrapper>,
    /// The APIv2 key and merchant certificate (setters in `builder/v2.rs`).
    #[cfg(feature = "apiv2")]
    apiv2: v2::Apiv2Settings,
}

/// A layer put around the HTTP sender by [`WechatpayBuilder::wrap_http_sender`].
type Wrapper = Box<dyn FnOnce(Arc<dyn HttpSend>) -> Arc<dyn HttpSend> + Send + Sync>;

/// Which proxy the default HTTP stack uses.
#[derive(Debug, Default)]
enum ProxyChoice {
    /// [`Proxy::from_env`], read at `build()`.
    #[default]
    Environment,
    Explicit(Proxy),
    Off,
}

/// Where requests go when the primary host cannot be connected to.
#[derive(Debug, Default)]
enum Backup {
    /// [`BACKUP_BASE_URL`] for the default base URL, none otherwise.
    #[default]
    Default,
    Url(String),
    Off,
}

impl fmt::Debug for WechatpayBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("WechatpayBuilder");
        out.field("mchid", &self.mchid)
            .field("serial", &self.serial)
            .field("private_key", &self.key)
            .field(
                "platform_keys",
                &self
                    .platform_keys
                    .iter()
                    .map(|(id, _)| id)
                    .collect::<Vec<_>>(),
            )
            .field("base_url", &self.base_url)
            .field("apiv3_key", &self.apiv3_key.as_ref().map(|_| ".."))
            .field("retry", &self.retry)
            .field("retry_budget", &self.retry_budget)
            .field("failover", &self.failover)
            .field("proxy", &self.proxy)
            .field("resolve", &self.resolve)
            .field("http_sender", &self.http_sender);
        #[cfg(feature = "apiv2")]
        out.field("apiv2", &self.apiv2);
        out.finish_non_exhaustive()
    }
}

impl WechatpayBuilder {
    /// The merchant id (商户号), e.g. `1900000001`.
    pub fn mchid(mut self, mchid: impl Into<String>) -> Self {
        self.mchid = Some(mchid.into());
        self
    }

    /// The serial of the merchant API certificate (商户API证书序列号), 40 hex characters.
    pub fn serial(mut self, serial: impl Into<String>) -> Self {
        self.serial = Some(serial.into());
        self
    }

    /// The merchant API private key (`apiclient_key.pem`).
    pub fn private_key(mut self, key: PrivateKey) -> Self {
        self.key = Some(key);
        self
    }

    /// Trusts a platform key under `id`: a platform certificate serial, or a WeChat Pay
    /// public key id (`PUB_KEY_ID_…`). Repeatable; both kinds may be configured at once
    /// (the migration from certificates to public keys). When a public key id is
    /// configured, every request carries `Wechatpay-Serial: <that id>` (the first one, if
    /// several), so the platform signs its answers with that key.
    ///
    /// ```
    /// use wechatpay::{sandbox, PublicKey, Wechatpay};
    ///
    /// // During the migration a merchant trusts both its certificate and its public key.
    /// let wxpay = Wechatpay::builder()
    ///     .mchid(sandbox::MERCHANT_ID)
    ///     .serial(sandbox::MERCHANT_SERIAL)
    ///     .private_key(wechatpay::PrivateKey::from_pem(sandbox::MERCHANT_PRIVATE_KEY_PEM)?)
    ///     .platform_key(sandbox::PLATFORM_SERIAL, PublicKey::from_pem(sandbox::PLATFORM_PUBLIC_KEY_PEM)?)
    ///     .platform_key(sandbox::PUBLIC_KEY_ID, PublicKey::from_pem(sandbox::PUBLIC_KEY_PEM)?)
    ///     .build()?;
    /// let request = wxpay.chain("v3/certificates").get().build()?;
    /// assert_eq!(request.headers()["wechatpay-serial"], sandbox::PUBLIC_KEY_ID);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn platform_key(mut self, id: impl Into<String>, key: PublicKey) -> Self {
        self.platform_keys.push((id.into(), key));
        self
    }

    /// Trusts a platform certificate under its own serial.
    pub fn platform_certificate(mut self, certificate: Certificate) -> Self {
        self.certificates.push(certificate);
        self
    }

    /// Where to send requests (default [`DEFAULT_BASE_URL`]). A base path such as
    /// `https://apihk.mch.weixin.qq.com/hk/` is kept and signed as part of every target.
    /// Plain `http://` is accepted for loopback hosts only (the sandbox).
    ///
    /// ```
    /// # let key = wechatpay::PrivateKey::from_pem(wechatpay::sandbox::MERCHANT_PRIVATE_KEY_PEM)?;
    /// let hk = wechatpay::Wechatpay::builder()
    ///     .mchid("1900000001").serial("5157F09EFDC096DE15EBE81A47057A7232F1B8E1").private_key(key)
    ///     .apiv3_key(wechatpay::sandbox::APIV3_KEY)
    ///     .base_url("https://apihk.mch.weixin.qq.com/hk/")
    ///     .build()?;
    /// let request = hk.chain("v3/transactions/jsapi").post(serde_json::json!({})).build()?;
    /// assert_eq!(request.uri().path(), "/hk/v3/transactions/jsapi"); // and signed so
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Where to resend a request that could not connect to the base URL (default
    /// [`BACKUP_BASE_URL`] when the base URL is the default one, none otherwise). Only its
    /// scheme, host and port are used: the path and the signature stay those of the request,
    /// which never reached the first host. The resend happens within the same total timeout.
    ///
    /// ```
    /// # let key = wechatpay::PrivateKey::from_pem(wechatpay::sandbox::MERCHANT_PRIVATE_KEY_PEM)?;
    /// let wxpay = wechatpay::Wechatpay::builder()
    ///     .mchid("1900000001").serial("5157F09EFDC096DE15EBE81A47057A7232F1B8E1").private_key(key)
    ///     .apiv3_key(wechatpay::sandbox::APIV3_KEY)
    ///     .backup_base_url("https://api2.mch.weixin.qq.com/")
    ///     .build()?;
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn backup_base_url(mut self, url: impl Into<String>) -> Self {
        self.backup = Backup::Url(url.into());
        self
    }

    /// Sends nothing to a backup host: a request that cannot connect fails as it is.
    pub fn no_backup(mut self) -> Self {
        self.backup = Backup::Off;
        self
    }

    /// When the backup host takes over and when the primary gets its traffic back
    /// (default [`Failover::default`]: after the first connect failure; probed again after
    /// 30 s). Applies when there is a backup host (see
    /// [`backup_base_url`](Self::backup_base_url));
    /// [`Wechatpay::failover_status`] shows the state.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// use std::time::Duration;
    /// use wechatpay::{sandbox::Sandbox, Failover, HostState};
    ///
    /// let (primary, backup) = (Sandbox::start().await?, Sandbox::start().await?);
    /// let wxpay = primary.client_builder()?
    ///     .backup_base_url(backup.base_url())
    ///     .failover(Failover { cool_down: Duration::from_secs(60), ..Failover::default() })
    ///     .build()?;
    /// primary.refuse_connections(Duration::from_secs(5)).await;
    /// wxpay.chain("v3/certificates").get().await?; // answered by the backup
    /// let status = wxpay.failover_status().expect("a backup is configured");
    /// assert!(matches!(status.primary.state, HostState::Down { .. }));
    /// assert_eq!(status.active(), backup.base_url().trim_end_matches('/'));
    /// # Ok(()) }
    /// ```
    pub fn failover(mut self, failover: Failover) -> Self {
        self.failover = Some(failover);
        self
    }

    /// How requests are retried (default [`RetryPolicy::default`]: 3 attempts, GET and
    /// HEAD after any transient failure, other methods only when the request never left;
    /// see [`crate::retry`]). A request may bring its own with
    /// [`RequestBuilder::retry`](crate::RequestBuilder::retry).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// use wechatpay::{sandbox::{Fault, Sandbox}, RetryPolicy};
    ///
    /// let sandbox = Sandbox::start().await?;
    /// sandbox.fault(Fault::FailTimes { status: http::StatusCode::SERVICE_UNAVAILABLE, times: 4 });
    /// let wxpay = sandbox.client_builder()?
    ///     .retry(RetryPolicy { max_attempts: 5, ..RetryPolicy::default() })
    ///     .build()?;
    /// wxpay.chain("v3/certificates").get().await?; // the fifth attempt succeeds
    /// assert_eq!(sandbox.requests().len(), 5);
    /// # Ok(()) }
    /// ```
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// How many retries this client and its clones may add to their load (default
    /// [`RetryBudget::default`]: 10% of the requests of the last 10 s, at least 5 per
    /// second), so that an outage does not multiply the load on the platform.
    pub fn retry_budget(mut self, budget: RetryBudget) -> Self {
        self.retry_budget = Some(budget);
        self
    }

    /// Replaces `tokio::time::sleep` for the waits between attempts: for tests that check
    /// the waits without spending them. The total timeout still counts real time.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    /// use wechatpay::sandbox::{Fault, Sandbox};
    ///
    /// let sandbox = Sandbox::start().await?;
    /// sandbox.fault(Fault::FailTimes { status: http::StatusCode::TOO_MANY_REQUESTS, times: 1 });
    /// sandbox.fault(Fault::RetryAfter("2".into()));
    /// let waits = Arc::new(Mutex::new(Vec::new()));
    /// let seen = Arc::clone(&waits);
    /// let wxpay = sandbox.client_builder()?
    ///     .retry_sleep(move |wait| {
    ///         seen.lock().unwrap().push(wait);
    ///         async {} // no real wait
    ///     })
    ///     .build()?;
    /// wxpay.chain("v3/certificates").get().await?;
    /// assert_eq!(*waits.lock().unwrap(), [Duration::from_secs(2)]);
    /// # Ok(()) }
    /// ```
    pub fn retry_sleep<F, Fut>(mut self, sleep: F) -> Self
    where
        F: Fn(Duration) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.retry_sleep = Some(Arc::new(move |wait| Box::pin(sleep(wait))));
        self
    }

    /// Sends requests through this proxy instead of the one the environment names (see
    /// [`Proxy`]: `https://` requests go through an HTTP CONNECT tunnel, and TLS still
    /// ends at the client).
    ///
    /// ```
    /// use wechatpay::Proxy;
    ///
    /// let builder = wechatpay::sandbox::offline_client_builder()?
    ///     .proxy(Proxy::all("http://user:secret@proxy.internal:3128")?);
    /// assert!(!format!("{builder:?}").contains("secret")); // credentials never print
    /// let wxpay = builder.build()?;
    /// # let _ = wxpay;
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.proxy = ProxyChoice::Explicit(proxy);
        self
    }

    /// Connects directly, whatever `HTTPS_PROXY`, `HTTP_PROXY` or `ALL_PROXY` say. By
    /// default the client follows them ([`Proxy::from_env`]).
    pub fn no_proxy(mut self) -> Self {
        self.proxy = ProxyChoice::Off;
        self
    }

    /// Connects to `addr` for the host name `host` instead of asking DNS (repeatable; for
    /// a host with several addresses, call it once per address). The URL, the TLS server
    /// name and the certificate check stay those of `host`. If `addr` has port 0, the
    /// URL's port is used; otherwise `addr`'s port is used unless the URL names one.
    ///
    /// ```
    /// let wxpay = wechatpay::sandbox::offline_client_builder()?
    ///     .resolve("api.mch.weixin.qq.com", "10.1.2.3:0".parse().expect("an address"))
    ///     .build()?;
    /// # let _ = wxpay;
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn resolve(mut self, host: &str, addr: SocketAddr) -> Self {
        self.resolve
            .entry(host.to_ascii_lowercase())
            .or_default()
            .push(addr);
        self
    }

    /// Also trusts the CA certificate(s) in this PEM text for the platform's TLS, on top
    /// of the bundled web PKI roots: for a corporate TLS-inspection proxy. Repeatable.
    /// The PEM is checked by [`build`](Self::build).
    ///
    /// ```
    /// # let ca_pem = wechatpay::sandbox::PLATFORM_CERTIFICATE_PEM;
    /// let wxpay = wechatpay::sandbox::offline_client_builder()?
    ///     .add_root_certificate_pem(ca_pem) // e.g. std::fs::read("corporate-ca.pem")?
    ///     .build()?;
    /// # let _ = wxpay;
    /// assert!(wechatpay::sandbox::offline_client_builder()?.add_root_certificate_pem("junk").build().is_err());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn add_root_certificate_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.tls.extra_roots.push(pem.as_ref().to_vec());
        self
    }

    /// Also trusts the operating system's root certificates (read once by
    /// [`build`](Self::build), which fails if none can be loaded). Needs the cargo feature
    /// `native-roots`.
    #[cfg(feature = "native-roots")]
    pub fn tls_native_roots(mut self, enabled: bool) -> Self {
        self.tls.native_roots = enabled;
        self
    }

    /// Uses this rustls configuration for TLS, roots and all (build it with the provider
    /// you want; the crate passes ring explicitly for its own). Its ALPN list is replaced:
    /// the client offers HTTP/2 and HTTP/1.1. It cannot be combined with
    /// [`add_root_certificate_pem`](Self::add_root_certificate_pem).
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let mut roots = rustls::RootCertStore::empty();
    /// roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    /// let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
    ///     .with_safe_default_protocol_versions()
    ///     .expect("ring supports TLS 1.2 and 1.3")
    ///     .with_root_certificates(roots)
    ///     .with_no_client_auth();
    /// let wxpay = wechatpay::sandbox::offline_client_builder()?.tls_config(config).build()?;
    /// # let _ = wxpay;
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn tls_config(mut self, config: rustls::ClientConfig) -> Self {
        self.tls.config = Some(config);
        self
    }

    /// Puts the client on another HTTP stack: `sender` gets every request already signed
    /// and returns the answer, which the client then verifies (see [`HttpSend`]). The
    /// proxy, [`resolve`](Self::resolve) and TLS settings are those of the default stack
    /// and cannot be combined with this; the timeouts, failover, retries and the response
    /// size limit still apply.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// use bytes::Bytes;
    /// use wechatpay::transport::{BoxFuture, HttpSend, SendError};
    ///
    /// /// A test double that answers 200 without a signature.
    /// #[derive(Debug)]
    /// struct Forger;
    /// impl HttpSend for Forger {
    ///     fn send(&self, _: http::Request<Bytes>) -> BoxFuture<'_, Result<http::Response<Bytes>, SendError>> {
    ///         Box::pin(async { Ok(http::Response::new(Bytes::from_static(br#"{"paid":true}"#))) })
    ///     }
    /// }
    ///
    /// let wxpay = wechatpay::sandbox::offline_client_builder()?.http_sender(Forger).build()?;
    /// let error = wxpay.chain("v3/pay/transactions/id/{id}").get().param("id", "1").await.unwrap_err();
    /// assert!(error.is_verification()); // a transport cannot skip verification
    /// # Ok(()) }
    /// ```
    pub fn http_sender(mut self, sender: impl HttpSend) -> Self {
        self.http_sender = Some(Arc::new(sender));
        self
    }

    /// Wraps the HTTP stack (the default one, or that of
    /// [`http_sender`](Self::http_sender)) in a layer of yours: metrics, logging of your
    /// own, a fault injector. `wrap` gets the stack and returns the layer the client calls.
    /// Repeatable; the last wrap is the outermost. See [`HttpSend`] for an example.
    pub fn wrap_http_sender<F, S>(mut self, wrap: F) -> Self
    where
        F: FnOnce(Arc<dyn HttpSend>) -> S + Send + Sync + 'static,
        S: HttpSend,
    {
        self.http_wrappers.push(Box::new(move |inner| {
            Arc::new(wrap(inner)) as Arc<dyn HttpSend>
        }));
        self
    }

    /// Connect and total time limits (default 5 s and 30 s).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// use std::time::Duration;
    /// use wechatpay::{sandbox::{Fault, Sandbox}, Timeouts};
    ///
    /// let sandbox = Sandbox::start().await?;
    /// sandbox.fault(Fault::Delay(Duration::from_secs(5)));
    /// let wxpay = sandbox.client_builder()?
    ///     .timeouts(Timeouts { connect: Duration::from_secs(1), total: Duration::from_millis(200) })
    ///     .build()?;
    /// let error = wxpay.chain("v3/certificates").get().await.unwrap_err();
    /// assert!(error.is_timeout());
    /// # Ok(()) }
    /// ```
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = Some(timeouts);
        self
    }

    /// The largest response body accepted, in bytes (default 8 MiB), so a hostile or
    /// broken server cannot exhaust memory.
    pub fn max_response_size(mut self, bytes: usize) -> Self {
        self.max_response_size = Some(bytes);
        self
    }

    /// The most requests one client (and its clones) has in flight at once (default
    /// [`DEFAULT_MAX_IN_FLIGHT`]); more wait their turn, unsigned until they go. HTTP/1
    /// needs a socket per concurrent request, so this also bounds sockets, loosely: the
    /// pool keeps a connection that finished opening after its request went out on
    /// another (10,000 requests at once opened 500 to 750 connections under the default).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// use std::time::Duration;
    /// use wechatpay::sandbox::{Fault, Sandbox};
    ///
    /// let sandbox = Sandbox::start().await?;
    /// sandbox.fault(Fault::Delay(Duration::from_millis(20)));
    /// let wxpay = sandbox.client_builder()?.max_in_flight(2).build()?;
    /// let requests = (0..6).map(|_| wxpay.chain("v3/certificates").get().send());
    /// for answer in futures_join_all(requests).await {
    ///     answer?;
    /// }
    /// assert_eq!(sandbox.peak_concurrency(), 2);
    /// # Ok(()) }
    /// # async fn futures_join_all<F: std::future::Future>(fs: impl Iterator<Item = F>) -> Vec<F::Output>
    /// # where F: Send + 'static, F::Output: Send + 'static {
    /// #     let mut set = tokio::task::JoinSet::new();
    /// #     for f in fs { set.spawn(f); }
    /// #     let mut out = Vec::new();
    /// #     while let Some(r) = set.join_next().await { out.push(r.expect("task")); }
    /// #     out
    /// # }
    /// ```
    pub fn max_in_flight(mut self, requests: usize) -> Self {
        self.max_in_flight = Some(requests);
        self
    }

    /// Replaces the `User-Agent` (default `wechatpay-rust/<version> (<os>/<arch>)`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// The APIv3 key (32 characters), needed to decrypt notifications and platform
    /// certificates.
    pub fn apiv3_key(mut self, key: impl Into<String>) -> Self {
        self.apiv3_key = Some(key.into());
        self
    }

    /// The one clock of the client (default: the system clock). It gives the `timestamp`
    /// of every request signature (unless a request fixes its own with
    /// [`RequestBuilder::timestamp`](crate::RequestBuilder::timestamp)), the time answers and
    /// notifications are checked against (the 300 s window), the time of pay-sign
    /// parameters, and the time certificates expire by. Takes a [`Clock`] or any
    /// `Fn() -> SystemTime`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// use std::time::{Duration, SystemTime};
    /// use wechatpay::Clock;
    ///
    /// let sandbox = wechatpay::sandbox::Sandbox::start().await?;
    /// // A client whose clock runs ten minutes ahead signs requests the platform refuses
    /// // as stale (401), and refuses the platform's signed answer as a replay in turn.
    /// let ahead = sandbox.client_builder()?.clock(|| SystemTime::now() + Duration::from_secs(600)).build()?;
    /// let error = ahead.chain("v3/certificates").get().await.unwrap_err();
    /// assert_eq!(error.status(), Some(http::StatusCode::UNAUTHORIZED));
    /// assert!(error.is_verification());
    ///
    /// // A fixed clock fixes the signature timestamp of every request.
    /// let then = SystemTime::UNIX_EPOCH + Duration::from_secs(1_554_208_460);
    /// let fixed = sandbox.client_builder()?.clock(Clock::fixed(then)).build()?;
    /// let request = fixed.chain("v3/certificates").get().build()?;
    /// assert!(request.headers()["authorization"].to_str().unwrap().contains("timestamp=\"1554208460\""));
    /// # Ok(()) }
    /// ```
    pub fn clock(mut self, clock: impl Into<Clock>) -> Self {
        self.clock = Some(clock.into());
        self
    }

    /// Checks every request against the built-in endpoint catalog before signing it (see
    /// [`RequestBuilder::check`](crate::RequestBuilder::check)): an unknown endpoint, a
    /// missing placeholder, query parameter or required body field fails at `build()` with
    /// the closest templates or the JSON Pointer, instead of a round trip to the platform.
    /// Off by default, since the platform adds endpoints before any catalog knows them;
    /// on for the sandbox's clients. A request opts out with
    /// [`skip_check`](crate::RequestBuilder::skip_check). Needs the `catalog` feature.
    ///
    /// ```
    /// # let key = wechatpay::PrivateKey::from_pem(wechatpay::sandbox::MERCHANT_PRIVATE_KEY_PEM)?;
    /// let wxpay = wechatpay::Wechatpay::builder()
    ///     .mchid("1900000001").serial("5157F09EFDC096DE15EBE81A47057A7232F1B8E1").private_key(key)
    ///     .apiv3_key(wechatpay::sandbox::APIV3_KEY)
    ///     .strict(true)
    ///     .build()?;
    /// let typo = wxpay.chain("v3/pay/transaction/id/{transaction_id}").get().param("transaction_id", "42").build();
    /// assert!(typo.is_err());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn strict(mut self, on: bool) -> Self {
        self.strict = on;
        self
    }

    /// Keeps the platform certificates fresh: downloads them (`GET v3/certificates`) in
    /// the background right away and then every `interval` (12 hours is plenty), adds new
    /// ones to the live trust store and drops expired ones. Needs [`apiv3_key`](Self::apiv3_key).
    ///
    /// The task starts with the first request or notification handled inside a Tokio
    /// runtime (building stays synchronous), never delays a request, and ends when the
    /// last clone of the client is dropped. A failed round (a 404 for merchants in
    /// public-key mode, which have no certificates, or a network error) is logged with
    /// a `tracing` warning (which `log` users see too) and retried at the next interval.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// use std::time::Duration;
    /// use wechatpay::{sandbox, PublicKey};
    ///
    /// let sandbox = sandbox::Sandbox::start().await?;
    /// let wxpay = wechatpay::Wechatpay::builder()
    ///     .mchid(sandbox::MERCHANT_ID)
    ///     .serial(sandbox::MERCHANT_SERIAL)
    ///     .private_key(sandbox.merchant_key()?)
    ///     .platform_key(sandbox::PUBLIC_KEY_ID, PublicKey::from_pem(sandbox::PUBLIC_KEY_PEM)?)
    ///     .apiv3_key(sandbox::APIV3_KEY)
    ///     .auto_refresh_certificates(Duration::from_secs(12 * 3600))
    ///     .base_url(sandbox.base_url())
    ///     .build()?;
    /// wxpay.chain("v3/certificates").get().await?; // starts the refresher
    /// for _ in 0..100 {
    ///     if wxpay.verifier().ids().len() == 2 { break }
    ///     tokio::time::sleep(Duration::from_millis(50)).await;
    /// }
    /// assert!(wxpay.verifier().ids().contains(&sandbox::PLATFORM_SERIAL.to_owned()));
    /// # Ok(()) }
    /// ```
    pub fn auto_refresh_certificates(mut self, interval: Duration) -> Self {
        self.refresh_interval = Some(interval);
        self
    }

    /// Checks everything and builds the client.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the first missing or invalid setting.
    pub fn build(self) -> Result<Wechatpay, Error> {
        let mchid = self.mchid.filter(|m| !m.trim().is_empty()).ok_or_else(|| {
            Error::config("the merchant id is missing: call .mchid(\"1900000001\")")
        })?;
        if !mchid.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::config(format!(
                "the merchant id `{mchid}` must be digits only"
            )));
        }
        let serial = self
            .serial
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                Error::config(
                    "the merchant certificate serial is missing: call .serial(\"…\") \
                 (run `openssl x509 -in apiclient_cert.pem -noout -serial` to read it)",
                )
            })?;
        if !serial.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::config(format!(
                "the merchant certificate serial `{serial}` must be hexadecimal"
            )));
        }
        let key = self.key.ok_or_else(|| {
            Error::config(
                "the merchant private key is missing: call .private_key(PrivateKey::from_pem_file(\"apiclient_key.pem\")?)",
            )
        })?;

        let verifier = Verifier::new().with_clock(self.clock.unwrap_or_default());
        let mut public_key_id = None;
        for (id, key) in self.platform_keys {
            let id = check_id(&id)?;
            if id.starts_with("PUB_KEY_ID_") && public_key_id.is_none() {
                public_key_id = Some(id.clone());
            }
            verifier.add_key(&id, key)?;
        }
        for cert in &self.certificates {
            verifier.add_certificate(cert);
        }
        let apiv3_key = self.apiv3_key.as_deref().map(Apiv3Key::new).transpose()?;
        #[cfg(feature = "apiv2")]
        let apiv2 = self.apiv2.resolve(&mchid)?;
        #[cfg(feature = "apiv2")]
        let mutual_tls = apiv2
            .identity
            .as_ref()
            .map(crate::transport::ClientAuth::presenting);
        #[cfg(not(feature = "apiv2"))]
        let mutual_tls = None;
        if let Some(interval) = self.refresh_interval {
            if apiv3_key.is_none() {
                return Err(Error::config(
                    "auto_refresh_certificates needs the APIv3 key to decrypt the certificates: \
                     call .apiv3_key(…)",
                ));
            }
            if interval.is_zero() {
                return Err(Error::config(
                    "the certificate refresh interval must be more than zero",
                ));
            }
        }
        if verifier.ids().is_empty() && apiv3_key.is_none() {
            return Err(Error::config(
                "no platform key is configured, so no answer could be verified: add \
                 .platform_key(\"PUB_KEY_ID_…\", PublicKey::from_pem_file(\"pub_key.pem\")?) or a platform \
                 certificate, or set .apiv3_key(…) to download the platform certificates",
            ));
        }

        let base_text = self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL);
        let base = BaseUrl::parse(base_text)?;
        let backup = match self.backup {
            Backup::Url(url) => Some(BaseUrl::parse(&url)?.origin),
            Backup::Off => None,
            Backup::Default if base.origin == BaseUrl::parse(DEFAULT_BASE_URL)?.origin => {
                Some(BaseUrl::parse(BACKUP_BASE_URL)?.origin)
            }
            Backup::Default => None,
        };

        let user_agent = self.user_agent.unwrap_or_else(|| {
            format!(
                "wechatpay-rust/{} ({}/{})",
                env!("CARGO_PKG_VERSION"),
                std::env::consts::OS,
                std::env::consts::ARCH
            )
        });
        let user_agent = HeaderValue::from_str(&user_agent)
            .map_err(|_| Error::config("the User-Agent must be visible ASCII"))?;

        let timeouts = self.timeouts.unwrap_or_default();
        let max_response_size = self.max_response_size.unwrap_or(DEFAULT_MAX_RESPONSE_SIZE);
        let mut sender = match self.http_sender {
            Some(sender) => {
                let tls = &self.tls;
                if matches!(self.proxy, ProxyChoice::Explicit(_))
                    || !self.resolve.is_empty()
                    || !tls.extra_roots.is_empty()
                    || tls.native_roots
                    || tls.config.is_some()
                {
                    return Err(Error::config(
                        "http_sender replaces the HTTP stack, so its proxy, resolve and TLS \
                         settings would be ignored: configure them in your sender instead",
                    ));
                }
                sender
            }
            None => default_sender(HttpSettings {
                connect_timeout: timeouts.connect,
                max_response_size,
                proxy: match self.proxy {
                    ProxyChoice::Environment => Some(Proxy::from_env()),
                    ProxyChoice::Explicit(proxy) => Some(proxy),
                    ProxyChoice::Off => None,
                },
                resolve: self.resolve,
                tls: self.tls,
                mutual_tls,
            })?,
        };
        for wrap in self.http_wrappers {
            sender = wrap(sender);
        }
        let mut transport = Transport::new(
            sender,
            timeouts,
            max_response_size,
            self.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT),
        );
        if let Some(backup) = backup {
            let failover = self.failover.unwrap_or_default();
            transport = transport.with_failover(base.origin.clone(), backup, failover);
        }

        let policy = self.retry.unwrap_or_default();
        if policy.max_attempts == 0 {
            return Err(Error::config(
                "RetryPolicy::max_attempts counts the first attempt too: make it at least 1 \
                 (RetryPolicy::none() never retries)",
            ));
        }
        let budget = self.retry_budget.unwrap_or_default();
        if !budget.ratio.is_finite() || budget.ratio < 0.0 {
            return Err(Error::config(format!(
                "RetryBudget::ratio must be a number of retries per request, 0 or more (e.g. \
                 0.1 for 10% extra load), not {}",
                budget.ratio
            )));
        }
        let retries = Retries {
            policy,
            budget: Budget::new(budget, tokio::time::Instant::now()),
            sleep: self.retry_sleep,
        };

        #[cfg_attr(not(feature = "apiv2"), allow(unused_mut))]
        let mut pipeline = Pipeline::new(
            mchid,
            serial.to_ascii_uppercase(),
            key,
            verifier,
            public_key_id,
            base,
            transport,
            user_agent,
            self.strict,
            retries,
        );
        #[cfg(feature = "apiv2")]
        {
            pipeline.apiv2 = apiv2;
        }
        Ok(Wechatpay {
            inner: Arc::new(Inner {
                pipeline: Arc::new(pipeline),
                apiv3_key,
                refresher: Refresher::new(self.refresh_interval),
            }),
        })
    }
}
