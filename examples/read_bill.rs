//! Reading a downloaded trade bill, offline: records by column name into a type of your
//! own, totals per trade state, and the platform's summary line, one line in memory at a
//! time whatever the size of the bill.
//!
//! Run: `cargo run --example read_bill`

use std::collections::BTreeMap;
use std::io::BufReader;

use serde::Deserialize;
use wechatpay::bill::BillReader;
use wechatpay::sandbox::{BillServing, Sandbox};

/// Downloads the trade bill of a day into `dir` and reads it; returns what it found.
pub async fn run(dir: &std::path::Path) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let sandbox = Sandbox::start().await?;
    sandbox.serve_bills(BillServing::new().rows(1_000));
    let path = dir.join("tradebill-2026-11-29.csv");
    sandbox
        .client()
        .download()
        .tradebill("2026-11-29")
        .to_path(&path)
        .await?;
    let mut log = Vec::new();

    // README: begin
    #[derive(Deserialize)]
    struct Trade {
        #[serde(rename = "商户订单号")]
        out_trade_no: String,
        #[serde(rename = "交易状态")]
        state: String,
        #[serde(rename = "应结订单金额")]
        settlement: f64,
    }

    // Columns are found by name (the BOM, the backticks and the summary are handled).
    let mut bill = BillReader::new(BufReader::new(std::fs::File::open(&path)?))?;
    let mut per_state: BTreeMap<String, (u64, f64)> = BTreeMap::new();
    let mut first = None;
    for record in &mut bill {
        let trade: Trade = record?.deserialize()?;
        first.get_or_insert(trade.out_trade_no);
        let entry = per_state.entry(trade.state).or_default();
        entry.0 += 1;
        entry.1 += trade.settlement;
    }
    let summary = bill.summary().ok_or("the bill has no summary line")?;
    log.push(format!(
        "{} trades (first {}), summary says {} with {} settled",
        per_state.values().map(|(n, _)| n).sum::<u64>(),
        first.unwrap_or_default(),
        summary.get("总交易单数").unwrap_or("?"),
        summary.get("应结订单总金额").unwrap_or("?"),
    ));
    for (state, (count, amount)) in &per_state {
        log.push(format!("{state}: {count} trades, {amount:.2} settled"));
    }
    // README: end

    Ok(log)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("wechatpay-read-bill-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    for line in run(&dir).await? {
        println!("{line}");
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
