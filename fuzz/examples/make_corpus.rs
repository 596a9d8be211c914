//! Writes the seed corpora under `fuzz/corpus/<target>/` from real inputs: the RFC 6570
//! conformance suite, the repository's test keys, answers and notifications signed by the
//! sandbox platform keys at `FIXED_UNIX`, the AES-GCM / RSA-OAEP test vectors, APIv2 XML
//! notifications (fixtures and the sandbox's), generated bills, catalog templates, paths and
//! chains, and the PKCS#12 test files.
//!
//!     cd fuzz && cargo run --example make_corpus
//!
//! It replaces the seed directories it writes; run it again after changing an input format
//! in `src/lib.rs`. Every seed is checked to pass its own target before it is written.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use http::{HeaderMap, HeaderValue};
use serde_json::{json, Value};
use wechatpay::sandbox::{self, Fault, NotificationBuilder};
use wechatpay::sign::Authorization;
use wechatpay::{Apiv3Key, PrivateKey};
use wechatpay_fuzz::{fixed_time, join_message, FIXED_UNIX, TARGETS};

type Seeds = Vec<(String, Vec<u8>)>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo = fuzz.parent().ok_or("fuzz/ has a parent")?;
    let corpus = fuzz.join("corpus");
    let all: Vec<(&str, Seeds)> = vec![
        ("uri_template", uri_templates(repo, false)?),
        ("request_path", uri_templates(repo, true)?),
        ("keys", keys(repo)?),
        ("verify_response", answers()?),
        ("verify_tamper", structured(4)),
        ("notification", notifications()?),
        ("notification_structured", structured(4)),
        ("authorization", authorizations()?),
        ("aead", aead(repo)?),
        ("oaep", oaep(repo)?),
        ("v2_xml", v2_xml(repo)?),
        ("multipart", structured_bytes(6)),
        ("bill_csv", bills()),
        ("catalog", catalog()),
        ("pkcs12", pkcs12(repo)?),
    ];
    for (target, seeds) in all {
        let check = TARGETS
            .iter()
            .find(|(name, _)| *name == target)
            .map(|(_, check)| *check)
            .ok_or("every target is listed")?;
        let dir = corpus.join(target);
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        fs::create_dir_all(&dir)?;
        let mut bytes = 0;
        for (name, data) in &seeds {
            wechatpay_fuzz::run_catching(check, data)
                .map_err(|panic| format!("seed {target}/{name} fails its own target: {panic}"))?;
            fs::write(dir.join(name), data)?;
            bytes += data.len();
        }
        println!("{target}: {} seeds, {bytes} bytes", seeds.len());
    }
    Ok(())
}

/// Template NUL variables-JSON for every case of the suite (request_path: the examples by
/// level, and the WeChat Pay templates the tests use).
fn uri_templates(repo: &Path, request: bool) -> Result<Seeds, Box<dyn std::error::Error>> {
    let dir = repo.join("tests/fixtures/uritemplate-test");
    let files: &[&str] = if request {
        &["spec-examples.json"]
    } else {
        &[
            "spec-examples.json",
            "spec-examples-by-section.json",
            "extended-tests.json",
            "negative-tests.json",
        ]
    };
    let mut seeds = Seeds::new();
    for file in files {
        let suite: Value = serde_json::from_str(&fs::read_to_string(dir.join(file))?)?;
        let stem = file.trim_end_matches(".json");
        for (s, (_, section)) in suite
            .as_object()
            .ok_or("a suite is an object")?
            .iter()
            .enumerate()
        {
            let variables = serde_json::to_vec(&section["variables"])?;
            let cases = section["testcases"].as_array().ok_or("testcases")?;
            for (c, case) in cases.iter().enumerate() {
                let template = case[0].as_str().ok_or("a template is a string")?;
                let mut data = template.as_bytes().to_vec();
                data.push(0);
                data.extend_from_slice(&variables);
                seeds.push((format!("{stem}-{s}-{c}"), data));
            }
        }
    }
    if request {
        let wechat = [
            (
                "v3/payscore/serviceorder/{out_order_no}/sync",
                json!({"out_order_no": "1234323JKHDFE1243252"}),
            ),
            (
                "v3/pay/transactions/out-trade-no/{out_trade_no}{?mchid}",
                json!({"out_trade_no": "1217752501201407033233368018", "mchid": "1900000001"}),
            ),
            (
                "v3/merchant-service/complaints-v2/<complaint_id>",
                json!({"complaint_id": "200201820200101080076610000"}),
            ),
            (
                "v3/refund/domestic/refunds/{out_refund_no}",
                json!({"out_refund_no": "a/b?c#d ../.."}),
            ),
            (
                "v3/bill/tradebill{?bill_date,bill_type,tar_type}",
                json!({"bill_date": "2019-06-11", "bill_type": "ALL"}),
            ),
            (
                "v3/marketing/favor/users/{openid}/coupons/{coupon_id}{?appid}",
                json!({"openid": "o4GgauInH_RCEdvrrNGrntXDuXXX", "coupon_id": 9856000, "appid": "wxd678efh567hg6787"}),
            ),
            (
                "v3/ecommerce/fund/balance/{sub_mchid}{?account_type}",
                json!({"sub_mchid": "1900000109", "account_type": ["BASIC", "OPERATION"]}),
            ),
            ("secapi/mch/addInstitutionsub", json!({})),
        ];
        for (i, (template, vars)) in wechat.iter().enumerate() {
            let mut data = template.as_bytes().to_vec();
            data.push(0);
            data.extend_from_slice(&serde_json::to_vec(vars)?);
            seeds.push((format!("wechat-{i}"), data));
        }
    }
    Ok(seeds)
}

/// The test keys as PEM, and each PEM block as DER.
fn keys(repo: &Path) -> Result<Seeds, Box<dyn std::error::Error>> {
    let mut paths: Vec<PathBuf> = Vec::new();
    for dir in ["src/sandbox/keys", "tests/fixtures/keys"] {
        for entry in fs::read_dir(repo.join(dir))? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "pem") {
                paths.push(path);
            }
        }
    }
    paths.push(repo.join("tests/fixtures/oaep/other_cert.pem"));
    paths.sort();
    let mut seeds = Seeds::new();
    for path in paths {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or("a key file has a name")?
            .to_owned();
        let text = fs::read_to_string(&path)?;
        let b64: String = text
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        let der = base64::engine::general_purpose::STANDARD.decode(b64)?;
        seeds.push((format!("{stem}.pem"), text.into_bytes()));
        seeds.push((format!("{stem}.der"), der));
    }
    Ok(seeds)
}

fn signed_answer(
    key: &PrivateKey,
    serial: &str,
    timestamp: i64,
    nonce: &str,
    body: &[u8],
) -> Result<HeaderMap, Box<dyn std::error::Error>> {
    let timestamp = timestamp.to_string();
    let signature = key.sign(&wechatpay::verify::message(&timestamp, nonce, body))?;
    let mut headers = HeaderMap::new();
    headers.insert(
        "Request-ID",
        HeaderValue::from_static("08F78BB5AF0610D302A5ED9A0A1A9E7A"),
    );
    headers.insert("Content-Type", HeaderValue::from_static("application/json"));
    headers.insert("Wechatpay-Nonce", nonce.parse()?);
    headers.insert("Wechatpay-Signature", signature.parse()?);
    headers.insert("Wechatpay-Timestamp", timestamp.parse()?);
    headers.insert("Wechatpay-Serial", serial.parse()?);
    Ok(headers)
}

/// Answers signed as the platform signs them, at FIXED_UNIX, and a few it must refuse.
fn answers() -> Result<Seeds, Box<dyn std::error::Error>> {
    let platform = PrivateKey::from_pem(sandbox::PLATFORM_PRIVATE_KEY_PEM)?;
    let pubkey = PrivateKey::from_pem(sandbox::PUBLIC_KEY_PRIVATE_PEM)?;
    let nonce = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS";
    let bodies: [(&str, &[u8]); 4] = [
        ("empty", b""),
        ("native", br#"{"code_url":"weixin://wxpay/bizpayurl?pr=p4lpSuKzz"}"#),
        ("query", r#"{"amount":{"currency":"CNY","payer_currency":"CNY","payer_total":1,"total":1},"appid":"wxd678efh567hg6787","mchid":"1230000109","out_trade_no":"1217752501201407033233368018","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},"success_time":"2018-06-08T10:34:56+08:00","trade_state":"SUCCESS","trade_state_desc":"支付成功","trade_type":"JSAPI","transaction_id":"1217752501201407033233368018"}"#.as_bytes()),
        ("error", r#"{"code":"PARAM_ERROR","message":"参数错误","detail":{"field":"/amount/total","value":0,"issue":"must be > 0","location":"body"}}"#.as_bytes()),
    ];
    let mut seeds = Seeds::new();
    for (name, body) in bodies {
        let headers = signed_answer(&platform, sandbox::PLATFORM_SERIAL, FIXED_UNIX, nonce, body)?;
        seeds.push((format!("{name}-platform"), join_message(&headers, body)));
        let headers = signed_answer(&pubkey, sandbox::PUBLIC_KEY_ID, FIXED_UNIX, nonce, body)?;
        seeds.push((format!("{name}-pubkey"), join_message(&headers, body)));
    }
    let body = bodies[1].1;
    let mut probe = signed_answer(&platform, sandbox::PLATFORM_SERIAL, FIXED_UNIX, nonce, body)?;
    let signature = probe
        .get("Wechatpay-Signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    probe.insert(
        "Wechatpay-Signature",
        format!("WECHATPAY/SIGNTEST/{signature}").parse()?,
    );
    seeds.push(("probe".into(), join_message(&probe, body)));
    let skewed = signed_answer(
        &platform,
        sandbox::PLATFORM_SERIAL,
        FIXED_UNIX - 301,
        nonce,
        body,
    )?;
    seeds.push(("skewed".into(), join_message(&skewed, body)));
    let mut lowercase =
        signed_answer(&platform, sandbox::PLATFORM_SERIAL, FIXED_UNIX, nonce, body)?;
    lowercase.insert(
        "Wechatpay-Serial",
        sandbox::PLATFORM_SERIAL.to_ascii_lowercase().parse()?,
    );
    seeds.push(("lowercase-serial".into(), join_message(&lowercase, body)));
    Ok(seeds)
}

/// Notifications made by the sandbox at FIXED_UNIX, good and faulty.
fn notifications() -> Result<Seeds, Box<dyn std::error::Error>> {
    let transaction = json!({
        "appid": "wxd678efh567hg6787", "mchid": "1230000109",
        "out_trade_no": "1217752501201407033233368018", "transaction_id": "1217752501201407033233368018",
        "trade_type": "JSAPI", "trade_state": "SUCCESS", "trade_state_desc": "支付成功",
        "success_time": "2018-06-08T10:34:56+08:00", "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "amount": {"total": 100, "payer_total": 100, "currency": "CNY", "payer_currency": "CNY"}
    });
    let refund = json!({
        "mchid": "1900000100", "out_trade_no": "20150806125346", "transaction_id": "1008450740201411110005820873",
        "out_refund_no": "7752501201407033233368018", "refund_id": "50000000382019052709732678859",
        "refund_status": "SUCCESS", "success_time": "2018-06-08T10:34:56+08:00",
        "amount": {"total": 999, "refund": 999, "payer_total": 999, "payer_refund": 999}
    });
    let base = |event: &str, resource: &Value| {
        NotificationBuilder::new(event, resource)
            .at(fixed_time())
            .nonce("5K8264ILTKCH16CQ2502SI8ZNMTM67VS")
            .id("EV-2018022511223320873")
    };
    let cases = [
        ("transaction", base("TRANSACTION.SUCCESS", &transaction)),
        (
            "refund-pubkey",
            base("REFUND.SUCCESS", &refund).signed_with_public_key(),
        ),
        (
            "refund-abnormal",
            base("REFUND.ABNORMAL", &refund).summary("退款异常"),
        ),
        (
            "custom-ad",
            base("TRANSACTION.SUCCESS", &transaction)
                .associated_data("")
                .resource_type("encrypt-resource"),
        ),
        (
            "tampered",
            base("TRANSACTION.SUCCESS", &transaction).fault(Fault::TamperBody),
        ),
        (
            "skewed",
            base("TRANSACTION.SUCCESS", &transaction).fault(Fault::SkewClock(-600)),
        ),
        (
            "probe",
            base("TRANSACTION.SUCCESS", &transaction).fault(Fault::ProbeSignature),
        ),
        (
            "wrong-serial",
            base("TRANSACTION.SUCCESS", &transaction).fault(Fault::WrongSerial("1A2B3C".into())),
        ),
        (
            "no-nonce",
            base("TRANSACTION.SUCCESS", &transaction)
                .fault(Fault::DropHeader("Wechatpay-Nonce".into())),
        ),
        (
            "unsigned",
            base("TRANSACTION.SUCCESS", &transaction).fault(Fault::Unsigned),
        ),
        (
            "wrong-apiv3-key",
            base("TRANSACTION.SUCCESS", &transaction).apiv3_key("0123456789abcdef0123456789abcdef"),
        ),
    ];
    let mut seeds = Seeds::new();
    for (name, builder) in cases {
        let built = builder.build()?;
        seeds.push((name.to_owned(), join_message(&built.headers, &built.body)));
    }
    Ok(seeds)
}

/// For the `arbitrary`-driven targets: one seed per top-level choice (arbitrary picks an
/// enum variant from the first four bytes, little-endian, scaled to the variant count).
fn structured(variants: u64) -> Seeds {
    (0..variants)
        .map(|i| {
            let pick = u32::try_from((i << 32) / variants + 1).unwrap_or(u32::MAX);
            let mut data = pick.to_le_bytes().to_vec();
            data.extend((0u8..96).map(|b| b.wrapping_mul(37).wrapping_add(11)));
            (format!("variant-{i}"), data)
        })
        .collect()
}

fn authorizations() -> Result<Seeds, Box<dyn std::error::Error>> {
    let merchant = PrivateKey::from_pem(sandbox::MERCHANT_PRIVATE_KEY_PEM)?;
    let signed = Authorization::sign(
        sandbox::MERCHANT_ID,
        sandbox::MERCHANT_SERIAL,
        &merchant,
        "GET",
        "/v3/certificates",
        1554208460,
        "593BEC0C930BF1AFEB40B4A08C8FB242",
        b"",
    )?;
    let header = signed.to_header_value();
    let reordered = format!(
        "WECHATPAY2-SHA256-RSA2048 signature=\"{}\", nonce_str=\"{}\", timestamp=\"{}\", serial_no=\"{}\", mchid=\"{}\"",
        signed.signature, signed.nonce_str, signed.timestamp, signed.serial_no, signed.mchid
    );
    Ok(vec![
        ("documented".into(), header.into_bytes()),
        ("reordered".into(), reordered.into_bytes()),
        ("missing-signature".into(), br#"WECHATPAY2-SHA256-RSA2048 mchid="1900009191",serial_no="1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C",timestamp="1554208460",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242""#.to_vec()),
        ("other-scheme".into(), b"Bearer abc".to_vec()),
    ])
}

/// `associated_data \n nonce \n ciphertext` from the AES-GCM vectors (made with Python's
/// `cryptography`, tests/fixtures/notification/make.py) and one sealed here.
fn aead(repo: &Path) -> Result<Seeds, Box<dyn std::error::Error>> {
    let vectors: Value = serde_json::from_str(&fs::read_to_string(
        repo.join("tests/fixtures/notification/aes_gcm.json"),
    )?)?;
    let mut seeds = Seeds::new();
    for (i, v) in vectors
        .as_array()
        .ok_or("vectors are a list")?
        .iter()
        .enumerate()
    {
        let field = |name: &str| v[name].as_str().unwrap_or_default().to_owned();
        let data = format!(
            "{}\n{}\n{}",
            field("associated_data"),
            field("nonce"),
            field("ciphertext")
        );
        seeds.push((format!("vector-{i}"), data.into_bytes()));
    }
    let key = Apiv3Key::new(sandbox::APIV3_KEY)?;
    let sealed = key.encrypt(
        "transaction",
        "fdasflkja484",
        br#"{"trade_state":"SUCCESS"}"#,
    )?;
    seeds.push((
        "sandbox".into(),
        format!("transaction\nfdasflkja484\n{sealed}").into_bytes(),
    ));
    Ok(seeds)
}

/// The OAEP vectors (openssl pkeyutl with the sandbox merchant public key, see
/// tests/fixtures/oaep/make.py), as base64 text and as raw ciphertext bytes.
fn oaep(repo: &Path) -> Result<Seeds, Box<dyn std::error::Error>> {
    let dir = repo.join("tests/fixtures/oaep");
    let mut seeds = Seeds::new();
    let mut names: Vec<PathBuf> = fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "b64"))
        .collect();
    names.sort();
    for path in names {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("vector")
            .to_owned();
        let text = fs::read_to_string(&path)?;
        let raw = base64::engine::general_purpose::STANDARD.decode(text.trim())?;
        seeds.push((format!("{stem}.b64"), text.into_bytes()));
        seeds.push((format!("{stem}.bin"), raw));
    }
    seeds.push(("plaintext".into(), "张三 13800138000".as_bytes().to_vec()));
    Ok(seeds)
}

/// For `multipart`: patterned bytes of several lengths (`arbitrary` reads its structured
/// case from any bytes).
fn structured_bytes(count: u8) -> Seeds {
    (0..count)
        .map(|i| {
            let len = 32 + usize::from(i) * 48;
            let data = (0..len)
                .map(|b| (b as u8).wrapping_mul(29 + 2 * i).wrapping_add(7 * i + 1))
                .collect();
            (format!("case-{i}"), data)
        })
        .collect()
}

/// APIv2 XML: the notification fixtures, the sandbox's own notifications (MD5, HMAC-SHA256,
/// refund) and the hostile documents of tests/v2.rs.
fn v2_xml(repo: &Path) -> Result<Seeds, Box<dyn std::error::Error>> {
    let mut seeds = Seeds::new();
    let dir = repo.join("tests/fixtures/v2");
    for name in [
        "notify_payment_hmac.xml",
        "notify_payment_md5.xml",
        "notify_refund.xml",
        "refund_req_info.plain.xml",
    ] {
        seeds.push((name.to_owned(), fs::read(dir.join(name))?));
    }
    let paid = json!({
        "appid": "wx2421b1c4370ec43b", "mch_id": sandbox::MERCHANT_ID,
        "out_trade_no": "1409811653", "transaction_id": "1004400740201409030005092168",
        "total_fee": "1", "result_code": "SUCCESS", "attach": "Ben & Jerry's <b>",
        "nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
    });
    seeds.push((
        "sandbox-payment-md5.xml".to_owned(),
        sandbox::v2::payment_notification(&paid)?.into_bytes(),
    ));
    let mut hmac = paid.clone();
    hmac["sign_type"] = json!("HMAC-SHA256");
    seeds.push((
        "sandbox-payment-hmac.xml".to_owned(),
        sandbox::v2::payment_notification(&hmac)?.into_bytes(),
    ));
    seeds.push((
        "sandbox-refund.xml".to_owned(),
        sandbox::v2::refund_notification(json!({
            "out_refund_no": "1217752501201407033233368018", "refund_status": "SUCCESS",
            "refund_fee": "1", "total_fee": "1", "success_time": "2023-11-15 06:13:20",
        }))?
        .into_bytes(),
    ));
    for (name, text) in [
        ("answer-fail.xml", "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[签名错误]]></return_msg></xml>"),
        ("nested.xml", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xml><a>1</a><a>2</a><hb><b>&amp;&lt;&#x4e2d;</b></hb><!-- c --><e/></xml>"),
        ("cdata-split.xml", "<xml><v><![CDATA[a]]]]><![CDATA[>b]]></v><w>\r\nx\r</w></xml>"),
        ("xxe.xml", "<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><xml><a>&xxe;</a></xml>"),
        ("laughs.xml", "<!DOCTYPE l [<!ENTITY a \"aa\"><!ENTITY b \"&a;&a;\">]><xml><a>&b;</a></xml>"),
        ("undeclared-entity.xml", "<xml><a>&lol9;</a></xml>"),
        ("html.html", "<!DOCTYPE html><html><body><h1>502</h1></body></html>"),
        ("pi.xml", "<?php echo 1; ?><xml/>"),
        ("json.txt", "{\"code\":\"SYSTEM_ERROR\"}"),
        ("bom.xml", "\u{feff}<xml><a>1</a></xml>"),
        ("carriage-return.xml", "<xml><a>x&#13;y</a><b>p\r\nq\rr</b></xml>"),
    ] {
        seeds.push((name.to_owned(), text.as_bytes().to_vec()));
    }
    Ok(seeds)
}

/// Bills from the sandbox's generator (every kind; 0, 1 and 3 rows), and the examples of
/// `bill`'s documentation.
fn bills() -> Seeds {
    use wechatpay::sandbox::bills::{BillKind, BillSpec};
    let mut seeds = Seeds::new();
    for (name, kind) in [
        ("trade-all", BillKind::TradeAll),
        ("trade-success", BillKind::TradeSuccess),
        ("trade-refund", BillKind::TradeRefund),
        ("fund-flow", BillKind::FundFlow),
        ("profit-sharing", BillKind::ProfitSharing),
    ] {
        for rows in [0, 1, 3] {
            let spec = BillSpec::new(kind, "2026-11-29").rows(rows).seed(rows);
            seeds.push((format!("{name}-{rows}.csv"), spec.to_vec()));
        }
    }
    for (name, text) in [
        ("doc-trade.csv", "\u{feff}交易时间,商户订单号,交易状态,订单金额\r\n`2026-11-29 10:00:00,`SBX001,`SUCCESS,`12.34\r\n`2026-11-29 10:05:00,`SBX002,`REFUND,`0.00\r\n总交易单数,订单总金额\r\n`2,`12.34\r\n"),
        ("doc-fund-flow.csv", "资金流水单号,收支金额(元)\n`1900000001,`0.02\n资金流水总笔数,收入笔数\n`1,`0\n"),
        ("commas-in-values.csv", "a,b\n`x,y,`z\n\n总笔数,s\n`1,`2\n"),
        ("after-summary.csv", "a,a\n`1,`2\n总笔数\n`1\n`3,`4\n"),
    ] {
        seeds.push((name.to_owned(), text.as_bytes().to_vec()));
    }
    seeds
}

/// Catalog look-ups: every 48th endpoint's template, its example path (placeholders filled),
/// its chain text, and a few searches and near misses.
fn catalog() -> Seeds {
    let mut seeds = Seeds::new();
    for (i, endpoint) in wechatpay::catalog::endpoints()
        .iter()
        .enumerate()
        .step_by(48)
    {
        let path: Vec<String> = endpoint
            .template()
            .split('/')
            .map(|s| {
                if s.starts_with('{') {
                    "4200000001".to_owned()
                } else {
                    s.to_owned()
                }
            })
            .collect();
        seeds.push((
            format!("template-{i}"),
            endpoint.template().as_bytes().to_vec(),
        ));
        seeds.push((
            format!("path-{i}"),
            format!("/{}?mchid=1", path.join("/")).into_bytes(),
        ));
        seeds.push((format!("chain-{i}"), endpoint.chain_text().into_bytes()));
    }
    for (name, text) in [
        ("upload", "v3/merchant-service/images/upload"),
        (
            "query-expression",
            "v3/pay/transactions/id/{transaction_id}{?mchid}",
        ),
        ("alias", "v3/pay/transactions/out-trade-no/<out_trade_no>"),
        (
            "js-chain",
            "wxpay.v3.payscore.payafterOrders._out_order_no_.sync",
        ),
        ("trailing-dot", "v3.applyment4sub.applyment."),
        ("typo", "v3/refund/domestc/refunds"),
        ("search", "退款 domestic"),
    ] {
        seeds.push((name.to_owned(), text.as_bytes().to_vec()));
    }
    seeds
}

/// PKCS#12: both test files with the right password (the merchant id), a wrong one, and
/// cut short.
fn pkcs12(repo: &Path) -> Result<Seeds, Box<dyn std::error::Error>> {
    let mut seeds = Seeds::new();
    for name in ["merchant_legacy", "merchant_modern"] {
        let file = fs::read(repo.join(format!("tests/fixtures/v2/tls/{name}.p12")))?;
        let with = |password: &str, bytes: &[u8]| {
            let mut data = password.as_bytes().to_vec();
            data.push(b'\n');
            data.extend_from_slice(bytes);
            data
        };
        seeds.push((name.to_owned(), with(sandbox::MERCHANT_ID, &file)));
        seeds.push((format!("{name}-wrong-password"), with("1900000002", &file)));
        seeds.push((
            format!("{name}-truncated"),
            with(sandbox::MERCHANT_ID, &file[..file.len() / 2]),
        ));
    }
    Ok(seeds)
}
