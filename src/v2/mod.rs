//! APIv2: the XML protocol that payment-code (`pay/micropay`), refunds
//! (`secapi/pay/refund`), red packets, transfers to bank cards, bills and ~130 other
//! endpoints still speak (cargo feature `apiv2`).
//!
//! APIv2 differs from APIv3 at every layer, and this module holds each piece:
//!
//! | layer | APIv2 | here |
//! |---|---|---|
//! | body | `<xml>` with one element per field, `sign` last | [`Fields`], [`xml`] |
//! | signing | MD5 or HMAC-SHA256 over the sorted fields and the APIv2 key | [`sign`], [`Apiv2Key`], [`sign_request`] |
//! | answer | HTTP 200 always; `return_code`, `result_code`, `sign` inside | [`answer`] |
//! | per-endpoint rules | mutual TLS, no `nonce_str`, unsigned answers, `mchid` | [`endpoint`] |
//! | transport | some calls present the merchant certificate | [`MerchantIdentity`] |
//! | notifications | signed XML; refunds AES-256-ECB-encrypted | [`notify`] |
//! | pay-sign | MD5/HMAC-SHA256 over the client's fields | [`paysign`] |
//!
//! A request, end to end, without the network:
//!
//! ```
//! use serde_json::json;
//! use wechatpay::v2::{answer, endpoint, sign_request, Apiv2Key, Fields};
//!
//! let key = Apiv2Key::new("exposed_your_key_here_have_risks")?;
//! let micropay = endpoint("v2/pay/micropay");
//! let body = Fields::from_serialize(&json!({
//!     "appid": "wx2421b1c4370ec43b", "mch_id": "1900000109", "body": "image",
//!     "out_trade_no": "1415757673", "total_fee": 1, "spbill_create_ip": "14.17.22.52",
//!     "auth_code": "120061098828009406",
//! }))?;
//! let signed = sign_request(&micropay, body, &key, Some("1900000109"))?;
//! let wire = signed.to_xml()?; // POST this to https://api.mch.weixin.qq.com/pay/micropay
//! assert!(wire.starts_with("<xml><appid>wx2421b1c4370ec43b</appid>"));
//!
//! // What the platform answers when the payment code has expired (signed, result_code FAIL):
//! let mut reply = vec![
//!     ("return_code", "SUCCESS"), ("result_code", "FAIL"),
//!     ("err_code", "AUTH_CODE_INVALID"), ("err_code_des", "付款码无效"),
//! ];
//! let reply_sign = wechatpay::v2::sign::sign(reply.iter().copied(), &key, Default::default());
//! reply.push(("sign", &reply_sign));
//! let reply = wechatpay::v2::xml::encode(reply.iter().copied())?;
//!
//! let failure = answer::read_answer(&micropay, reply.as_bytes(), &key)?.unwrap_err();
//! assert_eq!(failure.code(), "AUTH_CODE_INVALID");
//! # Ok::<(), wechatpay::Error>(())
//! ```
//!
//! This module depends on nothing of the client: only the crate's error type and crypto
//! primitives. The client, chain, sandbox and CLI build on it.

pub mod answer;
pub mod endpoints;
mod fields;
mod json_fields;
pub mod notify;
pub mod paysign;
mod request;
pub mod sign;
mod tls;
pub mod xml;

pub use answer::{Answer, Apiv2Failure, FailureLayer};
pub use endpoints::{endpoint, AnswerFormat, Endpoint, Method};
pub use fields::Fields;
pub use notify::{PaymentNotification, RefundNotification};
pub use request::{sign_request, MERCHANT_FIELDS};
pub use sign::{Apiv2Key, SignType};
pub use tls::MerchantIdentity;
