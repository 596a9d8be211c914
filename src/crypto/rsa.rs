//! RSA: PKCS#1 v1.5 SHA-256 signatures and RSA-OAEP (SHA-1, MGF1-SHA1).
//!
//! Signing sits behind one small interface, [`SigningKey`], with two backends: ring (the
//! default) and aws-lc-rs (cargo feature `aws-lc-rs`, faster RSA). Both produce the same
//! bytes: PKCS#1 v1.5 is deterministic.

use aws_lc_rs::rsa::{
    OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey,
    OAEP_SHA1_MGF1SHA1,
};
#[cfg(not(feature = "aws-lc-rs"))]
use ring::rand::SystemRandom;

use crate::error::Error;

/// A merchant signing key, parsed once.
pub(crate) struct SigningKey {
    #[cfg(not(feature = "aws-lc-rs"))]
    pair: ring::rsa::KeyPair,
    #[cfg(feature = "aws-lc-rs")]
    pair: aws_lc_rs::rsa::KeyPair,
}

impl SigningKey {
    /// From PKCS#8 DER (PKCS#1 keys are wrapped into PKCS#8 by the caller).
    pub(crate) fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, String> {
        #[cfg(not(feature = "aws-lc-rs"))]
        let pair = ring::rsa::KeyPair::from_pkcs8(pkcs8).map_err(|e| e.to_string())?;
        #[cfg(feature = "aws-lc-rs")]
        let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(pkcs8).map_err(|e| e.to_string())?;
        Ok(SigningKey { pair })
    }

    /// The PKCS#1 `RSAPublicKey` DER of this key's public half.
    pub(crate) fn public_pkcs1(&self) -> Vec<u8> {
        #[cfg(feature = "aws-lc-rs")]
        use aws_lc_rs::signature::KeyPair as _;
        #[cfg(not(feature = "aws-lc-rs"))]
        use ring::signature::KeyPair as _;
        self.pair.public_key().as_ref().to_vec()
    }

    /// The signature length in bytes (256 for RSA-2048).
    pub(crate) fn signature_len(&self) -> usize {
        #[cfg(not(feature = "aws-lc-rs"))]
        return self.pair.public().modulus_len();
        #[cfg(feature = "aws-lc-rs")]
        self.pair.public_modulus_len()
    }

    /// RSA PKCS#1 v1.5 with SHA-256 over `message`.
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let mut signature = vec![0; self.signature_len()];
        #[cfg(not(feature = "aws-lc-rs"))]
        let result = self.pair.sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            message,
            &mut signature,
        );
        #[cfg(feature = "aws-lc-rs")]
        let result = self.pair.sign(
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            message,
            &mut signature,
        );
        result.map_err(|_| Error::crypto("RSA signing failed"))?;
        Ok(signature)
    }
}

/// Verifies an RSA PKCS#1 v1.5 SHA-256 signature with a PKCS#1 `RSAPublicKey`.
pub(crate) fn verify(public_pkcs1: &[u8], message: &[u8], signature: &[u8]) -> bool {
    ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        public_pkcs1,
    )
    .verify(message, signature)
    .is_ok()
}

/// RSA-OAEP (SHA-1, MGF1-SHA1) encryption, as WeChat Pay's sensitive fields use.
pub(crate) fn oaep_encrypt(
    key: &OaepPublicEncryptingKey,
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    let max = key.max_plaintext_size(&OAEP_SHA1_MGF1SHA1);
    if plaintext.len() > max {
        return Err(Error::crypto(format!(
            "RSA-OAEP plaintext is {} bytes; a {}-bit key takes at most {max}",
            plaintext.len(),
            key.key_size_bits()
        )));
    }
    let mut out = vec![0; key.ciphertext_size()];
    let len = key
        .encrypt(&OAEP_SHA1_MGF1SHA1, plaintext, &mut out, None)
        .map_err(|_| Error::crypto("RSA-OAEP encryption failed"))?
        .len();
    out.truncate(len);
    Ok(out)
}

/// RSA-OAEP (SHA-1, MGF1-SHA1) decryption.
pub(crate) fn oaep_decrypt(
    key: &OaepPrivateDecryptingKey,
    ciphertext: &[u8],
) -> Result<Vec<u8>, Error> {
    let mut out = vec![0; key.min_output_size()];
    let len = key
        .decrypt(&OAEP_SHA1_MGF1SHA1, ciphertext, &mut out, None)
        .map_err(|_| {
            Error::crypto(
                "RSA-OAEP decryption failed: the ciphertext was not made for this private key \
                 (or is not SHA-1/MGF1-SHA1 OAEP)",
            )
        })?
        .len();
    out.truncate(len);
    Ok(out)
}

pub(crate) fn oaep_public(spki: &[u8]) -> Result<OaepPublicEncryptingKey, String> {
    let key = PublicEncryptingKey::from_der(spki).map_err(|e| e.to_string())?;
    OaepPublicEncryptingKey::new(key).map_err(|e| e.to_string())
}

pub(crate) fn oaep_private(pkcs8: &[u8]) -> Result<OaepPrivateDecryptingKey, String> {
    let key = PrivateDecryptingKey::from_pkcs8(pkcs8).map_err(|e| e.to_string())?;
    OaepPrivateDecryptingKey::new(key).map_err(|e| e.to_string())
}
