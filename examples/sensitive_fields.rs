//! Sensitive fields: encrypt a contact's name and ID number for the platform, and decrypt a
//! field the platform encrypted for the merchant, against the embedded sandbox.
//!
//! ```text
//! cargo run --example sensitive_fields
//! ```

use serde_json::json;
use wechatpay::{sandbox, sandbox::Sandbox, Error, PrivateKey};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let sandbox = Sandbox::start().await?;
    let wxpay = sandbox.client();

    // The platform key that encrypts, and the id the request must name in Wechatpay-Serial.
    let (id, _key) = wxpay.encryption_key()?;
    println!("encrypting with platform key {id}");

    // encrypt_fields encrypts these JSON Pointers at send() and sets Wechatpay-Serial.
    let answer = wxpay
        .chain("v3/applyment4sub/applyment/")
        .post(json!({
            "business_code": "APPLYMENT_00000000001",
            "contact_info": {
                "contact_name": "张三",
                "contact_id_number": "330821199809085211",
                "mobile_phone": "13800138000",
            },
        }))
        .encrypt_fields([
            "/contact_info/contact_name",
            "/contact_info/contact_id_number",
            "/contact_info/mobile_phone",
        ])
        .send()
        .await;
    // The sandbox has no applyment route (404), but it shows what it received.
    println!(
        "answer: {}",
        answer
            .map(|r| r.status().to_string())
            .unwrap_or_else(|e| e.to_string())
    );
    let received = sandbox.requests().pop().expect("one request");
    let body: serde_json::Value = serde_json::from_slice(&received.body).unwrap_or_default();
    println!(
        "sent Wechatpay-Serial: {:?}",
        received.headers.get("Wechatpay-Serial")
    );
    let name = body["contact_info"]["contact_name"]
        .as_str()
        .unwrap_or_default();
    println!("sent contact_name: {}…", &name[..name.len().min(40)]);
    // Only the platform's private key opens it (here, the sandbox's test key).
    let platform = PrivateKey::from_pem(sandbox::PLATFORM_PRIVATE_KEY_PEM)?;
    println!("the platform reads: {}", platform.decrypt(name)?);

    // The other way: a field the platform encrypted with the merchant's public key.
    let from_platform = wxpay
        .private_key()
        .public_key()
        .encrypt("6214830000000000")?;
    println!(
        "decrypted account number: {}",
        wxpay.decrypt(&from_platform)?
    );
    Ok(())
}
