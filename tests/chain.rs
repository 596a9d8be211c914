//! Naming endpoints: the three chain styles, normalization, placeholders, deferred errors,
//! and hostile placeholder values that must stay inside their segment.

mod common;

use common::*;
use serde_json::json;
use wechatpay::{chain, Error, TemplateErrorKind};

#[test]
fn the_three_styles_accumulate_the_same_template_for_every_seed() {
    let wxpay = offline();
    for seed in seeds() {
        let mut segments = wxpay.seg(seed.segments[0]);
        for s in &seed.segments[1..] {
            segments = segments.seg(s);
        }
        assert_eq!(wxpay.chain(seed.template).template(), seed.template);
        assert_eq!(segments.template(), seed.template, "{}", seed.name);
    }
    assert_eq!(
        chain!(wxpay.v3.payscore.payafterOrders._out_order_no_.sync).template(),
        "v3/payscore/payafter-orders/{out_order_no}/sync"
    );
}

#[test]
fn segments_normalize_camel_case_and_placeholders() {
    let wxpay = offline();
    let cases = [
        ("payafterOrders", "payafter-orders"),
        ("merchantService", "merchant-service"),
        ("complaintsV2", "complaints-v2"),
        ("V3", "v3"),
        ("_out_order_no_", "{out_order_no}"),
        ("_subMchid_", "{subMchid}"),
        ("<transaction_id>", "{transaction_id}"),
        ("out-trade-no", "out-trade-no"),
        ("sub_mchid", "sub_mchid"),
        ("2024", "2024"),
    ];
    for (segment, expected) in cases {
        assert_eq!(wxpay.seg(segment).template(), expected, "{segment}");
        assert_eq!(wechatpay::normalize_segment(segment), expected);
    }
    assert_eq!(
        chain!(
            wxpay
                .V3
                .merchantService
                .complaintsV2
                ._complaint_id_
                .response
        )
        .template(),
        "v3/merchant-service/complaints-v2/{complaint_id}/response"
    );
}

#[test]
fn template_strings_are_literal_and_extend_any_chain() {
    let wxpay = offline();
    assert_eq!(
        wxpay.chain("secapi/mch/addInstitutionsub").template(),
        "secapi/mch/addInstitutionsub"
    );
    assert_eq!(
        wxpay
            .seg("v3")
            .chain("/payscore/serviceorder/<out_order_no>/sync")
            .template(),
        "v3/payscore/serviceorder/{out_order_no}/sync"
    );
    assert_eq!(
        wxpay.chain("v3/payscore/").seg("serviceorder").template(),
        "v3/payscore/serviceorder"
    );
    let request = wxpay
        .chain("secapi/mch/addInstitutionsub")
        .post(json!({}))
        .build()
        .unwrap();
    assert_eq!(request.uri().path(), "/secapi/mch/addInstitutionsub");
}

#[test]
fn the_macro_takes_a_parenthesized_client_expression() {
    struct App {
        wxpay: wechatpay::Wechatpay,
    }
    let app = App { wxpay: offline() };
    assert_eq!(
        chain!((app.wxpay).v3.certificates).template(),
        "v3/certificates"
    );
}

#[test]
fn a_placeholder_without_value_is_an_error_naming_it_and_the_template() {
    let error = offline()
        .chain("v3/payscore/serviceorder/{out_order_no}/sync")
        .post(json!({}))
        .build()
        .unwrap_err();
    match &error {
        Error::Template {
            template,
            kind: TemplateErrorKind::MissingVariable { name },
        } => {
            assert_eq!(template, "v3/payscore/serviceorder/{out_order_no}/sync");
            assert_eq!(name, "out_order_no");
        }
        other => panic!("expected a missing variable, got {other:?}"),
    }
    let text = error.to_string();
    assert!(
        text.contains("out_order_no")
            && text.contains("v3/payscore/serviceorder/{out_order_no}/sync"),
        "{text}"
    );
}

#[test]
fn empty_and_dot_segment_values_are_refused() {
    let wxpay = offline();
    for value in [json!(""), json!(null), json!("."), json!("..")] {
        let error = wxpay
            .chain("v3/payscore/serviceorder/{out_order_no}/sync")
            .post(json!({}))
            .param("out_order_no", value.clone())
            .build()
            .unwrap_err();
        assert!(
            matches!(
                error,
                Error::Template {
                    kind: TemplateErrorKind::InvalidValue { .. },
                    ..
                }
            ),
            "{value}: {error:?}"
        );
    }
}

#[test]
fn hostile_values_stay_inside_their_segment() {
    let wxpay = offline();
    let hostile = [
        "a/b",
        "../../v3/refund/domestic/refunds",
        "..",
        "x?mchid=1",
        "x#frag",
        "%2F",
        "a%2Fb",
        "a b",
        "订单号",
        "a\\b",
        "a;b=c",
        "{out_order_no}",
        "a\u{0}b",
    ];
    for value in hostile {
        let result = wxpay
            .chain("v3/payscore/serviceorder/{out_order_no}/sync")
            .post(json!({}))
            .param("out_order_no", value)
            .build();
        let Ok(request) = result else {
            // Refusing is also safe (`..`); changing the path is not.
            assert_eq!(value, "..", "only a dot-segment may be refused");
            continue;
        };
        let uri = request.uri();
        assert_eq!(uri.query(), None, "{value}: a query appeared");
        let path = uri.path();
        let segments: Vec<&str> = path.split('/').collect();
        assert_eq!(segments.len(), 6, "{value}: {path}");
        assert_eq!(
            &segments[..4],
            ["", "v3", "payscore", "serviceorder"],
            "{value}"
        );
        assert_eq!(segments[5], "sync", "{value}");
        assert!(!segments[4].is_empty() && segments[4] != "." && segments[4] != "..");
        assert!(!path.contains('#'));
    }
}

#[test]
fn numbers_and_booleans_are_placeholder_values() {
    let request = offline()
        .chain("v3/marketing/favor/stocks/{stock_id}/use-flow")
        .get()
        .param("stock_id", 9_865_000)
        .query("offset", 0)
        .query("with_detail", true)
        .build()
        .unwrap();
    assert_eq!(
        request.uri().path_and_query().unwrap().as_str(),
        "/v3/marketing/favor/stocks/9865000/use-flow?offset=0&with_detail=true"
    );
}

#[test]
fn query_values_are_percent_encoded_and_follow_a_template_query() {
    let request = offline()
        .chain("v3/bill/tradebill{?bill_date,bill_type}")
        .get()
        .param("bill_date", "2026-11-21")
        .param("bill_type", "ALL")
        .query("tar_type", "GZIP")
        .query("note", "a&b=c d/订")
        .build()
        .unwrap();
    assert_eq!(
        request.uri().path_and_query().unwrap().as_str(),
        "/v3/bill/tradebill?bill_date=2026-11-21&bill_type=ALL&tar_type=GZIP&note=a%26b%3Dc%20d%2F%E8%AE%A2"
    );
    // An optional query placeholder without value is left out, as RFC 6570 says.
    let request = offline()
        .chain("v3/bill/tradebill{?bill_date,bill_type}")
        .get()
        .param("bill_date", "2026-11-21")
        .build()
        .unwrap();
    assert_eq!(request.uri().query(), Some("bill_date=2026-11-21"));
}

#[test]
fn the_first_error_of_a_chain_is_reported_at_build() {
    let wxpay = offline();
    let error = wxpay
        .chain("v3/certificates")
        .get()
        .header("bad header", "x")
        .params(json!(["not", "an", "object"]))
        .build()
        .unwrap_err();
    assert!(matches!(error, Error::Request { .. }), "{error:?}");
    assert!(error.to_string().contains("bad header"), "{error}");

    let error = wxpay
        .chain("v3/certificates")
        .get()
        .params(json!(42))
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("JSON object"), "{error}");

    // A map with non-string keys cannot become JSON.
    let mut bad = std::collections::BTreeMap::new();
    bad.insert((1, 2), "x");
    let error = wxpay.chain("v3/x").post(bad).build().unwrap_err();
    assert!(error.to_string().contains("serialized"), "{error}");

    let error = wxpay.chain("v3/{unclosed").get().build().unwrap_err();
    assert!(
        matches!(
            error,
            Error::Template {
                kind: TemplateErrorKind::Syntax { .. },
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn raw_bodies_are_sent_and_signed_as_given() {
    let request = offline()
        .chain("v3/x")
        .post(json!({"ignored": true}))
        .body(b"{\"b\":1, \"a\":2}".to_vec())
        .build()
        .unwrap();
    assert_eq!(request.body(), b"{\"b\":1, \"a\":2}");
    assert_eq!(request.headers()["content-type"], "application/json");
}

#[test]
fn js_dollar_placeholders_and_trailing_slashes_work_in_every_style() {
    let wxpay = offline();
    let by_template = wxpay
        .chain("v3/pay/transactions/out-trade-no/{out_trade_no}/close")
        .post(serde_json::json!({"mchid": "1900000001"}));
    let by_segments = wxpay
        .seg("v3")
        .seg("pay")
        .seg("transactions")
        .seg("outTradeNo")
        .seg("$out_trade_no$")
        .seg("close")
        .post(serde_json::json!({"mchid": "1900000001"}));
    let by_macro = wechatpay::chain!(wxpay.v3.pay.transactions.outTradeNo.$out_trade_no$.close)
        .post(serde_json::json!({"mchid": "1900000001"}));
    let fixed = |b: wechatpay::RequestBuilder| {
        render(
            &b.param("out_trade_no", "1217752501201407033233368018")
                .timestamp(TIMESTAMP)
                .nonce(NONCE)
                .build()
                .unwrap(),
        )
    };
    let expected = fixed(by_template);
    assert!(expected.starts_with(
        "POST https://api.mch.weixin.qq.com/v3/pay/transactions/out-trade-no/1217752501201407033233368018/close\n"
    ));
    assert_eq!(fixed(by_segments), expected);
    assert_eq!(fixed(by_macro), expected);

    // The trailing slash of v3/applyment4sub/applyment/ reaches the wire in every style.
    for chain in [
        wxpay.chain("v3/applyment4sub/applyment/"),
        wxpay
            .seg("v3")
            .seg("applyment4sub")
            .seg("applyment")
            .seg("_empty_"),
        wechatpay::chain!(wxpay.v3.applyment4sub.applyment._empty_),
    ] {
        let request = chain.post(serde_json::json!({})).build().unwrap();
        assert_eq!(request.uri().path(), "/v3/applyment4sub/applyment/");
    }
}
