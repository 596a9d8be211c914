//! `wxpay crt`: download the platform certificates and write them as PEM files.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use wechatpay::{Error, PlatformCertificate, Wechatpay};

use crate::cli::CrtArgs;
use crate::credentials;
use crate::failure::{Exit, Failure};

/// Downloads, writes `wechatpay_<SERIAL>.pem` files into `args.output`, and prints one
/// line per certificate: serial, validity, path.
///
/// # Errors
///
/// A configuration failure without the APIv3 key; the download's own failure
/// (transport, API, verification); any other failure if a file cannot be written.
pub async fn run(args: CrtArgs) -> Result<(), Failure> {
    // The sandbox, if used, must outlive the download.
    let (client, _sandbox) = credentials::client_for_download(&args.credentials).await?;
    let certificates = download(&client).await?;
    if certificates.is_empty() {
        eprintln!("wxpay: the platform delivered no certificates (a merchant in public-key mode has none)");
    }
    write_all(&args.output, &certificates)
}

/// Downloads the certificates; without the APIv3 key, says how to give it.
pub async fn download(client: &Wechatpay) -> Result<Vec<PlatformCertificate>, Failure> {
    client.download_certificates().await.map_err(|e| match e {
        Error::Config { message } => Failure::config(format!(
            "{message}; give the APIv3 key file with --apiv3-key-file PATH \
             (WECHATPAY_APIV3_KEY_FILE, or apiv3_key_file in the config file)"
        )),
        other => other.into(),
    })
}

fn write_all(dir: &Path, certificates: &[PlatformCertificate]) -> Result<(), Failure> {
    let cannot = |what: String, e: io::Error| Failure::new(Exit::Other, format!("{what}: {e}"));
    fs::create_dir_all(dir).map_err(|e| {
        cannot(
            format!("cannot create the directory `{}`", dir.display()),
            e,
        )
    })?;
    let mut stdout = io::stdout().lock();
    for certificate in certificates {
        let path = dir.join(format!("wechatpay_{}.pem", certificate.serial()));
        fs::write(&path, certificate.to_pem())
            .map_err(|e| cannot(format!("cannot write `{}`", path.display()), e))?;
        writeln!(
            stdout,
            "{}  valid {} .. {}  {}",
            certificate.serial(),
            certificate.effective_time(),
            certificate.expire_time(),
            path.display()
        )
        .map_err(|e| cannot("cannot write to standard output".into(), e))?;
    }
    stdout
        .flush()
        .map_err(|e| cannot("cannot write to standard output".into(), e))
}
