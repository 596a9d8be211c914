//! The client, its builder, and the background certificate refresher it owns.

mod builder;
mod refresh;
#[cfg(feature = "apiv2")]
mod v2;

use std::fmt;
use std::sync::Arc;

use crate::certificates::{self, PlatformCertificate};
use crate::chain::Chain;
use crate::clock::Clock;
use crate::crypto::{Apiv3Key, PrivateKey, PublicKey};
use crate::error::Error;
use crate::request::Pipeline;
use crate::retry::RetryPolicy;
use crate::transport::{FailoverStatus, Timeouts};
use crate::verify::Verifier;

pub use builder::WechatpayBuilder;

/// The production API: `https://api.mch.weixin.qq.com/`.
pub const DEFAULT_BASE_URL: &str = crate::transport::PRODUCTION_BASE_URL;
/// The backup domain WeChat Pay documents for when the main one cannot be reached.
pub const BACKUP_BASE_URL: &str = crate::transport::BACKUP_BASE_URL;

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
    /// What every request passes through (shared with the chains and requests).
    pub(crate) pipeline: Arc<Pipeline>,
    pub(crate) apiv3_key: Option<Apiv3Key>,
    pub(crate) refresher: refresh::Refresher,
}

impl Wechatpay {
    /// Starts configuring a client.
    pub fn builder() -> WechatpayBuilder {
        WechatpayBuilder::default()
    }

    /// Names an endpoint by URI template, used literally (no case normalization), e.g.
    /// `"v3/payscore/serviceorder/{out_order_no}/sync"`. `<name>` is an alias of `{name}`.
    pub fn chain(&self, template: &str) -> Chain {
        self.start_refresher();
        Chain::new(Arc::clone(&self.inner.pipeline)).chain(template)
    }

    /// Starts a chain with one normalized segment: `payafterOrders` becomes
    /// `payafter-orders`, `_out_order_no_` becomes `{out_order_no}`.
    pub fn seg(&self, name: &str) -> Chain {
        self.start_refresher();
        Chain::new(Arc::clone(&self.inner.pipeline)).seg(name)
    }

    /// Starts the certificate refresher if it is configured and not running yet (it needs a
    /// Tokio runtime, which `build()` may not have had).
    pub(crate) fn start_refresher(&self) {
        self.inner.refresher.ensure_started(&self.inner);
    }

    /// The merchant id.
    pub fn mchid(&self) -> &str {
        &self.inner.pipeline.mchid
    }

    /// The merchant certificate serial the requests are signed under.
    pub fn serial(&self) -> &str {
        &self.inner.pipeline.serial
    }

    /// The base URL requests go to, e.g. `https://api.mch.weixin.qq.com/`.
    pub fn base_url(&self) -> &str {
        self.inner.pipeline.base.as_str()
    }

    /// The trust store and verification rules (shared with every clone).
    pub fn verifier(&self) -> &Verifier {
        &self.inner.pipeline.verifier
    }

    /// The clock everything in this client reads (see [`WechatpayBuilder::clock`]).
    pub fn clock(&self) -> &Clock {
        self.inner.pipeline.clock()
    }

    /// The merchant private key.
    pub fn private_key(&self) -> &PrivateKey {
        &self.inner.pipeline.key
    }

    /// The timeouts in force.
    pub fn timeouts(&self) -> Timeouts {
        self.inner.pipeline.transport.timeouts()
    }

    /// The client's retry policy (see [`WechatpayBuilder::retry`]).
    pub fn retry_policy(&self) -> RetryPolicy {
        self.inner.pipeline.retry
    }

    /// The primary and backup hosts and whether requests go to them (see
    /// [`WechatpayBuilder::failover`]), or `None` for a client without a backup host.
    ///
    /// ```
    /// use wechatpay::HostState;
    ///
    /// // The production URL comes with the documented backup domain.
    /// let wxpay = wechatpay::sandbox::offline_client()?;
    /// let status = wxpay.failover_status().expect("a backup");
    /// assert_eq!(status.primary.origin, "https://api.mch.weixin.qq.com");
    /// assert_eq!(status.backup.origin, "https://api2.mch.weixin.qq.com");
    /// assert_eq!(status.primary.state, HostState::Up);
    /// assert_eq!(status.active(), "https://api.mch.weixin.qq.com");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn failover_status(&self) -> Option<FailoverStatus> {
        self.inner.pipeline.transport.failover_status()
    }

    /// The APIv3 key, or the configuration error naming what needs it.
    pub(crate) fn apiv3_key(&self, what: &str) -> Result<&Apiv3Key, Error> {
        self.inner.apiv3_key.as_ref().ok_or_else(|| {
            Error::config(format!(
                "{what} needs the APIv3 key to decrypt: call .apiv3_key(…) on the builder"
            ))
        })
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
        self.inner.pipeline.encryption_key()
    }

    /// Downloads the platform certificates (`GET v3/certificates`), decrypts each with the
    /// APIv3 key, checks each one's serial against its `serial_no`, and verifies the answer
    /// with the keys already trusted plus the certificates delivered.
    ///
    /// The certificates are returned, not trusted: add them with
    /// [`Verifier::add_certificate`](crate::Verifier::add_certificate), or use
    /// [`WechatpayBuilder::auto_refresh_certificates`](crate::WechatpayBuilder::auto_refresh_certificates).
    /// Merchants in public-key mode have no certificates: the platform answers 404.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// let sandbox = wechatpay::sandbox::Sandbox::start().await?;
    /// // Only the APIv3 key: the delivered certificate is what verifies the answer.
    /// let wxpay = wechatpay::Wechatpay::builder()
    ///     .mchid(wechatpay::sandbox::MERCHANT_ID)
    ///     .serial(wechatpay::sandbox::MERCHANT_SERIAL)
    ///     .private_key(sandbox.merchant_key()?)
    ///     .apiv3_key(wechatpay::sandbox::APIV3_KEY)
    ///     .base_url(sandbox.base_url())
    ///     .build()?;
    /// let certificates = wxpay.download_certificates().await?;
    /// assert_eq!(certificates.len(), 1);
    /// assert!(wxpay.verifier().ids().is_empty()); // not trusted until added
    /// wxpay.verifier().add_certificate(certificates[0].certificate());
    /// wxpay.chain("v3/certificates").get().await?; // now answers verify
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Config`] without an APIv3 key; [`Error::Api`] for a non-2xx answer (404 in
    /// public-key mode); [`Error::Verification`] if the answer's signature fails;
    /// [`Error::Crypto`] if a certificate does not decrypt (wrong APIv3 key);
    /// [`Error::Decode`] for an answer that is not the documented shape, an algorithm
    /// other than AEAD_AES_256_GCM (named), or a certificate whose serial is not its
    /// `serial_no`; and the transport errors of any request.
    pub async fn download_certificates(&self) -> Result<Vec<PlatformCertificate>, Error> {
        let key = self.apiv3_key("downloading the platform certificates")?;
        certificates::download(&self.inner.pipeline, key).await
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
        self.inner.pipeline.key.decrypt(ciphertext)
    }
}

impl fmt::Debug for Wechatpay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pipeline = &self.inner.pipeline;
        let mut out = f.debug_struct("Wechatpay");
        out.field("mchid", &pipeline.mchid)
            .field("serial", &pipeline.serial)
            .field("base_url", &pipeline.base.as_str())
            .field("platform_keys", &pipeline.verifier.ids())
            .field("private_key", &pipeline.key)
            .field("apiv3_key", &self.inner.apiv3_key);
        #[cfg(feature = "apiv2")]
        out.field("apiv2", &pipeline.apiv2);
        out.finish_non_exhaustive()
    }
}
