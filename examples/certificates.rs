//! Platform certificates: download, decrypt and verify them, write `wechatpay_<serial>.pem`
//! files, and keep them fresh in the background, against the embedded sandbox.
//!
//! ```text
//! cargo run --example certificates
//! ```

use std::time::Duration;

use wechatpay::{sandbox, sandbox::Sandbox, Error, PublicKey, Wechatpay};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let sandbox = Sandbox::start().await?;

    // A merchant with only the APIv3 key: the delivered certificates verify the answer.
    let wxpay = Wechatpay::builder()
        .mchid(sandbox::MERCHANT_ID)
        .serial(sandbox::MERCHANT_SERIAL)
        .private_key(sandbox.merchant_key()?)
        .apiv3_key(sandbox::APIV3_KEY)
        .base_url(sandbox.base_url())
        .build()?;
    let dir = std::env::temp_dir();
    for certificate in wxpay.download_certificates().await? {
        let path = dir.join(format!("wechatpay_{}.pem", certificate.serial()));
        std::fs::write(&path, certificate.to_pem()).map_err(|e| Error::Config {
            message: format!("cannot write {}: {e}", path.display()),
        })?;
        println!(
            "{}  {} .. {}  -> {}",
            certificate.serial(),
            certificate.effective_time(),
            certificate.expire_time(),
            path.display()
        );
        // Downloaded certificates are not trusted until you say so.
        wxpay.verifier().add_certificate(certificate.certificate());
    }

    // Or let the client do it: in the background, from the first request on.
    let refreshing = Wechatpay::builder()
        .mchid(sandbox::MERCHANT_ID)
        .serial(sandbox::MERCHANT_SERIAL)
        .private_key(sandbox.merchant_key()?)
        .platform_key(
            sandbox::PUBLIC_KEY_ID,
            PublicKey::from_pem(sandbox::PUBLIC_KEY_PEM)?,
        )
        .apiv3_key(sandbox::APIV3_KEY)
        .auto_refresh_certificates(Duration::from_secs(12 * 3600))
        .base_url(sandbox.base_url())
        .build()?;
    println!("trusted before: {:?}", refreshing.verifier().ids());
    refreshing.chain("v3/certificates").get().await?;
    for _ in 0..100 {
        if refreshing.verifier().ids().len() > 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "trusted after the first refresh: {:?}",
        refreshing.verifier().ids()
    );
    Ok(())
}
