//! Pay-sign: the signed parameters a JSAPI page, mini-program or APP passes to WeChat
//! after the server got a `prepay_id`.
//!
//! ```text
//! cargo run --example pay_sign
//! ```

use wechatpay::{sandbox, Error};

fn main() -> Result<(), Error> {
    let wxpay = sandbox::offline_client()?;
    let prepay_id = "wx201410272009395522657a690389285100";

    // For WeixinJSBridge.invoke('getBrandWCPayRequest', …) or wx.requestPayment(…).
    let jsapi = wxpay.jsapi_pay_params("wxd678efh567hg6787", prepay_id)?;
    println!("JSAPI / mini-program:\n{}", to_json(&jsapi));

    // For the APP OpenSDK's PayReq.
    let app = wxpay.app_pay_params("wxd678efh567hg6787", prepay_id)?;
    println!("APP:\n{}", to_json(&app));
    Ok(())
}

fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}
