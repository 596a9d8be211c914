//! Who signs and whom to trust: flags and environment (through clap), then the config
//! file for whatever they leave out; none at all means the embedded sandbox.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};
use wechatpay::v2::MerchantIdentity;
use wechatpay::{PrivateKey, PublicKey, Wechatpay, WechatpayBuilder};

use crate::cli::CredentialArgs;
use crate::failure::Failure;

/// The credentials as given, each possibly missing.
#[derive(Debug, Default)]
struct Given {
    mchid: Option<String>,
    serial: Option<String>,
    private_key: Option<PathBuf>,
    platform_keys: Vec<(String, PathBuf)>,
    apiv3_key_file: Option<PathBuf>,
    apiv2_key_file: Option<PathBuf>,
    merchant_cert: Option<PathBuf>,
    merchant_key: Option<PathBuf>,
    merchant_p12: Option<PathBuf>,
    base_url: Option<String>,
}

/// What the credentials ask for.
#[derive(Debug)]
pub enum Credentials {
    /// None given: the embedded sandbox.
    Sandbox,
    /// A complete set: a client for the merchant.
    Merchant(Wechatpay),
}

/// The client the credentials give, or, without credentials, the embedded sandbox's (then
/// started, announced on stderr as the source of the download, and returned so that it
/// outlives the call).
///
/// # Errors
///
/// What [`resolve`] reports; a transport failure if the sandbox cannot start.
pub async fn client_for_download(
    args: &CredentialArgs,
) -> Result<(Wechatpay, Option<wechatpay::sandbox::Sandbox>), Failure> {
    match resolve(args)? {
        Credentials::Merchant(client) => Ok((client, None)),
        Credentials::Sandbox => {
            let sandbox = wechatpay::sandbox::Sandbox::start().await?;
            eprintln!(
                "wxpay: no credentials given; downloading from the embedded sandbox at {} (test keys)",
                sandbox.base_url()
            );
            Ok((sandbox.client(), Some(sandbox)))
        }
    }
}

/// Merges flags, environment and config file, and loads the keys.
///
/// # Errors
///
/// A configuration failure for an unreadable or invalid config file, an incomplete set
/// of credentials (naming what is missing), or a key file that cannot be loaded.
pub fn resolve(args: &CredentialArgs) -> Result<Credentials, Failure> {
    let mut given = Given {
        mchid: args.mchid.clone(),
        serial: args.serial.clone(),
        private_key: args.private_key.clone(),
        platform_keys: args
            .platform_keys
            .iter()
            .map(|pair| (pair.name.clone(), PathBuf::from(&pair.value)))
            .collect(),
        apiv3_key_file: args.apiv3_key_file.clone(),
        apiv2_key_file: args.apiv2_key_file.clone(),
        merchant_cert: args.merchant_cert.clone(),
        merchant_key: args.merchant_key.clone(),
        merchant_p12: args.merchant_p12.clone(),
        base_url: args.base_url.clone(),
    };
    if let Some(path) = &args.config {
        given = given.or(ConfigFile::load(path)?.into_given(path));
    }
    if given.is_empty() {
        return Ok(Credentials::Sandbox);
    }
    let missing = given.missing();
    if !missing.is_empty() {
        return Err(Failure::config(format!(
            "incomplete credentials: missing {}; give all of them, or none to use the embedded sandbox",
            missing.join(", ")
        )));
    }
    given.build().map(Credentials::Merchant)
}

impl Given {
    /// `self`, with each missing field taken from `fallback` (platform keys as a whole).
    fn or(self, fallback: Given) -> Given {
        // The certificate comes from one source as a whole: flags (or their variables),
        // else the file.
        let own_certificate = self.merchant_cert.is_some() || self.merchant_p12.is_some();
        Given {
            mchid: self.mchid.or(fallback.mchid),
            serial: self.serial.or(fallback.serial),
            private_key: self.private_key.or(fallback.private_key),
            platform_keys: if self.platform_keys.is_empty() {
                fallback.platform_keys
            } else {
                self.platform_keys
            },
            apiv3_key_file: self.apiv3_key_file.or(fallback.apiv3_key_file),
            apiv2_key_file: self.apiv2_key_file.or(fallback.apiv2_key_file),
            merchant_cert: if own_certificate {
                self.merchant_cert
            } else {
                fallback.merchant_cert
            },
            merchant_key: self.merchant_key.or(fallback.merchant_key),
            merchant_p12: if own_certificate {
                self.merchant_p12
            } else {
                fallback.merchant_p12
            },
            base_url: self.base_url.or(fallback.base_url),
        }
    }

    fn is_empty(&self) -> bool {
        self.mchid.is_none()
            && self.serial.is_none()
            && self.private_key.is_none()
            && self.platform_keys.is_empty()
            && self.apiv3_key_file.is_none()
            && self.apiv2_key_file.is_none()
            && self.merchant_cert.is_none()
            && self.merchant_key.is_none()
            && self.merchant_p12.is_none()
            && self.base_url.is_none()
    }

    /// The required settings that are absent, as the user would give them.
    fn missing(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if self.mchid.is_none() {
            missing.push("--mchid (WECHATPAY_MCHID)");
        }
        if self.serial.is_none() {
            missing.push("--serial (WECHATPAY_SERIAL)");
        }
        if self.private_key.is_none() {
            missing.push("--private-key (WECHATPAY_PRIVATE_KEY)");
        }
        // With the APIv3 key the platform certificates can be downloaded instead.
        if self.platform_keys.is_empty() && self.apiv3_key_file.is_none() {
            missing.push("--platform-key (WECHATPAY_PLATFORM_KEYS) or --apiv3-key-file");
        }
        missing
    }

    /// Loads the key files and builds the client.
    fn build(self) -> Result<Wechatpay, Failure> {
        // On the platform, apiclient_key.pem both signs and authenticates mutual TLS.
        let tls_key = self
            .merchant_key
            .clone()
            .or_else(|| self.private_key.clone());
        let mut builder = Wechatpay::builder();
        if let Some(mchid) = self.mchid {
            builder = builder.mchid(mchid);
        }
        if let Some(serial) = self.serial {
            builder = builder.serial(serial);
        }
        if let Some(path) = self.private_key {
            builder = builder.private_key(PrivateKey::from_pem_file(path)?);
        }
        for (id, path) in self.platform_keys {
            builder = builder.platform_key(id, PublicKey::from_pem_file(path)?);
        }
        if let Some(path) = self.apiv3_key_file {
            builder = builder.apiv3_key(read_apiv3_key(&path)?);
        }
        if let Some(path) = self.apiv2_key_file {
            builder = builder.apiv2_key(read_key_file(&path, "APIv2")?);
        }
        if let Some(cert) = self.merchant_cert {
            let key = tls_key.ok_or_else(|| {
                Failure::config("--merchant-cert needs its key: --merchant-key or --private-key")
            })?;
            builder = builder.merchant_identity(MerchantIdentity::from_pem_files(cert, key)?);
        } else if self.merchant_key.is_some() {
            return Err(Failure::config(
                "--merchant-key is the key of --merchant-cert: give the certificate too",
            ));
        }
        if let Some(path) = self.merchant_p12 {
            builder = with_p12(builder, path)?;
        }
        if let Some(url) = self.base_url {
            builder = builder.base_url(url);
        }
        Ok(builder.build()?)
    }
}

/// The APIv3 key from its file, surrounding whitespace (a final newline) ignored. The
/// key itself never appears in a message.
fn read_apiv3_key(path: &Path) -> Result<String, Failure> {
    read_key_file(path, "APIv3")
}

/// An APIv3 or APIv2 key from its file, surrounding whitespace ignored; never shown.
fn read_key_file(path: &Path, which: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map(|text| text.trim().to_owned())
        .map_err(|e| {
            Failure::config(format!(
                "cannot read the {which} key file `{}`: {e}",
                path.display()
            ))
        })
}

/// The merchant certificate from `apiclient_cert.p12` (password: the merchant id).
#[cfg(feature = "pkcs12")]
fn with_p12(builder: WechatpayBuilder, path: PathBuf) -> Result<WechatpayBuilder, Failure> {
    Ok(builder.merchant_p12(path))
}

#[cfg(not(feature = "pkcs12"))]
fn with_p12(_: WechatpayBuilder, path: PathBuf) -> Result<WechatpayBuilder, Failure> {
    Err(Failure::config(format!(
        "--merchant-p12: this wxpay was built without PKCS#12 support; convert `{}` once with \
         `openssl pkcs12 -legacy -in apiclient_cert.p12 -nodes -out apiclient.pem` and use \
         --merchant-cert, or build wxpay with `--features pkcs12`",
        path.display()
    )))
}

/// The config file (TOML or JSON), every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default, deserialize_with = "text_or_number")]
    mchid: Option<String>,
    serial: Option<String>,
    private_key: Option<PathBuf>,
    #[serde(default)]
    platform_keys: BTreeMap<String, PathBuf>,
    apiv3_key_file: Option<PathBuf>,
    apiv2_key_file: Option<PathBuf>,
    merchant_cert: Option<PathBuf>,
    merchant_key: Option<PathBuf>,
    merchant_p12: Option<PathBuf>,
    base_url: Option<String>,
}

impl ConfigFile {
    /// Reads and parses `path`: TOML for `.toml`, JSON for `.json`, else whichever parses.
    fn load(path: &Path) -> Result<ConfigFile, Failure> {
        let shown = path.display();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::config(format!("cannot read the config file `{shown}`: {e}")))?;
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        let parsed = match extension.to_ascii_lowercase().as_str() {
            "toml" => from_toml(&text),
            "json" => from_json(&text),
            _ => from_toml(&text).or_else(|toml_error| {
                from_json(&text).map_err(|json_error| {
                    format!("neither TOML ({toml_error}) nor JSON ({json_error})")
                })
            }),
        };
        parsed.map_err(|why| Failure::config(format!("config file `{shown}`: {why}")))
    }

    /// The settings, with relative key paths resolved against the file's directory.
    fn into_given(self, path: &Path) -> Given {
        let dir = path.parent().unwrap_or(Path::new(""));
        Given {
            mchid: self.mchid,
            serial: self.serial,
            private_key: self.private_key.map(|p| dir.join(p)),
            platform_keys: self
                .platform_keys
                .into_iter()
                .map(|(id, p)| (id, dir.join(p)))
                .collect(),
            apiv3_key_file: self.apiv3_key_file.map(|p| dir.join(p)),
            apiv2_key_file: self.apiv2_key_file.map(|p| dir.join(p)),
            merchant_cert: self.merchant_cert.map(|p| dir.join(p)),
            merchant_key: self.merchant_key.map(|p| dir.join(p)),
            merchant_p12: self.merchant_p12.map(|p| dir.join(p)),
            base_url: self.base_url,
        }
    }
}

fn from_toml(text: &str) -> Result<ConfigFile, String> {
    toml::from_str(text).map_err(|e| {
        let message = e.message().trim().to_owned();
        match e.span() {
            Some(span) => {
                let (line, column) = line_and_column(text, span.start);
                format!("invalid TOML at line {line}, column {column}: {message}")
            }
            None => format!("invalid TOML: {message}"),
        }
    })
}

fn from_json(text: &str) -> Result<ConfigFile, String> {
    serde_json::from_str(text).map_err(|e| {
        let full = e.to_string();
        let position = format!(" at line {} column {}", e.line(), e.column());
        let message = full.strip_suffix(&position).unwrap_or(&full);
        format!(
            "invalid JSON at line {}, column {}: {message}",
            e.line(),
            e.column()
        )
    })
}

/// 1-based line and column of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

/// A merchant id written as text (`"1900000001"`) or as a number (`1900000001`).
fn text_or_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a merchant id, as text or a number")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
    }
    deserializer.deserialize_any(Visitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_and_json_read_the_same_fields() {
        let toml = from_toml(
            "mchid = 1900000001\nserial = \"AB\"\nprivate_key = \"k.pem\"\n[platform_keys]\nPUB_KEY_ID_1 = \"p.pem\"\n",
        )
        .unwrap();
        let json = from_json(
            r#"{"mchid": "1900000001", "serial": "AB", "private_key": "k.pem", "platform_keys": {"PUB_KEY_ID_1": "p.pem"}}"#,
        )
        .unwrap();
        for config in [toml, json] {
            let given = config.into_given(Path::new("/etc/wxpay/config"));
            assert_eq!(given.mchid.as_deref(), Some("1900000001"));
            assert_eq!(given.private_key, Some(PathBuf::from("/etc/wxpay/k.pem")));
            assert_eq!(
                given.platform_keys,
                vec![("PUB_KEY_ID_1".to_owned(), PathBuf::from("/etc/wxpay/p.pem"))]
            );
            assert!(given.missing().is_empty());
        }
    }

    #[test]
    fn config_errors_say_where() {
        let error = from_toml("mchid = \"1\"\nprivatekey = \"k.pem\"\n").unwrap_err();
        assert!(
            error.starts_with("invalid TOML at line 2, column 1: unknown field `privatekey`"),
            "{error}"
        );
        let error = from_json("{\"mchid\": }").unwrap_err();
        assert!(
            error.starts_with("invalid JSON at line 1, column 11"),
            "{error}"
        );
    }

    #[test]
    fn flags_win_over_the_config_file() {
        let flags = Given {
            mchid: Some("1".into()),
            ..Given::default()
        };
        let file = Given {
            mchid: Some("2".into()),
            serial: Some("AB".into()),
            ..Given::default()
        };
        let merged = flags.or(file);
        assert_eq!(merged.mchid.as_deref(), Some("1"));
        assert_eq!(merged.serial.as_deref(), Some("AB"));
    }
}
