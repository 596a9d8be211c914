//! The built-in endpoint catalog, offline: look an endpoint up by template, path or chain,
//! read what it takes, let the catalog check a request before it is signed, and call an
//! endpoint with its own documented example against the sandbox, which answers every
//! endpoint of the catalog.
//!
//! Run: `cargo run --example catalog`

use http::Method;
use serde_json::{json, Value};
use wechatpay::catalog;
use wechatpay::sandbox::Sandbox;

/// Runs the look-ups and calls; returns what happened, one line each.
pub async fn run() -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let sandbox = Sandbox::start().await?;
    let wxpay = sandbox.client(); // strict: every request is checked against the catalog
    let mut log = Vec::new();

    // README: begin
    // Look-ups: by template (placeholder names need not match), by concrete path, by chain.
    let refund = catalog::find(&Method::POST, "v3/refund/domestic/refunds").ok_or("unknown")?;
    log.push(format!(
        "{} {}: {} (required: {})",
        refund.method(),
        refund.template(),
        refund.summary(),
        refund.required_body_fields().join(" ")
    ));
    let query = catalog::find_path(
        &Method::GET,
        "/v3/refund/domestic/refunds/R1217752501201407",
    )
    .ok_or("unknown")?;
    log.push(format!(
        "{} with out_refund_no = {:?}",
        query.endpoint().template(),
        query.param("out_refund_no").unwrap_or_default()
    ));
    let sync = catalog::find_chain(
        &Method::POST,
        "v3.payscore.serviceorder._out_order_no_.sync",
    )
    .ok_or("unknown")?;
    log.push(format!("chain style: {}", sync.template()));

    // The check: a misspelt path or a missing required field is refused before signing,
    // naming the closest endpoint or the field.
    let misspelt = wxpay
        .chain("v3/refund/domestic/refund")
        .post(json!({}))
        .build()
        .unwrap_err();
    log.push(format!(
        "refused: {}",
        std::error::Error::source(&misspelt).ok_or("no cause")?
    ));
    let incomplete = wxpay
        .chain("v3/refund/domestic/refunds")
        .post(json!({ "out_refund_no": "R1217752501201407" }))
        .build()
        .unwrap_err();
    log.push(format!(
        "refused: {}",
        std::error::Error::source(&incomplete).ok_or("no cause")?
    ));

    // Any endpoint with its documented example: the sandbox answers it, signed.
    let native = catalog::find(&Method::POST, "v3/pay/transactions/native").ok_or("unknown")?;
    let mut example: Value = serde_json::from_str(native.example_request().unwrap_or("{}"))?;
    example["mchid"] = json!(sandbox.merchant_id()); // the example's merchant is not ours
    let answer: Value = wxpay.chain(native.template()).post(example).await?.json()?;
    log.push(format!(
        "{}: code_url {}",
        native.summary(),
        answer["code_url"]
    ));
    // README: end

    let v3 = catalog::endpoints().iter().filter(|e| !e.is_v2()).count();
    let v2 = catalog::endpoints().len() - v3;
    log.push(format!("{v3} APIv3 endpoints, {v2} APIv2"));
    Ok(log)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    for line in run().await? {
        println!("{line}");
    }
    Ok(())
}
