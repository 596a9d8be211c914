//! Nonces: random `[0-9A-Za-z]` strings from the system CSPRNG.

use ring::rand::{SecureRandom, SystemRandom};

use crate::error::Error;

const NONCE_ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `len` characters of `[0-9A-Za-z]` from the system CSPRNG, without modulo bias
/// (bytes >= 248 are drawn again).
pub(crate) fn random_nonce(len: usize) -> Result<String, Error> {
    let rng = SystemRandom::new();
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 48];
    while out.len() < len {
        rng.fill(&mut buf)
            .map_err(|_| Error::crypto("the system random number generator failed"))?;
        for b in buf {
            if b < 248 && out.len() < len {
                out.push(NONCE_ALPHABET[usize::from(b % 62)] as char);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_alphanumeric_and_distinct() {
        let a = random_nonce(32).unwrap();
        let b = random_nonce(32).unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }
}
