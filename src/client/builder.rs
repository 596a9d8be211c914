//! [`WechatpayBuilder`]: every setting of a client, checked at once by `build()`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;

use super::refresh::Refresher;
use super::{Inner, Wechatpay, BACKUP_BASE_URL, DEFAULT_BASE_URL};
use crate::clock::Clock;
use crate::crypto::{Apiv3Key, Certificate, PrivateKey, PublicKey};
use crate::error::Error;
use crate::request::Pipeline;
use crate::transport::{
    BaseUrl, Timeouts, Transport, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_RESPONSE_SIZE,
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

        let mut transport = Transport::new(
            self.timeouts.unwrap_or_default(),
            self.max_response_size.unwrap_or(DEFAULT_MAX_RESPONSE_SIZE),
            self.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT),
        )?;
        if let Some(backup) = backup {
            transport = transport.with_failover(base.origin.clone(), backup);
        }

        let pipeline = Pipeline::new(
            mchid,
            serial.to_ascii_uppercase(),
            key,
            verifier,
            public_key_id,
            base,
            transport,
            user_agent,
            self.strict,
        );
        Ok(Wechatpay {
            inner: Arc::new(Inner {
                pipeline: Arc::new(pipeline),
                apiv3_key,
                refresher: Refresher::new(self.refresh_interval),
            }),
        })
    }
}
