//! The client and its builder.

use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::HeaderValue;

use crate::chain::Chain;
use crate::crypto::{Apiv3Key, Certificate, PrivateKey, PublicKey};
use crate::error::Error;
use crate::transport::{
    BaseUrl, Timeouts, Transport, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_RESPONSE_SIZE,
};
use crate::verify::{check_id, Verifier};

/// The production API: `https://api.mch.weixin.qq.com/`.
pub const DEFAULT_BASE_URL: &str = "https://api.mch.weixin.qq.com/";
/// The backup domain WeChat Pay documents for when the main one cannot be reached.
pub const BACKUP_BASE_URL: &str = "https://api2.mch.weixin.qq.com/";

/// A WeChat Pay APIv3 client: names endpoints as chains, signs, sends and verifies.
///
/// Cheap to clone (an `Arc` inside); clones share the connection pool and the trust store.
/// Build it once with [`Wechatpay::builder`]: every key is parsed there, so bad
/// configuration fails at start-up, not on the first payment.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), wechatpay::Error> {
/// use serde_json::json;
///
/// let sandbox = wechatpay::sandbox::Sandbox::start().await?;
/// let wxpay = sandbox.client();
///
/// let answer = wxpay
///     .chain("v3/payscore/serviceorder/{out_order_no}/sync")
///     .post(json!({
///         "appid": "wxd678efh567hg6787",
///         "service_id": "500001",
///         "type": "Order_Paid",
///         "detail": { "paid_time": "20091225091210" },
///     }))
///     .param("out_order_no", "1234323JKHDFE1243252")
///     .send()
///     .await?;
/// let order: serde_json::Value = answer.json()?;
/// assert_eq!(order["out_order_no"], "1234323JKHDFE1243252");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Wechatpay {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) mchid: String,
    pub(crate) serial: String,
    pub(crate) key: PrivateKey,
    pub(crate) verifier: Verifier,
    /// Sent as `Wechatpay-Serial` on every request, so the platform signs with that key.
    pub(crate) public_key_id: Option<String>,
    pub(crate) base: BaseUrl,
    /// Tried once, with the same signed request, when the main host cannot be connected.
    pub(crate) backup: Option<String>,
    pub(crate) transport: Transport,
    pub(crate) user_agent: HeaderValue,
    pub(crate) apiv3_key: Option<Apiv3Key>,
    /// How often to download the platform certificates (`auto_refresh_certificates`).
    pub(crate) refresh_interval: Option<Duration>,
    /// Set once the refresher task is spawned (lazily, by the first request or notification).
    pub(crate) refresh_started: AtomicBool,
}

impl Wechatpay {
    /// Starts configuring a client.
    pub fn builder() -> WechatpayBuilder {
        WechatpayBuilder::default()
    }

    /// Names an endpoint by URI template, used literally (no case normalization), e.g.
    /// `"v3/payscore/serviceorder/{out_order_no}/sync"`. `<name>` is an alias of `{name}`.
    pub fn chain(&self, template: &str) -> Chain {
        Chain::new(self.clone()).chain(template)
    }

    /// Starts a chain with one normalized segment: `payafterOrders` becomes
    /// `payafter-orders`, `_out_order_no_` becomes `{out_order_no}`.
    pub fn seg(&self, name: &str) -> Chain {
        Chain::new(self.clone()).seg(name)
    }

    /// The merchant id.
    pub fn mchid(&self) -> &str {
        &self.inner.mchid
    }

    /// The merchant certificate serial the requests are signed under.
    pub fn serial(&self) -> &str {
        &self.inner.serial
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> String {
        self.inner.base.to_string()
    }

    /// The trust store and verification rules (shared with every clone).
    pub fn verifier(&self) -> &Verifier {
        &self.inner.verifier
    }

    /// The merchant private key.
    pub fn private_key(&self) -> &PrivateKey {
        &self.inner.key
    }

    /// The timeouts in force.
    pub fn timeouts(&self) -> Timeouts {
        self.inner.transport.timeouts()
    }

    /// The platform key that encrypts sensitive fields, as `(id, key)`: the configured
    /// public key id (`PUB_KEY_ID_…`) if any; else the unexpired trusted certificate with
    /// the latest end of validity (configured or downloaded); else the only configured key.
    /// The id is what a request carrying the ciphertext must send as `Wechatpay-Serial`.
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// let (id, key) = wxpay.encryption_key()?;
    /// assert_eq!(id, wechatpay::sandbox::PLATFORM_SERIAL);
    /// assert_eq!(key.bits(), 2048);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if no platform key is trusted, or several plain keys are and none
    /// is a public key id or a certificate (pin one with `.header("Wechatpay-Serial", id)`
    /// on the request, or use [`PublicKey::encrypt`] yourself).
    pub fn encryption_key(&self) -> Result<(String, PublicKey), Error> {
        let verifier = &self.inner.verifier;
        if let Some(id) = &self.inner.public_key_id {
            if let Some(key) = verifier.key(id) {
                return Ok((id.clone(), key));
            }
        }
        if let Some(found) = verifier.newest_certificate(verifier.now()) {
            return Ok(found);
        }
        let mut plain = verifier.plain_keys();
        match plain.len() {
            1 => Ok(plain.remove(0)),
            0 => Err(Error::config(
                "no platform key to encrypt sensitive fields with: add \
                 .platform_key(\"PUB_KEY_ID_…\", PublicKey::from_pem_file(\"pub_key.pem\")?) or a platform \
                 certificate, or download the certificates (download_certificates)",
            )),
            _ => Err(Error::config(format!(
                "several platform keys are trusted ({}) and none is a public key id or a \
                 certificate, so which one encrypts is ambiguous: pin one with \
                 .header(\"Wechatpay-Serial\", id) on the request",
                plain
                    .iter()
                    .map(|(id, _)| id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// Encrypts a sensitive field (a name, an ID or bank account number, a phone number)
    /// for the platform: RSA-OAEP with SHA-1 and MGF1-SHA1, standard base64, with the key
    /// of [`encryption_key`](Self::encryption_key).
    ///
    /// A request carrying the result must send `Wechatpay-Serial` naming that key:
    /// prefer [`RequestBuilder::encrypt_fields`](crate::RequestBuilder::encrypt_fields),
    /// which encrypts the fields of a JSON body and sets the header itself. When you
    /// build the body with `encrypt`, add `.header("Wechatpay-Serial", wxpay.encryption_key()?.0)`.
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// use wechatpay::{sandbox, PrivateKey};
    ///
    /// let ciphertext = wxpay.encrypt("张三")?;
    /// // The platform decrypts with its private key (here, the sandbox's).
    /// let platform = PrivateKey::from_pem(sandbox::PLATFORM_PRIVATE_KEY_PEM)?;
    /// assert_eq!(platform.decrypt(&ciphertext)?, "张三");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Config`] as [`encryption_key`](Self::encryption_key); [`Error::Crypto`] if
    /// the plaintext is longer than the key allows (214 bytes for RSA-2048).
    pub fn encrypt(&self, plaintext: &str) -> Result<String, Error> {
        self.encryption_key()?.1.encrypt(plaintext)
    }

    /// Decrypts a sensitive field the platform encrypted for the merchant (RSA-OAEP,
    /// SHA-1, MGF1-SHA1, base64) with the merchant private key.
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// // What the platform sends: encrypted with the merchant's public key.
    /// let ciphertext = wxpay.private_key().public_key().encrypt("13800138000")?;
    /// assert_eq!(wxpay.decrypt(&ciphertext)?, "13800138000");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] for bad base64 or a plaintext that is not UTF-8; [`Error::Crypto`]
    /// if it was not encrypted for this merchant key.
    pub fn decrypt(&self, ciphertext: &str) -> Result<String, Error> {
        self.inner.key.decrypt(ciphertext)
    }
}

impl fmt::Debug for Wechatpay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wechatpay")
            .field("mchid", &self.inner.mchid)
            .field("serial", &self.inner.serial)
            .field("base_url", &self.inner.base.to_string())
            .field("platform_keys", &self.inner.verifier.ids())
            .field("private_key", &self.inner.key)
            .field("apiv3_key", &self.inner.apiv3_key)
            .finish_non_exhaustive()
    }
}

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
pub struct WechatpayBuilder {
    mchid: Option<String>,
    serial: Option<String>,
    key: Option<PrivateKey>,
    platform_keys: Vec<(String, PublicKey)>,
    certificates: Vec<Certificate>,
    base_url: Option<String>,
    backup_base_url: Option<Option<String>>,
    timeouts: Option<Timeouts>,
    max_response_size: Option<usize>,
    max_in_flight: Option<usize>,
    user_agent: Option<String>,
    apiv3_key: Option<String>,
    clock: Option<crate::verify::Clock>,
    refresh_interval: Option<Duration>,
}

impl fmt::Debug for WechatpayBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatpayBuilder")
            .field("mchid", &self.mchid)
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
            .finish_non_exhaustive()
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

    /// Where to resend a request that could not connect to the base URL: only its scheme,
    /// host and port are used, since the path and the signature stay those of the request. Defaults to [`BACKUP_BASE_URL`] when the base URL is the default one,
    /// and to none otherwise; `None` turns it off.
    pub fn backup_base_url(mut self, url: Option<String>) -> Self {
        self.backup_base_url = Some(url);
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

    /// Replaces the clock used to check answer timestamps (for tests and replays).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// use std::time::{Duration, SystemTime};
    ///
    /// let sandbox = wechatpay::sandbox::Sandbox::start().await?;
    /// // A client whose clock runs ten minutes ahead refuses answers as replays.
    /// let ahead = sandbox.client_builder()?.clock(|| SystemTime::now() + Duration::from_secs(600)).build()?;
    /// let error = ahead.chain("v3/certificates").get().await.unwrap_err();
    /// assert!(error.is_verification());
    /// # Ok(()) }
    /// ```
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
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
    /// `log::warn!` and retried at the next interval.
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

        let mut verifier = Verifier::new();
        if let Some(clock) = self.clock {
            verifier = verifier.with_clock(move || clock());
        }
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
        let backup = match self.backup_base_url {
            Some(Some(url)) => Some(BaseUrl::parse(&url)?.origin),
            Some(None) => None,
            None if base.origin == BaseUrl::parse(DEFAULT_BASE_URL)?.origin => {
                Some(BaseUrl::parse(BACKUP_BASE_URL)?.origin)
            }
            None => None,
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

        let transport = Transport::new(
            self.timeouts.unwrap_or_default(),
            self.max_response_size.unwrap_or(DEFAULT_MAX_RESPONSE_SIZE),
            self.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT),
        )?;

        Ok(Wechatpay {
            inner: Arc::new(Inner {
                mchid,
                serial: serial.to_ascii_uppercase(),
                key,
                verifier,
                public_key_id,
                base,
                backup,
                transport,
                user_agent,
                apiv3_key,
                refresh_interval: self.refresh_interval,
                refresh_started: AtomicBool::new(false),
            }),
        })
    }
}
