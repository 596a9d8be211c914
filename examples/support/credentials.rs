//! The merchant's client from the environment variables the `wxpay` command line reads,
//! or the sandbox's test keys when none is set (so the examples receive the
//! notifications `wechatpay::sandbox` makes).
//!
//! `WECHATPAY_MCHID`, `WECHATPAY_SERIAL`, `WECHATPAY_PRIVATE_KEY` (a PEM file),
//! `WECHATPAY_APIV3_KEY_FILE` (needed: notifications are encrypted with the APIv3 key),
//! optionally `WECHATPAY_PLATFORM_KEYS` (`ID=PATH,ID=PATH`; without it the platform
//! certificates are downloaded and refreshed) and `WECHATPAY_BASE_URL`.

use std::env;
use std::error::Error;
use std::time::Duration;

use wechatpay::{PrivateKey, PublicKey, Wechatpay};

const NAMES: [&str; 6] = [
    "WECHATPAY_MCHID",
    "WECHATPAY_SERIAL",
    "WECHATPAY_PRIVATE_KEY",
    "WECHATPAY_APIV3_KEY_FILE",
    "WECHATPAY_PLATFORM_KEYS",
    "WECHATPAY_BASE_URL",
];

fn var(name: &str) -> Option<String> {
    env::var(name).ok().filter(|value| !value.trim().is_empty())
}

fn required(name: &str) -> Result<String, Box<dyn Error>> {
    var(name).ok_or_else(|| {
        format!("{name} is not set: set it, or none of the WECHATPAY_* variables to use the sandbox's test keys")
            .into()
    })
}

pub fn client_from_env() -> Result<Wechatpay, Box<dyn Error>> {
    if NAMES.iter().all(|name| var(name).is_none()) {
        eprintln!("no WECHATPAY_* credentials: trusting the sandbox's test keys");
        return Ok(wechatpay::sandbox::offline_client()?);
    }
    let apiv3_key_file = required("WECHATPAY_APIV3_KEY_FILE")?;
    let apiv3_key = std::fs::read_to_string(&apiv3_key_file)
        .map_err(|e| format!("cannot read WECHATPAY_APIV3_KEY_FILE `{apiv3_key_file}`: {e}"))?;
    let mut builder = Wechatpay::builder()
        .mchid(required("WECHATPAY_MCHID")?)
        .serial(required("WECHATPAY_SERIAL")?)
        .private_key(PrivateKey::from_pem_file(required(
            "WECHATPAY_PRIVATE_KEY",
        )?)?)
        .apiv3_key(apiv3_key.trim());
    match var("WECHATPAY_PLATFORM_KEYS") {
        Some(pairs) => {
            for pair in pairs.split(',').filter(|pair| !pair.trim().is_empty()) {
                let (id, path) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("WECHATPAY_PLATFORM_KEYS: `{pair}` is not ID=PATH"))?;
                builder = builder.platform_key(id.trim(), PublicKey::from_pem_file(path.trim())?);
            }
        }
        None => builder = builder.auto_refresh_certificates(Duration::from_secs(12 * 3600)),
    }
    if let Some(url) = var("WECHATPAY_BASE_URL") {
        builder = builder.base_url(url);
    }
    Ok(builder.build()?)
}
