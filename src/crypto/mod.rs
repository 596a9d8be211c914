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

mod aes;
mod der;
mod keys;
mod pem;
mod rsa;

pub use aes::Apiv3Key;

/// The RSA signing backend this build uses: `"ring"` (the default) or `"aws-lc-rs"`
/// (cargo feature `aws-lc-rs`, about twice as fast). Both produce identical signatures.
#[cfg(not(feature = "aws-lc-rs"))]
pub const SIGNING_BACKEND: &str = "ring";
/// The RSA signing backend this build uses: `"ring"` (the default) or `"aws-lc-rs"`
/// (cargo feature `aws-lc-rs`, about twice as fast). Both produce identical signatures.
#[cfg(feature = "aws-lc-rs")]
pub const SIGNING_BACKEND: &str = "aws-lc-rs";
pub(crate) use keys::rfc3339_china;
pub use keys::{Certificate, PrivateKey, PublicKey};
pub(crate) use rsa::random_nonce;
