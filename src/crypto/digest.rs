//! Digests of downloaded files and uploaded parts: SHA-1, SHA-256 (ring) and SM3, the
//! `hash_type`/`hash_value` pairs the platform announces. Re-exported as
//! `wechatpay::download::{Digest, HashType}`.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

use crate::error::Error;

/// A digest algorithm named by the platform's `hash_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashType {
    /// `SHA1`: trade, fund-flow and profit-sharing bills.
    Sha1,
    /// `SHA256`: some transfer receipts.
    Sha256,
    /// `SM3` (GB/T 32905-2016): some transfer receipts.
    Sm3,
}

impl HashType {
    /// The name the platform uses: `SHA1`, `SHA256`, `SM3`.
    pub fn name(self) -> &'static str {
        match self {
            HashType::Sha1 => "SHA1",
            HashType::Sha256 => "SHA256",
            HashType::Sm3 => "SM3",
        }
    }

    /// The digest's length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashType::Sha1 => 20,
            HashType::Sha256 | HashType::Sm3 => 32,
        }
    }
}

impl fmt::Display for HashType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HashType {
    type Err = Error;

    /// Parses `SHA1`, `SHA256` or `SM3` (any case; `SHA-1` and `SHA-256` too).
    fn from_str(name: &str) -> Result<HashType, Error> {
        match name.to_ascii_uppercase().replace('-', "").as_str() {
            "SHA1" => Ok(HashType::Sha1),
            "SHA256" => Ok(HashType::Sha256),
            "SM3" => Ok(HashType::Sm3),
            _ => Err(Error::decode(
                format!("hash_type `{name}` is not one this client checks (SHA1, SHA256, SM3)"),
                None,
            )),
        }
    }
}

impl<'de> Deserialize<'de> for HashType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<HashType, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// A digest value of a known algorithm: what the platform announced, or what was computed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Digest {
    hash_type: HashType,
    bytes: Vec<u8>,
}

impl Digest {
    /// A digest from its hex text (either case), as `hash_value` carries it.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] if `hex` is not hex or not the algorithm's length.
    ///
    /// ```
    /// use wechatpay::download::{Digest, HashType};
    /// let d = Digest::from_hex(HashType::Sha1, "79BB0F45FC4C42234A918000B2668D689E2BDE04")?;
    /// assert_eq!(d.to_hex(), "79bb0f45fc4c42234a918000b2668d689e2bde04");
    /// assert!(Digest::from_hex(HashType::Sm3, "79bb0f45").is_err());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn from_hex(hash_type: HashType, hex: &str) -> Result<Digest, Error> {
        let bytes = decode_hex(hex.trim())
            .ok_or_else(|| Error::decode(format!("hash_value `{hex}` is not hexadecimal"), None))?;
        if bytes.len() != hash_type.output_len() {
            return Err(Error::decode(
                format!(
                    "hash_value has {} hex digits, but a {hash_type} digest has {}",
                    hex.trim().len(),
                    hash_type.output_len() * 2
                ),
                None,
            ));
        }
        Ok(Digest { hash_type, bytes })
    }

    /// The digest of `data`.
    pub fn of(hash_type: HashType, data: &[u8]) -> Digest {
        let mut hasher = Hasher::new(hash_type);
        hasher.update(data);
        hasher.finish()
    }

    /// The algorithm.
    pub fn hash_type(&self) -> HashType {
        self.hash_type
    }

    /// The raw digest bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex(&self.bytes)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.hash_type, self.to_hex())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.hash_type, self.to_hex())
    }
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    hex.as_bytes()
        .chunks(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

/// An incremental digest of one of the platform's algorithms.
pub(crate) struct Hasher {
    hash_type: HashType,
    inner: HasherInner,
}

enum HasherInner {
    Ring(Box<ring::digest::Context>),
    Sm3(Box<sm3::Sm3>),
}

impl Hasher {
    pub(crate) fn new(hash_type: HashType) -> Hasher {
        let inner = match hash_type {
            HashType::Sha1 => HasherInner::Ring(Box::new(ring::digest::Context::new(
                &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            ))),
            HashType::Sha256 => {
                HasherInner::Ring(Box::new(ring::digest::Context::new(&ring::digest::SHA256)))
            }
            HashType::Sm3 => HasherInner::Sm3(Box::new(<sm3::Sm3 as sm3::Digest>::new())),
        };
        Hasher { hash_type, inner }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        match &mut self.inner {
            HasherInner::Ring(context) => context.update(data),
            HasherInner::Sm3(sm3) => sm3::Digest::update(sm3.as_mut(), data),
        }
    }

    pub(crate) fn finish(self) -> Digest {
        let bytes = match self.inner {
            HasherInner::Ring(context) => context.finish().as_ref().to_vec(),
            HasherInner::Sm3(sm3) => sm3::Digest::finalize(*sm3).to_vec(),
        };
        Digest {
            hash_type: self.hash_type,
            bytes,
        }
    }
}
