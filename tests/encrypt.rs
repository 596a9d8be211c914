//! Sensitive fields (RSA-OAEP, SHA-1, MGF1-SHA1) and AES-256-GCM, cross-checked with OpenSSL
//! in both directions:
//! - OAEP, OpenSSL -> crate: `tests/fixtures/oaep/*.b64`, made by `openssl pkeyutl -encrypt`
//!   (see its make.py), decrypted by `Wechatpay::decrypt`.
//! - OAEP, crate -> OpenSSL: ciphertexts made here are decrypted by the `openssl` binary at
//!   test time with the sandbox platform private key.
//! - AES-GCM, OpenSSL -> crate: `tests/fixtures/notification/aes_gcm.json`, made by
//!   pyca/cryptography (OpenSSL's libcrypto), decrypted by `Apiv3Key` (ring).
//! - AES-GCM, crate -> OpenSSL: the `openssl` binary decrypts our ciphertext in CTR mode
//!   (GCM's keystream) and computes H = AES(K, 0) and AES(K, J0) in ECB mode; the tag is
//!   recomputed from those with a GHASH written here (checked against the fixtures too).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::{json, Value};
use wechatpay::sandbox::{self, Sandbox};
use wechatpay::{Apiv3Key, Certificate, Error, PrivateKey, PublicKey, Wechatpay};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn key_path(name: &str) -> String {
    format!("{}/src/sandbox/keys/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs the `openssl` binary (CI installs it; see .ci/run) with `input` on stdin.
fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the openssl binary is needed by this test (apt-get install openssl)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write to openssl");
    let out = child.wait_with_output().expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn builder() -> wechatpay::WechatpayBuilder {
    Wechatpay::builder()
        .mchid(sandbox::MERCHANT_ID)
        .serial(sandbox::MERCHANT_SERIAL)
        .private_key(PrivateKey::from_pem(sandbox::MERCHANT_PRIVATE_KEY_PEM).unwrap())
}

fn platform_public() -> PublicKey {
    PublicKey::from_pem(sandbox::PLATFORM_PUBLIC_KEY_PEM).unwrap()
}

fn pubkey_public() -> PublicKey {
    PublicKey::from_pem(sandbox::PUBLIC_KEY_PEM).unwrap()
}

// --- RSA-OAEP ------------------------------------------------------------------------

#[test]
fn openssl_ciphertexts_decrypt_with_the_merchant_key() {
    let wxpay = common::offline();
    for case in ["name", "id_card_number", "mobile", "max_length"] {
        let ciphertext = common::fixture(&format!("oaep/{case}.b64"));
        let plaintext = common::fixture(&format!("oaep/{case}.txt"));
        assert_eq!(
            wxpay.decrypt(ciphertext.trim()).unwrap(),
            plaintext,
            "{case}"
        );
    }
}

#[test]
fn oaep_with_sha256_is_refused_as_a_crypto_error() {
    let error = common::offline()
        .decrypt(common::fixture("oaep/sha256.b64").trim())
        .unwrap_err();
    assert!(matches!(error, Error::Crypto { .. }), "{error:?}");
}

#[test]
fn bad_base64_is_a_decode_error() {
    let error = common::offline().decrypt("not base64!").unwrap_err();
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
}

#[test]
fn our_ciphertexts_decrypt_with_openssl() {
    let wxpay = common::offline();
    let longest = "y".repeat(214);
    for plaintext in [
        "张三",
        "330821199809085211",
        "13800138000",
        longest.as_str(),
    ] {
        let ciphertext = wxpay.encrypt(plaintext).unwrap();
        let raw = B64.decode(&ciphertext).unwrap();
        assert_eq!(raw.len(), 256);
        let opened = openssl(
            &[
                "pkeyutl",
                "-decrypt",
                "-inkey",
                &key_path("platform_key.pem"),
                "-pkeyopt",
                "rsa_padding_mode:oaep",
                "-pkeyopt",
                "rsa_oaep_md:sha1",
                "-pkeyopt",
                "rsa_mgf1_md:sha1",
            ],
            &raw,
        );
        assert_eq!(opened, plaintext.as_bytes());
    }
}

#[test]
fn encryption_is_randomized() {
    let wxpay = common::offline();
    assert_ne!(
        wxpay.encrypt("张三").unwrap(),
        wxpay.encrypt("张三").unwrap()
    );
}

#[test]
fn a_plaintext_longer_than_the_key_allows_is_a_crypto_error_without_the_plaintext() {
    let secret = "s".repeat(215);
    let error = common::offline().encrypt(&secret).unwrap_err();
    assert!(matches!(error, Error::Crypto { .. }), "{error:?}");
    assert!(error.to_string().contains("214"), "{error}");
    assert!(!format!("{error:?}{error}").contains(&secret));
}

// --- which platform key encrypts ---------------------------------------------------

#[test]
fn the_only_configured_key_encrypts() {
    let (id, key) = common::offline().encryption_key().unwrap();
    assert_eq!(id, sandbox::PLATFORM_SERIAL);
    assert_eq!(key, platform_public());
}

#[test]
fn a_public_key_id_wins_over_certificates_and_keys() {
    let wxpay = builder()
        .platform_certificate(Certificate::from_pem(sandbox::PLATFORM_CERTIFICATE_PEM).unwrap())
        .platform_key("ABCDEF", platform_public())
        .platform_key(sandbox::PUBLIC_KEY_ID, pubkey_public())
        .build()
        .unwrap();
    let (id, key) = wxpay.encryption_key().unwrap();
    assert_eq!(id, sandbox::PUBLIC_KEY_ID);
    assert_eq!(key, pubkey_public());
}

#[test]
fn the_certificate_that_ends_last_wins_over_plain_keys() {
    let other = Certificate::from_pem(&common::fixture("oaep/other_cert.pem")).unwrap();
    let platform = Certificate::from_pem(sandbox::PLATFORM_CERTIFICATE_PEM).unwrap();
    assert!(other.not_after() < platform.not_after());
    for order in [[&other, &platform], [&platform, &other]] {
        let wxpay = builder()
            .platform_key("ABCDEF", pubkey_public())
            .platform_certificate(order[0].clone())
            .platform_certificate(order[1].clone())
            .build()
            .unwrap();
        let (id, key) = wxpay.encryption_key().unwrap();
        assert_eq!(id, sandbox::PLATFORM_SERIAL);
        assert_eq!(&key, platform.public_key());
    }
}

#[test]
fn several_plain_keys_are_ambiguous() {
    let wxpay = builder()
        .platform_key("ABCDEF", pubkey_public())
        .platform_key(sandbox::PLATFORM_SERIAL, platform_public())
        .build()
        .unwrap();
    let error = wxpay.encrypt("张三").unwrap_err();
    assert!(matches!(error, Error::Config { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("ABCDEF") && text.contains(sandbox::PLATFORM_SERIAL),
        "{text}"
    );
    assert!(text.contains("Wechatpay-Serial"), "{text}");
}

#[test]
fn no_key_at_all_is_a_config_error() {
    let wxpay = builder().apiv3_key(sandbox::APIV3_KEY).build().unwrap();
    assert!(matches!(
        wxpay.encryption_key().unwrap_err(),
        Error::Config { .. }
    ));
}

// --- encrypt_fields ----------------------------------------------------------------

fn applyment() -> Value {
    json!({
        "business_code": "APPLYMENT_00000000001",
        "contact_info": {
            "contact_name": "张三",
            "contact_id_number": "330821199809085211",
            "contact_type": "LEGAL",
        },
        "bank_account_info": [{ "account_number": "6214830000000000", "bank_name": "招商银行" }],
        "a/b": "slash in a key",
    })
}

const POINTERS: [&str; 4] = [
    "/contact_info/contact_name",
    "/contact_info/contact_id_number",
    "/bank_account_info/0/account_number",
    "/a~1b",
];

/// Sends through the sandbox (which checks the request signature) and returns what it
/// received. The sandbox knows the endpoint from the catalog and refuses this trimmed body
/// (required fields left out) with 400 `PARAM_ERROR`, after the signature check; the
/// client's own catalog check is skipped so that the body reaches it.
async fn sent_through(sandbox: &Sandbox, wxpay: &Wechatpay, pin: Option<&str>) -> (String, Value) {
    let mut request = wxpay
        .chain("v3/applyment4sub/applyment/")
        .post(applyment())
        .encrypt_fields(POINTERS)
        .skip_check();
    if let Some(id) = pin {
        request = request.header("Wechatpay-Serial", id);
    }
    let error = request.send().await.unwrap_err();
    assert_eq!(error.api_code(), Some("PARAM_ERROR"), "{error:?}");
    let received = sandbox
        .requests()
        .pop()
        .expect("the sandbox accepted the signature");
    let serial = received.headers["wechatpay-serial"]
        .to_str()
        .unwrap()
        .to_owned();
    (serial, serde_json::from_slice(&received.body).unwrap())
}

fn assert_encrypted_for(body: &Value, platform_private_pem: &str) {
    let platform = PrivateKey::from_pem(platform_private_pem).unwrap();
    let original = applyment();
    for pointer in POINTERS {
        let sent = body.pointer(pointer).unwrap().as_str().unwrap();
        let want = original.pointer(pointer).unwrap().as_str().unwrap();
        assert_ne!(sent, want, "{pointer} left in clear");
        assert_eq!(platform.decrypt(sent).unwrap(), want, "{pointer}");
    }
    // Everything else is untouched.
    assert_eq!(body["business_code"], original["business_code"]);
    assert_eq!(body["contact_info"]["contact_type"], "LEGAL");
    assert_eq!(body["bank_account_info"][0]["bank_name"], "招商银行");
}

#[tokio::test]
async fn encrypt_fields_encrypts_for_the_platform_and_names_the_key() {
    let sandbox = Sandbox::start().await.unwrap();
    let (serial, body) = sent_through(&sandbox, &sandbox.client(), None).await;
    assert_eq!(serial, sandbox::PLATFORM_SERIAL);
    assert_encrypted_for(&body, sandbox::PLATFORM_PRIVATE_KEY_PEM);
}

#[tokio::test]
async fn in_public_key_mode_the_public_key_id_encrypts() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox
        .client_builder()
        .unwrap()
        .platform_key(sandbox::PUBLIC_KEY_ID, pubkey_public())
        .build()
        .unwrap();
    let (serial, body) = sent_through(&sandbox, &wxpay, None).await;
    assert_eq!(serial, sandbox::PUBLIC_KEY_ID);
    assert_encrypted_for(&body, sandbox::PUBLIC_KEY_PRIVATE_PEM);
}

#[tokio::test]
async fn a_serial_set_by_the_caller_pins_the_key() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox
        .client_builder()
        .unwrap()
        .platform_key(sandbox::PUBLIC_KEY_ID, pubkey_public())
        .build()
        .unwrap();
    let (serial, body) = sent_through(&sandbox, &wxpay, Some(sandbox::PLATFORM_SERIAL)).await;
    assert_eq!(serial, sandbox::PLATFORM_SERIAL);
    assert_encrypted_for(&body, sandbox::PLATFORM_PRIVATE_KEY_PEM);
}

#[test]
fn a_pinned_serial_that_names_no_trusted_key_is_a_request_error() {
    let error = common::offline()
        .chain("v3/applyment4sub/applyment/")
        .post(applyment())
        .header("Wechatpay-Serial", "ABCDEF")
        .encrypt_fields(POINTERS)
        .build()
        .unwrap_err();
    assert!(matches!(error, Error::Request { .. }), "{error:?}");
    assert!(error.to_string().contains("ABCDEF"), "{error}");
}

#[test]
fn a_pointer_that_names_no_string_is_a_deferred_request_error_naming_it() {
    for (pointer, found) in [
        ("/contact_info", "an object"),
        ("/bank_account_info/0/missing", "nothing is there"),
        ("/bank_account_info/7/account_number", "nothing is there"),
    ] {
        let error = common::offline()
            .chain("v3/applyment4sub/applyment/")
            .post(applyment())
            .encrypt_fields([pointer])
            .build()
            .unwrap_err();
        assert!(matches!(error, Error::Request { .. }), "{error:?}");
        let text = error.to_string();
        assert!(text.contains(pointer) && text.contains(found), "{text}");
    }
    let error = common::offline()
        .chain("v3/applyment4sub/applyment/")
        .post(applyment())
        .encrypt_fields(["contact_info/contact_name"])
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("JSON Pointer"), "{error}");
}

#[test]
fn encrypt_fields_needs_a_json_body() {
    let error = common::offline()
        .chain("v3/applyment4sub/applyment/")
        .request(http::Method::POST)
        .body("not json")
        .encrypt_fields(["/a"])
        .build()
        .unwrap_err();
    assert!(matches!(error, Error::Request { .. }), "{error:?}");
}

#[test]
fn the_signature_covers_the_encrypted_body() {
    let wxpay = common::offline();
    let request = wxpay
        .chain("v3/applyment4sub/applyment/")
        .post(applyment())
        .encrypt_fields(POINTERS)
        .timestamp(common::TIMESTAMP)
        .nonce(common::NONCE)
        .build()
        .unwrap();
    let message = common::signed_message(&request, common::TIMESTAMP, common::NONCE);
    let signature = B64
        .decode(common::authorization(&request).signature)
        .unwrap();
    assert!(wxpay
        .private_key()
        .public_key()
        .verify(&message, &signature));
    assert!(!String::from_utf8_lossy(request.body()).contains("张三"));
}

// --- AES-256-GCM ------------------------------------------------------------------

/// GHASH of SP 800-38D over `aad` and `ciphertext`, with H given.
fn ghash(h: u128, aad: &[u8], ciphertext: &[u8]) -> u128 {
    fn mul(x: u128, y: u128) -> u128 {
        let (mut z, mut v) = (0u128, y);
        for i in 0..128 {
            if (x >> (127 - i)) & 1 == 1 {
                z ^= v;
            }
            v = if v & 1 == 1 {
                (v >> 1) ^ (0xE1 << 120)
            } else {
                v >> 1
            };
        }
        z
    }
    let mut y = 0u128;
    for data in [aad, ciphertext] {
        for chunk in data.chunks(16) {
            let mut block = [0u8; 16];
            block[..chunk.len()].copy_from_slice(chunk);
            y = mul(y ^ u128::from_be_bytes(block), h);
        }
    }
    let lengths = ((aad.len() as u128 * 8) << 64) | (ciphertext.len() as u128 * 8);
    mul(y ^ lengths, h)
}

/// Opens AES-256-GCM with the `openssl` binary's AES (CTR for the data, ECB for H and the
/// tag mask) and the GHASH above; panics if the tag does not match.
fn open_with_openssl(key: &[u8], nonce: &[u8], aad: &[u8], sealed: &[u8]) -> Vec<u8> {
    let (ciphertext, tag) = sealed.split_at(sealed.len() - 16);
    let ecb = |block: &[u8]| openssl(&["enc", "-aes-256-ecb", "-nopad", "-K", &hex(key)], block);
    let h = u128::from_be_bytes(ecb(&[0; 16]).try_into().unwrap());
    let j0 = [nonce, &[0, 0, 0, 1]].concat();
    let mask = u128::from_be_bytes(ecb(&j0).try_into().unwrap());
    let expected = ghash(h, aad, ciphertext) ^ mask;
    assert_eq!(expected.to_be_bytes(), tag, "the GCM tag");
    if ciphertext.is_empty() {
        return Vec::new();
    }
    let counter2 = [nonce, &[0, 0, 0, 2]].concat();
    openssl(
        &[
            "enc",
            "-d",
            "-aes-256-ctr",
            "-K",
            &hex(key),
            "-iv",
            &hex(&counter2),
        ],
        ciphertext,
    )
}

fn vectors() -> Vec<Value> {
    serde_json::from_str(&common::fixture("notification/aes_gcm.json")).unwrap()
}

#[test]
fn openssl_made_aes_gcm_vectors_decrypt_with_the_apiv3_key() {
    let key = Apiv3Key::new(sandbox::APIV3_KEY).unwrap();
    for vector in vectors() {
        let opened = key
            .decrypt(
                vector["associated_data"].as_str().unwrap(),
                vector["nonce"].as_str().unwrap(),
                vector["ciphertext"].as_str().unwrap(),
            )
            .unwrap();
        assert_eq!(opened, vector["plaintext"].as_str().unwrap().as_bytes());
    }
}

#[test]
fn the_test_ghash_reproduces_the_openssl_made_tags() {
    for vector in vectors() {
        let opened = open_with_openssl(
            sandbox::APIV3_KEY.as_bytes(),
            vector["nonce"].as_str().unwrap().as_bytes(),
            vector["associated_data"].as_str().unwrap().as_bytes(),
            &B64.decode(vector["ciphertext"].as_str().unwrap()).unwrap(),
        );
        assert_eq!(opened, vector["plaintext"].as_str().unwrap().as_bytes());
    }
}

#[test]
fn our_aes_gcm_ciphertexts_open_with_openssl() {
    let key = Apiv3Key::new(sandbox::APIV3_KEY).unwrap();
    let resource = json!({"out_trade_no": "1217752501201407033233368018", "trade_state": "SUCCESS",
                          "trade_state_desc": "支付成功", "pad": "x".repeat(100)});
    let plaintext = serde_json::to_vec(&resource).unwrap();
    for (aad, nonce) in [("transaction", "fdasflkja484"), ("", "0123456789ab")] {
        let sealed = key.encrypt(aad, nonce, &plaintext).unwrap();
        let opened = open_with_openssl(
            sandbox::APIV3_KEY.as_bytes(),
            nonce.as_bytes(),
            aad.as_bytes(),
            &B64.decode(sealed).unwrap(),
        );
        assert_eq!(opened, plaintext);
    }
}

#[test]
fn an_altered_aes_gcm_ciphertext_or_associated_data_is_refused() {
    let key = Apiv3Key::new(sandbox::APIV3_KEY).unwrap();
    let vector = &vectors()[0];
    let (aad, nonce) = (
        vector["associated_data"].as_str().unwrap(),
        vector["nonce"].as_str().unwrap(),
    );
    let mut raw = B64.decode(vector["ciphertext"].as_str().unwrap()).unwrap();
    raw[0] ^= 1;
    let error = key.decrypt(aad, nonce, &B64.encode(&raw)).unwrap_err();
    assert!(matches!(error, Error::Crypto { .. }), "{error:?}");
    let error = key
        .decrypt("certificate", nonce, vector["ciphertext"].as_str().unwrap())
        .unwrap_err();
    assert!(matches!(error, Error::Crypto { .. }), "{error:?}");
}
