//! Request signing: byte-exact snapshots of the seed requests, signatures equal to
//! OpenSSL's over independently built messages, and signatures that break when any byte
//! of the message changes.

mod common;

use base64::Engine as _;
use common::*;
use serde_json::json;
use wechatpay::{chain, PrivateKey, PublicKey, Wechatpay};

fn merchant_public() -> PublicKey {
    PrivateKey::from_pem(wechatpay::sandbox::MERCHANT_PRIVATE_KEY_PEM)
        .unwrap()
        .public_key()
        .clone()
}

/// The three chain styles build one seed request; all must be byte-identical.
fn seed_requests(wxpay: &Wechatpay, seed: &Seed) -> [http::Request<Vec<u8>>; 3] {
    let fix = |b: wechatpay::RequestBuilder| {
        b.param("out_order_no", OUT_ORDER_NO)
            .timestamp(TIMESTAMP)
            .nonce(NONCE)
            .build()
            .unwrap()
    };
    let by_template = fix(wxpay.chain(seed.template).post(&seed.body));
    let mut by_segments = wxpay.seg(seed.segments[0]);
    for segment in &seed.segments[1..] {
        by_segments = by_segments.seg(segment);
    }
    let by_segments = fix(by_segments.post(&seed.body));
    let by_macro = fix(match seed.name {
        "serviceorder_sync" => chain!(wxpay.v3.payscore.serviceorder._out_order_no_.sync),
        "partner_serviceorder_sync" => {
            chain!(wxpay.v3.payscore.partner.serviceorder._out_order_no_.sync)
        }
        "payafter_orders_sync" => chain!(wxpay.v3.payscore.payafterOrders._out_order_no_.sync),
        "acquiringbank_serviceorder_sync" => {
            chain!(
                wxpay
                    .v3
                    .payscore
                    .acquiringbank
                    .serviceorder
                    ._out_order_no_
                    .sync
            )
        }
        other => panic!("no macro form for {other}"),
    }
    .post(&seed.body));
    [by_template, by_segments, by_macro]
}

#[test]
fn seed_requests_are_identical_in_all_three_styles_and_snapshotted() {
    let wxpay = offline();
    for seed in seeds() {
        let [a, b, c] = seed_requests(&wxpay, &seed);
        let (ra, rb, rc) = (render(&a), render(&b), render(&c));
        assert_eq!(ra, rb, "{}: template vs segments", seed.name);
        assert_eq!(ra, rc, "{}: template vs macro", seed.name);
        assert_eq!(a.body(), c.body());
        snapshot_settings().bind(|| insta::assert_snapshot!(seed.name, ra));
    }
}

#[test]
fn seed_signatures_equal_openssl_over_independently_built_messages() {
    let wxpay = offline();
    for seed in seeds() {
        let [request, ..] = seed_requests(&wxpay, &seed);
        let expected_message = fixture(&format!("sign/{}.msg", seed.name));
        assert_eq!(
            String::from_utf8(signed_message(&request, TIMESTAMP, NONCE)).unwrap(),
            expected_message,
            "{}: the signed message",
            seed.name
        );
        assert_eq!(
            authorization(&request).signature,
            fixture(&format!("sign/{}.sig", seed.name)).trim(),
            "{}: the signature differs from `openssl dgst -sha256 -sign`",
            seed.name
        );
    }
}

#[test]
fn the_authorization_header_has_the_documented_shape() {
    let wxpay = offline();
    let seed = &seeds()[0];
    let [request, ..] = seed_requests(&wxpay, seed);
    let header = request.headers()["authorization"].to_str().unwrap();
    let signature = fixture("sign/serviceorder_sync.sig");
    assert_eq!(
        header,
        format!(
            "WECHATPAY2-SHA256-RSA2048 mchid=\"1900000001\",serial_no=\"{}\",timestamp=\"{TIMESTAMP}\",nonce_str=\"{NONCE}\",signature=\"{}\"",
            wechatpay::sandbox::MERCHANT_SERIAL,
            signature.trim()
        )
    );
}

#[test]
fn every_signature_verifies_and_breaks_when_one_message_byte_changes() {
    let wxpay = offline();
    let public = merchant_public();
    for seed in seeds() {
        let [request, ..] = seed_requests(&wxpay, &seed);
        let signature = base64::engine::general_purpose::STANDARD
            .decode(authorization(&request).signature)
            .unwrap();
        let message = signed_message(&request, TIMESTAMP, NONCE);
        assert!(public.verify(&message, &signature), "{}", seed.name);
        // Flip one bit at a spread of positions: method, target, timestamp, nonce, body, final newline.
        let step = (message.len() / 23).max(1);
        for i in (0..message.len()).step_by(step).chain([message.len() - 1]) {
            let mut changed = message.clone();
            changed[i] ^= 0x01;
            assert!(
                !public.verify(&changed, &signature),
                "{}: flipping byte {i} still verified",
                seed.name
            );
        }
    }
}

#[test]
fn a_get_with_a_query_is_signed_over_path_and_query() {
    let wxpay = offline();
    let by_query = wxpay
        .chain("v3/pay/transactions/out-trade-no/{out_trade_no}")
        .get()
        .param("out_trade_no", "1217752501201407033233368018")
        .query("mchid", "1900000001")
        .timestamp(TIMESTAMP)
        .nonce(NONCE)
        .build()
        .unwrap();
    let by_template = wxpay
        .chain("v3/pay/transactions/out-trade-no/{out_trade_no}{?mchid}")
        .get()
        .params(json!({"out_trade_no": "1217752501201407033233368018", "mchid": "1900000001"}))
        .timestamp(TIMESTAMP)
        .nonce(NONCE)
        .build()
        .unwrap();
    let text = render(&by_query);
    assert_eq!(text, render(&by_template));
    assert!(
        !by_query.headers().contains_key("content-type"),
        "no body, no Content-Type"
    );
    assert_eq!(
        String::from_utf8(signed_message(&by_query, TIMESTAMP, NONCE)).unwrap(),
        fixture("sign/get_with_query.msg")
    );
    assert_eq!(
        authorization(&by_query).signature,
        fixture("sign/get_with_query.sig").trim()
    );
    snapshot_settings().bind(|| insta::assert_snapshot!("get_with_query", text));
}

#[test]
fn a_base_path_is_kept_in_the_uri_and_signed() {
    let wxpay = wechatpay::sandbox::offline_client().unwrap();
    let hk = Wechatpay::builder()
        .mchid(wxpay.mchid())
        .serial(wxpay.serial())
        .private_key(wxpay.private_key().clone())
        .platform_key(
            wechatpay::sandbox::PLATFORM_SERIAL,
            PublicKey::from_pem(wechatpay::sandbox::PLATFORM_PUBLIC_KEY_PEM).unwrap(),
        )
        .base_url("https://apihk.mch.weixin.qq.com/hk")
        .build()
        .unwrap();
    let request = hk
        .chain("v3/transactions/out-trade-no/{out_trade_no}")
        .get()
        .param("out_trade_no", "1217752501201407033233368018")
        .query("mchid", "1900000001")
        .query("sub_mchid", "1900000109")
        .query("sp_mchid", "1900000100")
        .timestamp(TIMESTAMP)
        .nonce(NONCE)
        .build()
        .unwrap();
    assert_eq!(
        request.uri(),
        "https://apihk.mch.weixin.qq.com/hk/v3/transactions/out-trade-no/1217752501201407033233368018?mchid=1900000001&sub_mchid=1900000109&sp_mchid=1900000100"
    );
    assert_eq!(
        String::from_utf8(signed_message(&request, TIMESTAMP, NONCE)).unwrap(),
        fixture("sign/hk_base_path.msg")
    );
    assert_eq!(
        authorization(&request).signature,
        fixture("sign/hk_base_path.sig").trim()
    );
    snapshot_settings().bind(|| insta::assert_snapshot!("hk_base_path", render(&request)));
}

#[test]
fn unfixed_requests_get_a_fresh_timestamp_and_a_random_32_char_nonce() {
    let wxpay = offline();
    let build = || wxpay.chain("v3/certificates").get().build().unwrap();
    let (a, b) = (authorization(&build()), authorization(&build()));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(a.timestamp.abs_diff(now) <= 5);
    for nonce in [&a.nonce_str, &b.nonce_str] {
        assert_eq!(nonce.len(), 32);
        assert!(nonce.bytes().all(|c| c.is_ascii_alphanumeric()), "{nonce}");
    }
    assert_ne!(a.nonce_str, b.nonce_str);
}

#[test]
fn a_public_key_id_is_announced_in_wechatpay_serial() {
    let with_id = Wechatpay::builder()
        .mchid(wechatpay::sandbox::MERCHANT_ID)
        .serial(wechatpay::sandbox::MERCHANT_SERIAL)
        .private_key(PrivateKey::from_pem(wechatpay::sandbox::MERCHANT_PRIVATE_KEY_PEM).unwrap())
        .platform_key(
            wechatpay::sandbox::PLATFORM_SERIAL,
            PublicKey::from_pem(wechatpay::sandbox::PLATFORM_PUBLIC_KEY_PEM).unwrap(),
        )
        .platform_key(
            wechatpay::sandbox::PUBLIC_KEY_ID,
            PublicKey::from_pem(wechatpay::sandbox::PUBLIC_KEY_PEM).unwrap(),
        )
        .build()
        .unwrap();
    let request = with_id.chain("v3/certificates").get().build().unwrap();
    assert_eq!(
        request.headers()["wechatpay-serial"],
        wechatpay::sandbox::PUBLIC_KEY_ID
    );
    let without = offline().chain("v3/certificates").get().build().unwrap();
    assert!(!without.headers().contains_key("wechatpay-serial"));
}

#[test]
fn caller_headers_replace_defaults_but_never_the_authorization() {
    let request = offline()
        .chain("v3/certificates")
        .get()
        .header("Accept", "*/*")
        .header("X-Trace", "abc")
        .build()
        .unwrap();
    assert_eq!(request.headers()["accept"], "*/*");
    assert_eq!(request.headers()["x-trace"], "abc");
    assert!(request.headers()["authorization"]
        .to_str()
        .unwrap()
        .starts_with("WECHATPAY2-SHA256-RSA2048 "));

    // Setting it by hand is refused at build(), not silently overridden.
    let error = offline()
        .chain("v3/certificates")
        .get()
        .header("Authorization", "forged")
        .build()
        .unwrap_err();
    assert!(
        matches!(error, wechatpay::Error::Request { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("Authorization"), "{error}");
}

#[test]
fn headers_that_decide_framing_or_identity_are_refused_naming_them() {
    for (name, value) in [
        ("Content-Length", "5"),
        ("content-length", "0"),
        ("Transfer-Encoding", "chunked"),
        ("Host", "evil.example"),
        ("Connection", "close"),
        ("Upgrade", "h2c"),
        ("TE", "trailers"),
        ("Trailer", "X-Late"),
        ("Expect", "100-continue"),
        ("Keep-Alive", "timeout=5"),
        ("Proxy-Authorization", "Basic eDp5"),
        ("Authorization", "WECHATPAY2-SHA256-RSA2048 forged"),
    ] {
        let error = offline()
            .chain("v3/pay/transactions/native")
            .post(json!({"mchid": "1900000001"}))
            .header(name, value)
            .build()
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains(&format!("`{name}` header cannot be set")),
            "{name}: {error}"
        );
        // The same rule, without a request, for tools such as `wxpay -H`.
        assert!(wechatpay::RequestBuilder::check_header(name, value).is_err());
    }
}

#[test]
fn header_values_must_be_printable_ascii_as_the_error_says() {
    for (value, says) in [
        ("caf\u{e9}", "non-ASCII"),
        ("a\u{1}b", "control"),
        ("订单", "non-ASCII"),
    ] {
        let error = offline()
            .chain("v3/certificates")
            .get()
            .header("X-Note", value)
            .build()
            .unwrap_err();
        assert!(error.to_string().contains(says), "{value:?}: {error}");
    }
}

#[test]
fn nonces_the_platform_would_not_accept_are_refused_before_signing() {
    for (nonce, says) in [
        ("a\",mchid=\"999", "`\"` or `,`"),
        ("a,b", "`\"` or `,`"),
        ("line\r\nX-Injected: 1", "visible ASCII"),
        ("with space", "visible ASCII"),
        ("随机数", "visible ASCII"),
        ("", "1 to 32"),
        ("012345678901234567890123456789012", "1 to 32"),
    ] {
        let error = offline()
            .chain("v3/certificates")
            .get()
            .nonce(nonce)
            .build()
            .unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("nonce") && text.contains(says),
            "{nonce:?}: {text}"
        );
        assert!(!text.contains("merchant id"), "{text}");
    }
    // The longest nonce the platform takes, and visible ASCII other than `"` and `,`.
    let ok = offline()
        .chain("v3/certificates")
        .get()
        .nonce("01234567890123456789012345678901")
        .build()
        .unwrap();
    assert_eq!(authorization(&ok).nonce_str.len(), 32);
    assert!(offline()
        .chain("v3/x")
        .get()
        .nonce("!#$%&'()*+-./:;<=>?@[]^_`{|}~")
        .build()
        .is_ok());

    // A timestamp the platform cannot read as a signed 64-bit number.
    let error = offline()
        .chain("v3/certificates")
        .get()
        .timestamp(u64::MAX)
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("timestamp"), "{error}");
}

#[test]
fn the_authorization_parser_refuses_a_field_given_twice() {
    let header = r#"WECHATPAY2-SHA256-RSA2048 mchid="1",serial_no="AB",timestamp="1",nonce_str="a",mchid="999",signature="x""#;
    let error = wechatpay::sign::Authorization::parse(header).unwrap_err();
    assert!(
        error.to_string().contains("`mchid` is given twice"),
        "{error}"
    );
}

#[test]
fn a_fixed_clock_drives_the_signature_timestamp_of_a_whole_request() {
    let then = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(TIMESTAMP);
    let wxpay = wechatpay::sandbox::offline_client_builder()
        .unwrap()
        .clock(wechatpay::Clock::fixed(then))
        .build()
        .unwrap();
    let seed = &seeds()[0];
    // No .timestamp(): the client's clock gives it. The nonce is still per request.
    let request = wxpay
        .chain(seed.template)
        .post(&seed.body)
        .param("out_order_no", OUT_ORDER_NO)
        .nonce(NONCE)
        .build()
        .unwrap();
    assert_eq!(authorization(&request).timestamp, TIMESTAMP);
    let message = signed_message(&request, TIMESTAMP, NONCE);
    let signature = base64::engine::general_purpose::STANDARD
        .decode(authorization(&request).signature)
        .unwrap();
    assert!(wxpay
        .private_key()
        .public_key()
        .verify(&message, &signature));
    // Byte for byte the request that fixes .timestamp() by hand (the seed snapshot).
    let by_hand = wxpay
        .chain(seed.template)
        .post(&seed.body)
        .param("out_order_no", OUT_ORDER_NO)
        .timestamp(TIMESTAMP)
        .nonce(NONCE)
        .build()
        .unwrap();
    assert_eq!(render(&request), render(&by_hand));
    snapshot_settings()
        .bind(|| insta::assert_snapshot!("clock_driven_serviceorder_sync", render(&request)));
}

#[test]
fn the_signing_backend_is_the_one_the_features_select() {
    let expected = if cfg!(feature = "aws-lc-rs") {
        "aws-lc-rs"
    } else {
        "ring"
    };
    assert_eq!(wechatpay::crypto::signing_backend(), expected);
}

/// A `#` starts a fragment, which `http::Uri` drops and no request carries: signing a target
/// with one would sign text the platform never sees (401 SIGN_ERROR), or, with `{+p}`, send
/// the call to a shorter path. Such a target is refused; a `#` in a `{name}` value is
/// percent-encoded and goes on the wire exactly as signed.
#[test]
fn a_target_with_a_fragment_is_refused_and_an_encoded_hash_is_sent_as_signed() {
    let wxpay = offline();
    for (template, value) in [
        ("v3/x#top", "unused"),
        ("v3/x{#p}", "frag"),
        ("v3/{+p}", "a#b?c"),
    ] {
        let error = wxpay
            .chain(template)
            .get()
            .param("p", value)
            .skip_check()
            .build()
            .unwrap_err();
        assert!(
            matches!(error, wechatpay::Error::Request { .. }),
            "{template}: {error:?}"
        );
        assert!(
            error.to_string().contains("fragment"),
            "{template}: {error}"
        );
    }

    let request = wxpay
        .chain("v3/refund/domestic/refunds/{out_refund_no}")
        .get()
        .param("out_refund_no", "R#1")
        .skip_check()
        .build()
        .unwrap();
    let sent = request.uri().path_and_query().unwrap().as_str().to_owned();
    assert_eq!(sent, "/v3/refund/domestic/refunds/R%231");
    let header = request.headers()["authorization"].to_str().unwrap();
    let auth = wechatpay::sign::Authorization::parse(header).unwrap();
    let message = wechatpay::sign::message("GET", &sent, auth.timestamp, &auth.nonce_str, b"");
    let signature = base64::engine::general_purpose::STANDARD
        .decode(&auth.signature)
        .unwrap();
    let merchant = PrivateKey::from_pem(wechatpay::sandbox::MERCHANT_PRIVATE_KEY_PEM).unwrap();
    assert!(merchant.public_key().verify(&message, &signature));
}
