//! The sandbox's stateful payment lifecycle: orders, payment, queries, close, refunds and
//! their notifications, end to end over HTTP, plus the platform's refusals.

mod common;

#[allow(dead_code)]
#[path = "../examples/payment_lifecycle.rs"]
mod example;

use serde_json::{json, Value};
use wechatpay::sandbox::Sandbox;
use wechatpay::Wechatpay;

#[tokio::test]
async fn the_example_runs_the_whole_lifecycle() {
    let log = example::run().await.unwrap();
    assert_eq!(log.len(), 6, "{log:#?}");
    assert!(log[0].starts_with("ordered: code_url \"weixin://wxpay/bizpayurl?pr="));
    assert_eq!(
        log[1],
        "notified: TRANSACTION.SUCCESS \"SUCCESS\" (handler answered 204 No Content)"
    );
    assert!(log[2].starts_with("queried: \"1217752501201407033233368018\" \"SUCCESS\" \"42000000"));
    assert_eq!(
        log[3],
        "refund requested: \"1217752501201407033233368019\" \"PROCESSING\""
    );
    assert_eq!(
        log[4],
        "notified: REFUND.SUCCESS \"1217752501201407033233368019\" \"SUCCESS\""
    );
    assert_eq!(log[5], "refund queried: \"SUCCESS\" 40");
}

fn order(out_trade_no: &str, total: i64) -> Value {
    json!({
        "appid": "wxd678efh567hg6787",
        "mchid": "1900000001",
        "description": "Image形象店-深圳腾大-QQ公仔",
        "out_trade_no": out_trade_no,
        "notify_url": "https://www.weixin.qq.com/wxpay/pay.php",
        "amount": { "total": total, "currency": "CNY" },
        "payer": { "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" },
    })
}

async fn query(wxpay: &Wechatpay, out_trade_no: &str) -> Result<Value, wechatpay::Error> {
    wxpay
        .chain("v3/pay/transactions/out-trade-no/{out_trade_no}{?mchid}")
        .get()
        .params(json!({ "out_trade_no": out_trade_no, "mchid": "1900000001" }))
        .await?
        .json()
}

#[tokio::test]
async fn orders_are_idempotent_by_content_and_refuse_a_reused_number() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox.client();
    let place = |body: Value| wxpay.chain("v3/pay/transactions/jsapi").post(body);
    let first: Value = place(order("T1", 100)).await.unwrap().json().unwrap();
    let again: Value = place(order("T1", 100)).await.unwrap().json().unwrap();
    assert!(first["prepay_id"].as_str().unwrap().starts_with("wx"));
    assert_eq!(
        first, again,
        "the same order placed twice is the same order"
    );

    let error = place(order("T1", 200)).await.unwrap_err();
    assert_eq!(error.status(), Some(http::StatusCode::FORBIDDEN));
    assert_eq!(error.api_code(), Some("OUT_TRADE_NO_USED"));

    // Another merchant's id in the body is refused.
    let mut foreign = order("T2", 100);
    foreign["mchid"] = json!("1230000109");
    let error = place(foreign).await.unwrap_err();
    assert_eq!(error.api_code(), Some("MCH_NOT_EXISTS"));

    // Queries by either id show the same order; unknown ones are ORDER_NOT_EXIST.
    let by_number = query(&wxpay, "T1").await.unwrap();
    assert_eq!(by_number["trade_state"], "NOTPAY");
    assert_eq!(by_number["trade_type"], "JSAPI");
    let by_id: Value = wxpay
        .chain("v3/pay/transactions/id/{transaction_id}{?mchid}")
        .get()
        .params(json!({ "transaction_id": by_number["transaction_id"], "mchid": "1900000001" }))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(by_id, by_number);
    let error = query(&wxpay, "NO-SUCH").await.unwrap_err();
    assert_eq!(error.api_code(), Some("ORDER_NOT_EXIST"));
}

#[tokio::test]
async fn closing_and_paying_follow_the_order_state() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox.client();
    for number in ["C1", "P1"] {
        wxpay
            .chain("v3/pay/transactions/jsapi")
            .post(order(number, 100))
            .await
            .unwrap();
    }
    let close = |number: &str| {
        wxpay
            .chain("v3/pay/transactions/out-trade-no/{out_trade_no}/close")
            .post(json!({ "mchid": "1900000001" }))
            .param("out_trade_no", number.to_owned())
    };
    assert_eq!(close("C1").await.unwrap().status(), 204);
    assert_eq!(query(&wxpay, "C1").await.unwrap()["trade_state"], "CLOSED");
    let error = sandbox.pay("C1").await.unwrap_err();
    assert!(error.to_string().contains("closed"), "{error}");

    // Paying needs a loopback notify_url to deliver to; this order's is the platform's
    // documentation URL, so the payment is recorded and the delivery refused.
    let error = sandbox.pay("P1").await.unwrap_err();
    assert!(error.to_string().contains("loopback"), "{error}");
    assert_eq!(query(&wxpay, "P1").await.unwrap()["trade_state"], "SUCCESS");
    let error = close("P1").await.unwrap_err();
    assert_eq!(error.api_code(), Some("ORDERPAID"));
    assert!(sandbox
        .pay("P1")
        .await
        .unwrap_err()
        .to_string()
        .contains("already paid"));
}

#[tokio::test]
async fn refunds_are_checked_against_what_was_paid() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox.client();
    wxpay
        .chain("v3/pay/transactions/jsapi")
        .post(order("R1", 100))
        .await
        .unwrap();
    let refund = |number: &str, amount: i64, total: i64| {
        wxpay.chain("v3/refund/domestic/refunds").post(json!({
            "out_trade_no": "R1",
            "out_refund_no": number,
            "amount": { "refund": amount, "total": total, "currency": "CNY" },
        }))
    };
    // Not paid yet.
    let error = refund("RF0", 10, 100).await.unwrap_err();
    assert_eq!(error.api_code(), Some("TRADE_STATE_ERROR"));

    let _ = sandbox.pay("R1").await; // delivery refused (no loopback notify_url), paid anyway
    let first: Value = refund("RF1", 60, 100).await.unwrap().json().unwrap();
    assert_eq!(first["status"], "PROCESSING");
    assert_eq!(first["amount"]["refund"], 60);
    // The same refund again is the same refund; another number reusing it is refused.
    let again: Value = refund("RF1", 60, 100).await.unwrap().json().unwrap();
    assert_eq!(again["refund_id"], first["refund_id"]);
    assert_eq!(
        refund("RF1", 50, 100).await.unwrap_err().api_code(),
        Some("INVALID_REQUEST")
    );
    // 60 of 100 refunded: 50 more is too much, 40 is not; the total must be the order's.
    assert_eq!(
        refund("RF2", 50, 100).await.unwrap_err().api_code(),
        Some("NOT_ENOUGH")
    );
    assert_eq!(
        refund("RF3", 10, 99).await.unwrap_err().api_code(),
        Some("PARAM_ERROR")
    );
    refund("RF4", 40, 100).await.unwrap();
    assert_eq!(query(&wxpay, "R1").await.unwrap()["trade_state"], "REFUND");

    let error = wxpay
        .chain("v3/refund/domestic/refunds/{out_refund_no}")
        .get()
        .param("out_refund_no", "NO-SUCH")
        .await
        .unwrap_err();
    assert_eq!(error.api_code(), Some("RESOURCE_NOT_EXISTS"));
}

#[tokio::test]
async fn the_partner_forms_keep_their_own_orders() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox.client();
    let placed: Value = wxpay
        .chain("v3/pay/partner/transactions/native")
        .post(json!({
            "sp_appid": "wx8888888888888888",
            "sp_mchid": "1900000001",
            "sub_mchid": "1900000109",
            "description": "Image形象店-深圳腾大-QQ公仔",
            "out_trade_no": "SP1",
            "notify_url": "https://www.weixin.qq.com/wxpay/pay.php",
            "amount": { "total": 1, "currency": "CNY" },
        }))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert!(placed["code_url"].is_string());
    let order: Value = wxpay
        .chain("v3/pay/partner/transactions/out-trade-no/{out_trade_no}{?sp_mchid,sub_mchid}")
        .get()
        .params(
            json!({ "out_trade_no": "SP1", "sp_mchid": "1900000001", "sub_mchid": "1900000109" }),
        )
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(order["sub_mchid"], "1900000109");
    assert_eq!(order["trade_state"], "NOTPAY");
    // A direct query does not see a partner order.
    assert_eq!(
        query(&wxpay, "SP1").await.unwrap_err().api_code(),
        Some("ORDER_NOT_EXIST")
    );
}
