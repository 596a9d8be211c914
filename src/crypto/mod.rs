//! Keys, certificates and the primitives WeChat Pay uses.
//!
//! - [`PrivateKey`]: the merchant's RSA key (PKCS#8 or PKCS#1 PEM). Signs requests
//!   (RSA PKCS#1 v1.5, SHA-256) and decrypts sensitive fields (RSA-OAEP, SHA-1).
//! - [`PublicKey`]: a platform key (SPKI, PKCS#1 or taken from a certificate). Verifies
//!   answers and notifications and encrypts sensitive fields.
//! - [`Certificate`]: an X.509 platform or merchant certificate, with its serial in the
//!   uppercase hex that `Wechatpay-Serial` uses.
//! - [`Apiv3Key`]: the 32-byte APIv3 key for AEAD_AES_256_GCM (notifications, certificates).
//!
//! Every type here is parsed once and then cheap to clone (an `Arc` inside). None of them
//! prints key material in `Debug`: private keys show a fingerprint of their public half.
//!
//! Inside the crate this module also holds the AEAD envelope of certificates and
//! notifications, the nonce generator, and the pool of threads that sign off the async
//! executor.

mod aes;
mod der;
pub(crate) mod digest;
mod keys;
mod nonce;
mod pem;
mod pool;
mod rsa;

pub use aes::Apiv3Key;
pub(crate) use aes::{Sealed, AEAD_AES_256_GCM};
pub(crate) use nonce::random_nonce;
pub(crate) use pool::off_executor;

/// The RSA signing backend this build uses: `"ring"` (the default) or `"aws-lc-rs"`
/// (cargo feature `aws-lc-rs`, about twice as fast). Both produce identical signatures.
///
/// ```
/// assert!(["ring", "aws-lc-rs"].contains(&wechatpay::crypto::signing_backend()));
/// ```
pub fn signing_backend() -> &'static str {
    if cfg!(feature = "aws-lc-rs") {
        "aws-lc-rs"
    } else {
        "ring"
    }
}

/// Use [`signing_backend`].
#[doc(hidden)]
#[deprecated(note = "use wechatpay::crypto::signing_backend()")]
pub const SIGNING_BACKEND: &str = if cfg!(feature = "aws-lc-rs") {
    "aws-lc-rs"
} else {
    "ring"
};
pub(crate) use keys::rfc3339_china;
pub use keys::{Certificate, PrivateKey, PublicKey};
