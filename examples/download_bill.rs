//! Bill downloads, offline: the trade bill of a day asked for gzip-compressed, streamed to
//! a file (decompressed on the fly, its SHA-1 checked, renamed into place only then) with
//! progress; a link kept from step one and downloaded later into memory; and a file whose
//! digest does not match, refused with nothing left behind.
//!
//! Run: `cargo run --example download_bill`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use wechatpay::sandbox::bills::BillFault;
use wechatpay::sandbox::{BillServing, Sandbox};

/// Runs the downloads into `dir`; returns what happened, one line each.
pub async fn run(dir: &std::path::Path) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let sandbox = Sandbox::start().await?;
    sandbox.serve_bills(BillServing::new().rows(20_000));
    let wxpay = sandbox.client();
    let mut log = Vec::new();

    // README: begin
    // Step one (GET v3/bill/tradebill, verified), then the file: streamed, gunzipped,
    // its SHA-1 checked, and renamed to tradebill.csv only once it matches.
    let seen = Arc::new(AtomicU64::new(0));
    let progress = Arc::clone(&seen);
    let done = wxpay
        .download()
        .tradebill("2026-11-29")
        .bill_type("ALL")
        .gzip()
        .on_progress(move |p| progress.store(p.written, Ordering::Relaxed))
        .to_path(dir.join("tradebill.csv"))
        .await?;
    log.push(format!(
        "tradebill.csv: {} bytes from {} gzip bytes, {} verified (progress saw {})",
        done.bytes,
        done.received,
        done.digest.hash_type(),
        seen.load(Ordering::Relaxed)
    ));

    // Step one alone: a link to keep, downloaded later (here into memory).
    let link = wxpay
        .download()
        .fundflowbill("2026-11-29")
        .fetch_link()
        .await?;
    let mut fund_flow = Vec::new();
    wxpay
        .download()
        .link(link)
        .to_writer(&mut fund_flow)
        .await?;
    log.push(format!(
        "fund-flow bill: {} bytes in memory",
        fund_flow.len()
    ));

    // A file whose digest is not the announced one is refused, and nothing is left.
    sandbox.serve_bills(BillServing::new().fault(BillFault::WrongDigest));
    let refused = wxpay
        .download()
        .tradebill("2026-11-30")
        .to_path(dir.join("tampered.csv"))
        .await
        .unwrap_err();
    log.push(format!(
        "refused (verification: {}): {refused}; tampered.csv exists: {}",
        refused.is_verification(),
        dir.join("tampered.csv").exists()
    ));
    // README: end

    Ok(log)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("wechatpay-bills-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    for line in run(&dir).await? {
        println!("{line}");
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
