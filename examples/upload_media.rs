//! Uploads through the chain, offline: an image from memory, a file from disk with a meta
//! field the endpoint requires, and a file over the platform's limit refused before
//! anything is sent. The sandbox reads each form with its own parser, checks the
//! signature over the `meta` JSON and the file's SHA-256, and answers an id.
//!
//! Run: `cargo run --example upload_media`

use serde_json::Value;
use wechatpay::sandbox::Sandbox;

/// A 1×1 transparent PNG.
pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\x0bIDAT\x78\x9c\x63\x60\x00\x02\x00\x00\x05\x00\x01\x7a\x5e\xab\x3f\x00\x00\x00\x00IEND\xae\x42\x60\x82";

/// Runs the uploads; returns what happened, one line each.
pub async fn run() -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let sandbox = Sandbox::start().await?;
    let wxpay = sandbox.client();
    let dir = std::env::temp_dir().join(format!("wechatpay-upload-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let users = dir.join("active_user.csv");
    std::fs::write(
        &users,
        "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o\noUpF8uMuAJO_M2pxb1Q9zNjWeS6p\n",
    )?;
    let mut log = Vec::new();

    // README: begin
    // An image from memory: the form is {"filename","sha256"} then the file (image/png, by
    // its magic bytes); the signature covers the meta JSON only; the answer is verified.
    let answer = wxpay
        .chain("v3/merchant/media/upload")
        .upload("logo.png", PNG)
        .await?;
    let media_id = answer.json::<Value>()?["media_id"].clone();
    log.push(format!("uploaded logo.png: media_id {media_id}"));

    // A file read from disk once, with a meta field the endpoint requires.
    let task: Value = wxpay
        .chain("v3/marketing/bank/packages/{package_id}/tasks")
        .upload_from_path(&users)
        .param("package_id", "8473295")
        .meta("bank_type", "ICBC_DEBIT")
        .await?
        .json()?;
    log.push(format!(
        "uploaded {}: task {} {}",
        task["filename"], task["task_id"], task["bank_type"]
    ));

    // The platform's limits are checked before anything is sent (images: 5 MiB here).
    let mut too_big = PNG.to_vec();
    too_big.resize(6 << 20, 0);
    let refused = wxpay
        .chain("v3/merchant/media/upload")
        .upload("huge.png", too_big)
        .await
        .unwrap_err();
    log.push(format!("refused: {refused}"));
    // README: end

    std::fs::remove_dir_all(&dir)?;
    Ok(log)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    for line in run().await? {
        println!("{line}");
    }
    Ok(())
}
