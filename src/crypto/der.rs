//! The few DER wrappings the key formats need.
//!
//! ring verifies with a PKCS#1 `RSAPublicKey`, aws-lc-rs encrypts with an SPKI and decrypts
//! with PKCS#8; a key arrives in whichever form the merchant has. These helpers convert
//! between the RSA forms without a general ASN.1 library.

/// `AlgorithmIdentifier { rsaEncryption, NULL }`.
const RSA_ALGORITHM: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

/// The rsaEncryption OID, 1.2.840.113549.1.1.1.
pub(crate) const RSA_ENCRYPTION_OID: &str = "1.2.840.113549.1.1.1";

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn tlv(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(len + 6);
    out.push(tag);
    push_len(&mut out, len);
    for part in parts {
        out.extend_from_slice(part);
    }
    out
}

/// PKCS#1 `RSAPublicKey` -> `SubjectPublicKeyInfo`.
pub(crate) fn spki_from_pkcs1(pkcs1: &[u8]) -> Vec<u8> {
    let bit_string = tlv(0x03, &[&[0x00], pkcs1]);
    tlv(0x30, &[RSA_ALGORITHM, &bit_string])
}

/// PKCS#1 `RSAPrivateKey` -> PKCS#8 `PrivateKeyInfo`.
pub(crate) fn pkcs8_from_pkcs1(pkcs1: &[u8]) -> Vec<u8> {
    let octets = tlv(0x04, &[pkcs1]);
    tlv(0x30, &[&[0x02, 0x01, 0x00], RSA_ALGORITHM, &octets])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lengths_use_the_minimal_long_form() {
        let mut out = Vec::new();
        push_len(&mut out, 0x7f);
        push_len(&mut out, 0x80);
        push_len(&mut out, 0x0122);
        assert_eq!(out, [0x7f, 0x81, 0x80, 0x82, 0x01, 0x22]);
    }
}
