//! The endpoints the sandbox knows, with the documented example answers.

use std::collections::HashMap;

use http::{Method, StatusCode};
use serde_json::{json, Map, Value};

use super::decode::{percent_decode, query_pairs};
use super::State;

/// An unsigned answer, before [`super::server`] signs it.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Vec<u8>,
    pub(crate) content_type: Option<&'static str>,
    /// File downloads are unsigned on the real platform too.
    pub(crate) signed: bool,
}

impl Answer {
    pub(crate) fn json(status: StatusCode, body: &Value) -> Answer {
        Answer {
            status,
            body: serde_json::to_vec(body).unwrap_or_default(),
            content_type: Some("application/json"),
            signed: true,
        }
    }

    pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Answer {
        Answer::json(status, &json!({ "code": code, "message": message }))
    }

    pub(crate) fn no_content() -> Answer {
        Answer {
            status: StatusCode::NO_CONTENT,
            body: Vec::new(),
            content_type: None,
            signed: true,
        }
    }
}

type Params = HashMap<&'static str, String>;
type Handler = fn(&State, &Params, &Map<String, Value>) -> Answer;

struct Route {
    method: Method,
    template: &'static str,
    /// Top-level body fields the platform requires; `detail.paid_time` style paths allowed.
    required: &'static [&'static str],
    handler: Handler,
}

const SYNC_REQUIRED_DIRECT: &[&str] =
    &["appid", "service_id", "type", "detail", "detail.paid_time"];
const SYNC_REQUIRED_PARTNER: &[&str] = &[
    "service_id",
    "sub_mchid",
    "type",
    "detail",
    "detail.paid_time",
];

fn routes() -> [Route; 6] {
    [
        Route {
            method: Method::POST,
            template: "v3/payscore/serviceorder/{out_order_no}/sync",
            required: SYNC_REQUIRED_DIRECT,
            handler: serviceorder_sync,
        },
        Route {
            method: Method::POST,
            template: "v3/payscore/partner/serviceorder/{out_order_no}/sync",
            required: SYNC_REQUIRED_PARTNER,
            handler: |_, _, _| Answer::no_content(),
        },
        Route {
            method: Method::POST,
            template: "v3/payscore/payafter-orders/{out_order_no}/sync",
            required: &[],
            handler: payafter_sync,
        },
        Route {
            method: Method::POST,
            template: "v3/payscore/acquiringbank/serviceorder/{out_order_no}/sync",
            required: SYNC_REQUIRED_PARTNER,
            handler: |_, _, _| Answer::no_content(),
        },
        Route {
            method: Method::GET,
            template: "v3/certificates",
            required: &[],
            handler: certificates,
        },
        Route {
            method: Method::GET,
            template: "v3/billdownload/file",
            required: &[],
            handler: bill_file,
        },
    ]
}

/// Routes a request that passed the authorization check.
pub(crate) fn answer(state: &State, method: &Method, target: &str, body: &[u8]) -> Answer {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let path = path.trim_start_matches('/');
    let mut path_matched = false;
    for route in routes() {
        let Some(mut params) = match_path(route.template, path) else {
            continue;
        };
        path_matched = true;
        if route.method != method {
            continue;
        }
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if let Some(name) = ["token", "bill_date", "tar_type"]
                .into_iter()
                .find(|n| *n == name)
            {
                params.insert(name, percent_decode(value));
            }
        }
        let json = if method == Method::GET || method == Method::DELETE {
            Map::new()
        } else {
            match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(map)) => map,
                Ok(_) => {
                    return Answer::error(
                        StatusCode::BAD_REQUEST,
                        "PARAM_ERROR",
                        "请求体应为JSON对象 (the body must be a JSON object)",
                    )
                }
                Err(e) => {
                    return Answer::error(
                        StatusCode::BAD_REQUEST,
                        "PARAM_ERROR",
                        &format!("请求体JSON格式错误 (the body is not JSON: {e})"),
                    )
                }
            }
        };
        if let Some(missing) = route.required.iter().find(|f| lookup(&json, f).is_none()) {
            return Answer::json(
                StatusCode::BAD_REQUEST,
                &json!({
                    "code": "PARAM_ERROR",
                    "message": format!("输入源“/body/{}”映射到值字段“{missing}”字符串规则校验失败，值不能为空", missing.replace('.', "/")),
                    "detail": { "field": missing, "location": "body" },
                }),
            );
        }
        return (route.handler)(state, &params, &json);
    }
    if path_matched {
        return Answer::error(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            &format!("{method} is not allowed on /{path}"),
        );
    }
    // Every other catalog endpoint: validated like the platform, then answered by the
    // payment lifecycle if it is one of its endpoints, else from the catalog's example.
    #[cfg(feature = "catalog")]
    if let Some(answer) = super::catalog_routes::answer(method, path, query, body, || {
        lifecycle(state, method, path, query, body)
    }) {
        return answer;
    }
    #[cfg(not(feature = "catalog"))]
    if let Some(answer) = lifecycle(state, method, path, query, body) {
        return answer;
    }
    #[cfg(feature = "catalog")]
    let closest = super::catalog_routes::closest(path);
    #[cfg(not(feature = "catalog"))]
    let closest = "";
    Answer::json(
        StatusCode::NOT_FOUND,
        &json!({
            "code": "NOT_FOUND",
            "message": format!("请求的资源不存在 (the sandbox has no route for {method} /{path}{closest})"),
        }),
    )
}

/// The stateful payment lifecycle's endpoints (orders, queries, close, refunds).
fn lifecycle(
    state: &State,
    method: &Method,
    path: &str,
    query: &str,
    body: &[u8],
) -> Option<Answer> {
    let query = query_pairs(query);
    let json = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    let path = percent_decode(path);
    state.ledger.answer(
        &state.merchant_id,
        state.clock.unix_seconds(),
        method,
        &path,
        &query,
        &json,
    )
}

/// Matches `a/{x}/b` against a path, capturing percent-decoded placeholder values.
fn match_path(template: &'static str, path: &str) -> Option<Params> {
    let mut params = Params::new();
    let mut want = template.split('/');
    let mut have = path.split('/');
    loop {
        match (want.next(), have.next()) {
            (None, None) => return Some(params),
            (Some(w), Some(h)) => {
                if let Some(name) = w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                    if h.is_empty() {
                        return None;
                    }
                    params.insert(name, percent_decode(h));
                } else if w != h {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

fn lookup<'a>(json: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut current = json.get(parts.next()?)?;
    for part in parts {
        current = current.get(part)?;
    }
    match current {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        other => Some(other),
    }
}

fn field(json: &Map<String, Value>, name: &str, default: &str) -> Value {
    json.get(name)
        .cloned()
        .unwrap_or_else(|| Value::String(default.to_owned()))
}

/// The documented example answer of 同步服务订单信息, with the request's values echoed.
fn serviceorder_sync(state: &State, params: &Params, body: &Map<String, Value>) -> Answer {
    let out_order_no = params.get("out_order_no").cloned().unwrap_or_default();
    let paid_time = body
        .get("detail")
        .and_then(|d| d.get("paid_time"))
        .cloned()
        .unwrap_or_else(|| json!("20091225091210"));
    Answer::json(
        StatusCode::OK,
        &json!({
            "out_order_no": out_order_no,
            "service_id": field(body, "service_id", "500001"),
            "appid": field(body, "appid", "wxd678efh567hg6787"),
            "mchid": state.merchant_id,
            "service_introduction": "XX充电宝",
            "state": "DONE",
            "state_description": "MCH_COMPLETE",
            "post_payments": [
                { "name": "就餐费用", "amount": 40000, "description": "就餐人均100元", "count": 4 }
            ],
            "post_discounts": [
                { "name": "满20减1元", "description": "不与其他优惠叠加", "amount": 100 }
            ],
            "risk_fund": { "name": "DEPOSIT", "amount": 10000, "description": "就餐的预估费用" },
            "total_amount": 40000,
            "need_collection": true,
            "collection": {
                "state": "USER_PAID",
                "total_amount": 40000,
                "paying_amount": 0,
                "paid_amount": 40000,
                "details": [{
                    "seq": 1,
                    "amount": 40000,
                    "paid_type": "MCH",
                    "paid_time": paid_time,
                    "transaction_id": "15646546545165651651"
                }]
            },
            "time_range": {
                "start_time": "20091225091010",
                "end_time": "20091225121010",
                "start_time_remark": "备注1",
                "end_time_remark": "备注2"
            },
            "location": { "start_location": "嗨客时尚主题展餐厅", "end_location": "嗨客时尚主题展餐厅" },
            "attach": "Easdfowealsdkjfnlaksjdlfkwqoi&wl3l2sald",
            "notify_url": "https://api.test.com",
            "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
            "order_id": "0000300001201908301055157220022"
        }),
    )
}

/// The documented example answer of 支付分订单同步 (先享后付).
fn payafter_sync(state: &State, params: &Params, body: &Map<String, Value>) -> Answer {
    Answer::json(
        StatusCode::OK,
        &json!({
            "appid": field(body, "appid", "wxd678efh567hg6787"),
            "mchid": state.merchant_id,
            "out_order_no": params.get("out_order_no").cloned().unwrap_or_default(),
            "order_id": "15646546545165651651",
        }),
    )
}

/// `GET v3/certificates`: the platform certificate, AES-GCM encrypted with the APIv3 key.
fn certificates(state: &State, _: &Params, _: &Map<String, Value>) -> Answer {
    let cert = &state.keys.platform_certificate;
    let sealed = crate::crypto::Apiv3Key::new(super::APIV3_KEY).and_then(|key| {
        let nonce = crate::crypto::random_nonce(12)?;
        let ciphertext = key.encrypt("certificate", &nonce, cert.to_pem().as_bytes())?;
        Ok((nonce, ciphertext))
    });
    let Ok((nonce, ciphertext)) = sealed else {
        return Answer::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SYSTEM_ERROR",
            "encryption failed",
        );
    };
    Answer::json(
        StatusCode::OK,
        &json!({
            "data": [{
                "serial_no": cert.serial(),
                "effective_time": crate::crypto::rfc3339_china(cert.not_before()),
                "expire_time": crate::crypto::rfc3339_china(cert.not_after()),
                "encrypt_certificate": {
                    "algorithm": "AEAD_AES_256_GCM",
                    "nonce": nonce,
                    "associated_data": "certificate",
                    "ciphertext": ciphertext,
                }
            }]
        }),
    )
}

/// `GET v3/billdownload/file`: a bill file, unsigned like the platform's.
fn bill_file(_: &State, params: &Params, _: &Map<String, Value>) -> Answer {
    if params.get("token").is_none_or(|t| t.is_empty()) {
        return Answer::error(
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "token 不能为空 (token is required)",
        );
    }
    let csv = "交易时间,公众账号ID,商户号,微信订单号,商户订单号,交易状态,应结订单金额\n\
               `2026-11-22 10:00:00,`wxd678efh567hg6787,`1900000001,`4200000000000000000000000001,`1234323JKHDFE1243252,`SUCCESS,`1.00\n\
               总交易单数,应结订单总金额\n`1,`1.00\n";
    Answer {
        status: StatusCode::OK,
        body: csv.as_bytes().to_vec(),
        content_type: Some("text/plain;charset=utf-8"),
        signed: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_whole_segments_and_decode_values() {
        let params = match_path("v3/a/{id}/sync", "v3/a/%E8%AE%A2%2F1/sync").unwrap();
        assert_eq!(params["id"], "订/1");
        assert!(match_path("v3/a/{id}/sync", "v3/a//sync").is_none());
        assert!(match_path("v3/a/{id}/sync", "v3/a/1/sync/x").is_none());
        assert!(match_path("v3/a/{id}/sync", "v3/a/1").is_none());
    }
}
