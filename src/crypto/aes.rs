//! AEAD_AES_256_GCM with the APIv3 key: callback `resource`s and platform certificates.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};

use crate::error::Error;

/// The merchant's APIv3 key (32 bytes, set on the merchant platform), used to decrypt
/// callback notifications and downloaded platform certificates.
///
/// `Debug` prints `Apiv3Key(..)`: the key never appears in logs or errors.
///
/// ```
/// use wechatpay::Apiv3Key;
///
/// let key = Apiv3Key::new("0123456789abcdef0123456789ABCDEF")?;
/// let sealed = key.encrypt("transaction", "0123456789ab", br#"{"trade_state":"SUCCESS"}"#)?;
/// let opened = key.decrypt("transaction", "0123456789ab", &sealed)?;
/// assert_eq!(opened, br#"{"trade_state":"SUCCESS"}"#);
/// assert_eq!(format!("{key:?}"), "Apiv3Key(..)");
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Clone)]
pub struct Apiv3Key {
    key: Arc<LessSafeKey>,
}

impl Apiv3Key {
    /// Takes the key as the merchant platform shows it: 32 ASCII characters.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if it is not exactly 32 bytes (the message gives the length found,
    /// never the key).
    pub fn new(key: &str) -> Result<Apiv3Key, Error> {
        let bytes = key.as_bytes();
        if bytes.len() != 32 {
            return Err(Error::config(format!(
                "the APIv3 key must be 32 bytes, this one has {}",
                bytes.len()
            )));
        }
        let unbound = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| Error::crypto("AES-256-GCM rejected the APIv3 key"))?;
        Ok(Apiv3Key {
            key: Arc::new(LessSafeKey::new(unbound)),
        })
    }

    /// Decrypts a base64 `ciphertext` (ciphertext followed by the 16-byte tag) with the
    /// `associated_data` and 12-character `nonce` of a notification `resource` or an
    /// `encrypt_certificate`.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] for bad base64 or nonce length; [`Error::Crypto`] if the tag does not
    /// authenticate (wrong key, or data changed in transit).
    pub fn decrypt(
        &self,
        associated_data: &str,
        nonce: &str,
        ciphertext_b64: &str,
    ) -> Result<Vec<u8>, Error> {
        let nonce = nonce_of(nonce)?;
        let mut data = base64::engine::general_purpose::STANDARD
            .decode(ciphertext_b64.trim())
            .map_err(|e| {
                Error::decode("the AES-GCM ciphertext is not base64", Some(Box::new(e)))
            })?;
        let plaintext = self
            .key
            .open_in_place(nonce, Aad::from(associated_data.as_bytes()), &mut data)
            .map_err(|_| {
                Error::crypto(
                    "AES-256-GCM authentication failed: wrong APIv3 key, or the ciphertext, nonce \
                     or associated_data were altered",
                )
            })?;
        let len = plaintext.len();
        data.truncate(len);
        Ok(data)
    }

    /// Encrypts like the platform does (for tests, the sandbox and re-encryption): returns
    /// base64 of ciphertext followed by the tag.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] if `nonce` is not 12 bytes.
    pub fn encrypt(
        &self,
        associated_data: &str,
        nonce: &str,
        plaintext: &[u8],
    ) -> Result<String, Error> {
        let nonce = nonce_of(nonce)?;
        let mut data = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(nonce, Aad::from(associated_data.as_bytes()), &mut data)
            .map_err(|_| Error::crypto("AES-256-GCM encryption failed"))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(data))
    }
}

fn nonce_of(nonce: &str) -> Result<Nonce, Error> {
    Nonce::try_assume_unique_for_key(nonce.as_bytes()).map_err(|_| {
        Error::decode(
            format!(
                "the AES-GCM nonce must be {NONCE_LEN} bytes, this one has {}",
                nonce.len()
            ),
            None,
        )
    })
}

impl fmt::Debug for Apiv3Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Apiv3Key(..)")
    }
}

/// The only encryption WeChat Pay APIv3 uses for certificates and notifications.
pub(crate) const AEAD_AES_256_GCM: &str = "AEAD_AES_256_GCM";

/// An AEAD_AES_256_GCM envelope as the platform sends it: a downloaded certificate's
/// `encrypt_certificate`, or a notification's `resource`.
#[derive(serde::Deserialize)]
pub(crate) struct Sealed {
    pub(crate) algorithm: String,
    pub(crate) nonce: String,
    #[serde(default)]
    pub(crate) associated_data: String,
    pub(crate) ciphertext: String,
}

impl Sealed {
    /// Decrypts with the APIv3 key; `what` names the thing in errors.
    pub(crate) fn open(&self, key: &Apiv3Key, what: &str) -> Result<Vec<u8>, Error> {
        if self.algorithm != AEAD_AES_256_GCM {
            return Err(Error::decode(
                format!(
                    "{what}: unsupported algorithm `{}` (only {AEAD_AES_256_GCM} is known)",
                    self.algorithm
                ),
                None,
            ));
        }
        key.decrypt(&self.associated_data, &self.nonce, &self.ciphertext)
            .map_err(|e| e.context(what))
    }
}
