//! The builder's APIv2 settings: the APIv2 key and the merchant certificate for mutual TLS.

use std::fmt;
#[cfg(feature = "pkcs12")]
use std::path::PathBuf;

use super::WechatpayBuilder;
use crate::error::Error;
use crate::request::Apiv2Config;
use crate::v2::{Apiv2Key, MerchantIdentity};

/// What the builder was given for APIv2, checked by `build()`.
#[derive(Default)]
pub(super) struct Apiv2Settings {
    key: Option<String>,
    identity: Option<IdentitySource>,
}

enum IdentitySource {
    Ready(MerchantIdentity),
    Pem {
        cert: String,
        key: String,
    },
    #[cfg(feature = "pkcs12")]
    Pkcs12 {
        path: PathBuf,
        password: Option<String>,
    },
}

impl fmt::Debug for Apiv2Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let identity = match &self.identity {
            None => None,
            Some(IdentitySource::Ready(identity)) => Some(format!("serial {}", identity.serial())),
            Some(IdentitySource::Pem { .. }) => Some("PEM".to_owned()),
            #[cfg(feature = "pkcs12")]
            Some(IdentitySource::Pkcs12 { path, .. }) => Some(format!("{}", path.display())),
        };
        f.debug_struct("Apiv2Settings")
            .field("key", &self.key.as_ref().map(|_| ".."))
            .field("merchant_identity", &identity)
            .finish()
    }
}

impl Apiv2Settings {
    /// Parses the key and loads the certificate; `mchid` is the PKCS#12 password unless
    /// another was given.
    pub(super) fn resolve(self, mchid: &str) -> Result<Apiv2Config, Error> {
        let key = self.key.as_deref().map(Apiv2Key::new).transpose()?;
        let identity = match self.identity {
            None => None,
            Some(IdentitySource::Ready(identity)) => Some(identity),
            Some(IdentitySource::Pem { cert, key }) => Some(
                MerchantIdentity::from_pem(&cert, &key)
                    .map_err(|e| e.context("merchant_certificate_pem"))?,
            ),
            #[cfg(feature = "pkcs12")]
            Some(IdentitySource::Pkcs12 { path, password }) => Some(
                MerchantIdentity::from_pkcs12_file(&path, password.as_deref().unwrap_or(mchid))
                    .map_err(|e| e.context("merchant_p12"))?,
            ),
        };
        let _ = mchid;
        Ok(Apiv2Config { key, identity })
    }
}

impl WechatpayBuilder {
    /// The APIv2 key (32 characters, set under "API安全" on the merchant platform): it
    /// signs every `v2/…` call and checks every APIv2 answer and notification. A secret
    /// like the APIv3 key: never printed (`Debug` shows `..`), checked by
    /// [`build`](Self::build).
    ///
    /// ```
    /// use serde_json::json;
    ///
    /// let builder = wechatpay::sandbox::offline_client_builder()?.apiv2_key("exposed_your_key_here_have_risks");
    /// assert!(!format!("{builder:?}").contains("exposed"));
    /// let wxpay = builder.build()?;
    /// let request = wxpay.chain("v2/pay/orderquery")
    ///     .post(json!({ "appid": "wx2421b1c4370ec43b", "mch_id": "1900000001", "out_trade_no": "1415757673" }))
    ///     .nonce("5K8264ILTKCH16CQ2502SI8ZNMTM67VS")
    ///     .build()?;
    /// assert_eq!(request.uri(), "https://api.mch.weixin.qq.com/pay/orderquery"); // `v2/` is the chain's
    /// let xml = std::str::from_utf8(request.body())?;
    /// assert!(xml.contains("<nonce_str>5K8264ILTKCH16CQ2502SI8ZNMTM67VS</nonce_str><sign>"));
    ///
    /// assert!(wechatpay::sandbox::offline_client_builder()?.apiv2_key("short").build().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apiv2_key(mut self, key: impl Into<String>) -> Self {
        self.apiv2.key = Some(key.into());
        self
    }

    /// The merchant certificate and key that APIv2 calls needing mutual TLS present
    /// (`secapi/pay/refund`, red packets, transfers: [`v2::endpoint`](crate::v2::endpoint)
    /// says which). The client then keeps a second connection pool for them, with the same
    /// TLS roots as the first. Without it, such a call is [`Error::Config`] naming this
    /// setting.
    ///
    /// ```
    /// let wxpay = wechatpay::sandbox::offline_client_builder()?
    ///     .merchant_identity(wechatpay::sandbox::merchant_identity()?)
    ///     .build()?;
    /// assert!(wxpay.merchant_identity().is_some());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn merchant_identity(mut self, identity: MerchantIdentity) -> Self {
        self.apiv2.identity = Some(IdentitySource::Ready(identity));
        self
    }

    /// [`merchant_identity`](Self::merchant_identity) from the PEM texts of
    /// `apiclient_cert.pem` and `apiclient_key.pem` (the key that signs APIv3 requests);
    /// [`build`](Self::build) reports a text that does not load.
    ///
    /// ```
    /// use wechatpay::sandbox;
    ///
    /// let wxpay = sandbox::offline_client_builder()?
    ///     .merchant_certificate_pem(sandbox::MERCHANT_TLS_CERTIFICATE_PEM, sandbox::MERCHANT_PRIVATE_KEY_PEM)
    ///     .build()?;
    /// assert!(wxpay.merchant_identity().is_some());
    /// let mismatched = sandbox::offline_client_builder()?
    ///     .merchant_certificate_pem(sandbox::MERCHANT_TLS_CERTIFICATE_PEM, sandbox::PLATFORM_PRIVATE_KEY_PEM)
    ///     .build();
    /// assert!(mismatched.unwrap_err().to_string().contains("does not belong"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn merchant_certificate_pem(
        mut self,
        cert_pem: impl Into<String>,
        key_pem: impl Into<String>,
    ) -> Self {
        self.apiv2.identity = Some(IdentitySource::Pem {
            cert: cert_pem.into(),
            key: key_pem.into(),
        });
        self
    }

    /// [`merchant_identity`](Self::merchant_identity) from the merchant platform's
    /// `apiclient_cert.p12`, whose password is the merchant id; read by
    /// [`build`](Self::build). Needs the cargo feature `pkcs12`.
    #[cfg(feature = "pkcs12")]
    pub fn merchant_p12(mut self, path: impl Into<PathBuf>) -> Self {
        self.apiv2.identity = Some(IdentitySource::Pkcs12 {
            path: path.into(),
            password: None,
        });
        self
    }

    /// [`merchant_p12`](Self::merchant_p12) with a password other than the merchant id (a
    /// file exported again). Needs the cargo feature `pkcs12`.
    #[cfg(feature = "pkcs12")]
    pub fn merchant_p12_with_password(
        mut self,
        path: impl Into<PathBuf>,
        password: impl Into<String>,
    ) -> Self {
        self.apiv2.identity = Some(IdentitySource::Pkcs12 {
            path: path.into(),
            password: Some(password.into()),
        });
        self
    }
}
