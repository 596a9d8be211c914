//! The four payscore "sync" endpoints of the seed pages, each called in the three chain
//! styles against the embedded sandbox (no credentials, no internet), printing every
//! verified answer.
//!
//! ```text
//! cargo run --example payscore_sync
//! ```

use serde_json::{json, Value};
use wechatpay::{chain, sandbox::Sandbox, Chain, Error, Wechatpay};

/// One seed endpoint named three ways, with the body its page documents.
struct Endpoint {
    title: &'static str,
    chains: [Chain; 3],
    body: Value,
}

fn endpoints(wxpay: &Wechatpay) -> Vec<Endpoint> {
    vec![
        Endpoint {
            title: "同步服务订单信息 (payscore service order sync)",
            chains: [
                wxpay.chain("v3/payscore/serviceorder/{out_order_no}/sync"),
                wxpay
                    .seg("v3")
                    .seg("payscore")
                    .seg("serviceorder")
                    .seg("_out_order_no_")
                    .seg("sync"),
                chain!(wxpay.v3.payscore.serviceorder._out_order_no_.sync),
            ],
            body: json!({
                "appid": "wxd678efh567hg6787",
                "service_id": "500001",
                "type": "Order_Paid",
                "detail": { "paid_time": "20091225091210" },
            }),
        },
        Endpoint {
            title: "同步订单信息 (partner service order sync)",
            chains: [
                wxpay.chain("v3/payscore/partner/serviceorder/{out_order_no}/sync"),
                wxpay
                    .seg("v3")
                    .seg("payscore")
                    .seg("partner")
                    .seg("serviceorder")
                    .seg("_out_order_no_")
                    .seg("sync"),
                chain!(wxpay.v3.payscore.partner.serviceorder._out_order_no_.sync),
            ],
            body: json!({
                "service_id": "2002000000000558128851361561536",
                "sub_mchid": "1900000109",
                "type": "Order_Paid",
                "detail": { "seq": 1, "paid_time": "20091225091210", "paid_amount": 1 },
            }),
        },
        Endpoint {
            title: "支付分订单同步 (pay-after order sync)",
            chains: [
                wxpay.chain("v3/payscore/payafter-orders/{out_order_no}/sync"),
                wxpay
                    .seg("v3")
                    .seg("payscore")
                    .seg("payafterOrders")
                    .seg("_out_order_no_")
                    .seg("sync"),
                chain!(wxpay.v3.payscore.payafterOrders._out_order_no_.sync),
            ],
            body: json!({
                "appid": "wxd678efh567hg6787",
                "service_id": "500001",
                "type": "Order_Paid",
                "detail": { "paid_time": "20091225091010" },
            }),
        },
        Endpoint {
            title: "从业机构同步微信支付分订单信息 (acquiring bank order sync)",
            chains: [
                wxpay.chain("v3/payscore/acquiringbank/serviceorder/{out_order_no}/sync"),
                wxpay
                    .seg("v3")
                    .seg("payscore")
                    .seg("acquiringbank")
                    .seg("serviceorder")
                    .seg("_out_order_no_")
                    .seg("sync"),
                chain!(
                    wxpay
                        .v3
                        .payscore
                        .acquiringbank
                        .serviceorder
                        ._out_order_no_
                        .sync
                ),
            ],
            body: json!({
                "service_id": "2002000000000558128851361561536",
                "sub_mchid": "1900000109",
                "channel_id": "1230000109",
                "type": "Order_Paid",
                "detail": { "paid_time": "20091225091210" },
            }),
        },
    ]
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let sandbox = Sandbox::start().await?;
    println!(
        "sandbox platform at {} (test keys, nothing leaves 127.0.0.1)\n",
        sandbox.base_url()
    );
    let wxpay = sandbox.client();

    for endpoint in endpoints(&wxpay) {
        println!("== {}", endpoint.title);
        let [template, segments, by_macro] = endpoint.chains;
        for (style, chain) in [
            ("chain(\"…\")", template),
            ("seg(…)", segments),
            ("chain!(…)", by_macro),
        ] {
            let path = chain.template().to_owned();
            let response = chain
                .post(&endpoint.body)
                .param("out_order_no", "1234323JKHDFE1243252")
                .send()
                .await?;
            println!(
                "{style:<12} POST {path} -> {} verified (Request-ID {})",
                response.status(),
                response.request_id().unwrap_or("-")
            );
            if style == "chain(\"…\")" {
                if response.bytes().is_empty() {
                    println!("             (no content: the sync was accepted)");
                } else {
                    let body: Value = response.json()?;
                    let pretty = serde_json::to_string_pretty(&body).unwrap_or_default();
                    for line in pretty.lines() {
                        println!("             {line}");
                    }
                }
            }
        }
        println!();
    }
    Ok(())
}
