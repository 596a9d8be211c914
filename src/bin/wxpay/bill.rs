//! `wxpay bill`: download a bill (or any file by its `download_url`), checked against the
//! platform's digest, with a progress line on a terminal.

use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

use wechatpay::download::{DownloadBuilder, Downloaded, HashType, Progress};
use wechatpay::Wechatpay;

use crate::cli::{BillArgs, BillName};
use crate::credentials;
use crate::failure::{Exit, Failure};

/// Downloads the bill `args` names to `args.output` and prints what was written.
///
/// # Errors
///
/// A usage failure for a bad `--hash-type` or `--hash-value`; the download's own failure
/// (transport, API, verification of the step-one answer or of the file's digest).
pub async fn run(args: BillArgs) -> Result<(), Failure> {
    let (client, _sandbox) = credentials::client_for_download(&args.credentials).await?;
    let mut download = source(&client, &args)?;
    if std::io::stderr().is_terminal() {
        download = download.on_progress(progress_line());
    }
    let result = download.to_path(&args.output).await;
    if std::io::stderr().is_terminal() {
        // End the progress line, whatever happened.
        eprintln!();
    }
    let done = result?;
    report(&args, &done)
}

/// The step-one call (or the link) the arguments name.
fn source(client: &Wechatpay, args: &BillArgs) -> Result<DownloadBuilder, Failure> {
    let download = client.download();
    if let Some(url) = &args.url {
        let hash_type: HashType = args
            .hash_type
            .parse()
            .map_err(|e: wechatpay::Error| Failure::usage(format!("--hash-type: {e}")))?;
        let Some(hash_value) = &args.hash_value else {
            return Err(Failure::usage(
                "--url needs --hash-value HEX: the digest the platform announced with the URL",
            ));
        };
        let link = wechatpay::download::DownloadLink::new(url, hash_type, hash_value)
            .map_err(|e| Failure::usage(e.to_string()))?;
        return Ok(download.link(link));
    }
    let (Some(bill), Some(date)) = (args.bill, args.date.as_deref()) else {
        return Err(Failure::usage(
            "name a bill and its date (e.g. `wxpay bill tradebill --date 2026-11-29 -o bill.csv`), or give --url",
        ));
    };
    let mut download = match bill {
        BillName::Tradebill => download.tradebill(date),
        BillName::Fundflowbill => download.fundflowbill(date),
        BillName::Profitsharing => download.profitsharing_bill(date),
        BillName::SubMerchantFundflowbill => {
            let Some(sub_mchid) = &args.sub_mchid else {
                return Err(Failure::usage(
                    "sub-merchant-fundflowbill needs --sub-mchid ID",
                ));
            };
            download.request(
                client
                    .chain("v3/bill/sub-merchant-fundflowbill")
                    .get()
                    .query("sub_mchid", sub_mchid)
                    .query("bill_date", date)
                    .query(
                        "account_type",
                        args.account_type.as_deref().unwrap_or("BASIC"),
                    )
                    .query("algorithm", "AEAD_AES_256_GCM"),
            )
        }
    };
    if !matches!(bill, BillName::SubMerchantFundflowbill) {
        if let Some(sub_mchid) = &args.sub_mchid {
            download = download.sub_mchid(sub_mchid);
        }
        if let Some(account_type) = &args.account_type {
            download = download.account_type(account_type);
        }
    }
    if let Some(bill_type) = &args.bill_type {
        download = download.bill_type(bill_type);
    }
    if args.gzip {
        download = download.gzip();
    }
    Ok(download)
}

/// A progress line on stderr, redrawn at most ten times a second.
fn progress_line() -> impl FnMut(Progress) + Send + 'static {
    let mut last = Instant::now() - Duration::from_secs(1);
    move |progress: Progress| {
        if last.elapsed() < Duration::from_millis(100) {
            return;
        }
        last = Instant::now();
        let received = match progress.total {
            Some(total) if total > 0 => format!(
                "{} of {} ({}%)",
                size(progress.received),
                size(total),
                progress.received * 100 / total
            ),
            _ => size(progress.received),
        };
        let mut stderr = io::stderr().lock();
        let _ = write!(
            stderr,
            "\r\x1b[2Kwxpay: received {received}, written {}",
            size(progress.written)
        );
        let _ = stderr.flush();
    }
}

/// `12.3 MiB`.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// One line on stdout: the file, its size, and the digest that matched.
fn report(args: &BillArgs, done: &Downloaded) -> Result<(), Failure> {
    let compressed = if done.gzip {
        format!(" (gzip, {} received)", done.received)
    } else {
        String::new()
    };
    let mut stdout = io::stdout().lock();
    writeln!(
        stdout,
        "{}: {} bytes{compressed}, {} {} verified",
        args.output.display(),
        done.bytes,
        done.digest.hash_type(),
        done.digest.to_hex()
    )
    .and_then(|()| stdout.flush())
    .map_err(|e| Failure::new(Exit::Other, format!("cannot write to standard output: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(size(512), "512 bytes");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(5 << 30), "5.0 GiB");
    }
}
