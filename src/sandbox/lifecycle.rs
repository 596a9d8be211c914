//! The core payment lifecycle, with state: orders placed through
//! `v3/pay/transactions/{jsapi,native,app,h5}` (and the partner forms) are remembered, can
//! be queried by `out_trade_no` or `transaction_id`, closed, paid with
//! [`Sandbox::pay`](super::Sandbox::pay) (which POSTs a signed, encrypted
//! `TRANSACTION.SUCCESS` notification to the order's `notify_url`), and refunded through
//! `v3/refund/domestic/refunds`, checked against what was paid, queried, and completed with
//! [`Sandbox::complete_refund`](super::Sandbox::complete_refund) (`REFUND.SUCCESS`).
//!
//! Presence of the documented required fields is checked before these handlers run (the
//! catalog's validation); what is checked here is what only state can tell: a duplicate
//! `out_trade_no` with other content, the merchant ids, amounts against the order, an order
//! that is closed or already paid.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use http::{Method, StatusCode};
use serde_json::{json, Map, Value};

use super::routes::Answer;
use crate::crypto::rfc3339_china;
use crate::error::Error;

/// The orders and refunds a sandbox remembers.
#[derive(Default)]
pub(crate) struct Ledger {
    inner: Mutex<Books>,
}

#[derive(Default)]
struct Books {
    orders: Vec<Order>,
    /// `out_trade_no` and `transaction_id` -> index into `orders`.
    by_out_trade_no: HashMap<String, usize>,
    by_transaction_id: HashMap<String, usize>,
    refunds: HashMap<String, Refund>,
    /// A counter for ids, so they are unique and increasing like the platform's.
    sequence: u64,
}

/// The largest number of orders (and of refunds) a sandbox keeps: a test that creates more
/// gets a clear error instead of unbounded memory.
const MAX_ORDERS: usize = 100_000;

#[derive(Clone)]
struct Order {
    out_trade_no: String,
    transaction_id: String,
    /// `jsapi`, `native`, `app` or `h5`.
    trade_kind: &'static str,
    partner: bool,
    /// The request body, for duplicate detection and the transaction object.
    request: Map<String, Value>,
    total: i64,
    currency: String,
    state: OrderState,
    success_time: Option<String>,
    refunded: i64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum OrderState {
    NotPay,
    Success,
    Closed,
    Refund,
}

impl OrderState {
    fn code(self) -> &'static str {
        match self {
            OrderState::NotPay => "NOTPAY",
            OrderState::Success => "SUCCESS",
            OrderState::Closed => "CLOSED",
            OrderState::Refund => "REFUND",
        }
    }

    fn description(self) -> &'static str {
        match self {
            OrderState::NotPay => "未支付",
            OrderState::Success => "支付成功",
            OrderState::Closed => "已关闭",
            OrderState::Refund => "转入退款",
        }
    }
}

#[derive(Clone)]
struct Refund {
    refund_id: String,
    out_refund_no: String,
    out_trade_no: String,
    transaction_id: String,
    request: Map<String, Value>,
    refund: i64,
    total: i64,
    currency: String,
    status: &'static str,
    create_time: String,
    success_time: Option<String>,
    sub_mchid: Option<String>,
}

/// A notification the sandbox owes a merchant: where to POST, the event and its resource.
pub(crate) struct Owed {
    pub(crate) notify_url: String,
    pub(crate) event_type: &'static str,
    pub(crate) resource: Value,
}

impl Ledger {
    fn books(&self) -> MutexGuard<'_, Books> {
        // Every change is made under one lock in one step, so a poisoned lock still holds
        // consistent books.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The answer for a lifecycle endpoint, or `None` for any other path. `merchant` is the
    /// sandbox's merchant id; `now` the platform clock's Unix seconds.
    pub(crate) fn answer(
        &self,
        merchant: &str,
        now: i64,
        method: &Method,
        path: &str,
        query: &[(String, String)],
        body: &Map<String, Value>,
    ) -> Option<Answer> {
        let segments: Vec<&str> = path.split('/').collect();
        let (partner, rest) = match segments.as_slice() {
            ["v3", "pay", "transactions", rest @ ..] => (false, rest),
            ["v3", "pay", "partner", "transactions", rest @ ..] => (true, rest),
            ["v3", "refund", "domestic", "refunds"] if method == Method::POST => {
                return Some(self.refund(now, body));
            }
            ["v3", "refund", "domestic", "refunds", out_refund_no] if method == Method::GET => {
                return Some(self.query_refund(out_refund_no, query));
            }
            _ => return None,
        };
        let context = Context {
            merchant,
            partner,
            now,
        };
        match (method, rest) {
            (&Method::POST, [kind @ ("jsapi" | "native" | "app" | "h5")]) => {
                Some(self.place(&context, kind, body))
            }
            (&Method::GET, ["id", transaction_id]) => {
                Some(self.query(&context, Key::TransactionId(transaction_id), query))
            }
            (&Method::GET, ["out-trade-no", out_trade_no]) => {
                Some(self.query(&context, Key::OutTradeNo(out_trade_no), query))
            }
            (&Method::POST, ["out-trade-no", out_trade_no, "close"]) => {
                Some(self.close(&context, out_trade_no, body))
            }
            _ => None,
        }
    }

    /// Places an order (idempotent for the same content under the same `out_trade_no`).
    fn place(&self, context: &Context<'_>, kind: &str, body: &Map<String, Value>) -> Answer {
        if let Err(answer) = context.check_merchant(body) {
            return answer;
        }
        let Some(out_trade_no) = text(body, "out_trade_no") else {
            return missing("out_trade_no");
        };
        let total = body
            .get("amount")
            .and_then(|a| a.get("total"))
            .and_then(Value::as_i64);
        let Some(total) = total.filter(|t| *t > 0) else {
            return param_error(
                "/amount/total",
                "订单金额必须为正整数 (amount.total must be a positive integer)",
            );
        };
        let currency = body
            .get("amount")
            .and_then(|a| a.get("currency"))
            .and_then(Value::as_str)
            .unwrap_or("CNY")
            .to_owned();
        let Some(notify_url) = text(body, "notify_url") else {
            return missing("notify_url");
        };
        if !(notify_url.starts_with("https://") || notify_url.starts_with("http://")) {
            return param_error(
                "/notify_url",
                "notify_url 必须是 http(s) URL (notify_url must be an http(s) URL)",
            );
        }
        let trade_kind: &'static str = match kind {
            "jsapi" => "jsapi",
            "native" => "native",
            "app" => "app",
            _ => "h5",
        };

        let mut books = self.books();
        if let Some(&index) = books.by_out_trade_no.get(out_trade_no) {
            let order = &books.orders[index];
            if order.request != *body
                || order.trade_kind != trade_kind
                || order.partner != context.partner
            {
                return Answer::error(
                    StatusCode::FORBIDDEN,
                    "OUT_TRADE_NO_USED",
                    "商户订单号重复 (this out_trade_no was used for another order)",
                );
            }
            if order.state != OrderState::NotPay {
                return Answer::error(
                    StatusCode::FORBIDDEN,
                    "ORDERPAID",
                    "该订单已支付或已关闭 (the order is already paid or closed)",
                );
            }
            return Answer::json(StatusCode::OK, &placed(order));
        }
        if books.orders.len() >= MAX_ORDERS {
            return Answer::error(
                StatusCode::TOO_MANY_REQUESTS,
                "FREQUENCY_LIMITED",
                "the sandbox keeps at most 100000 orders; start a new one",
            );
        }
        books.sequence += 1;
        let transaction_id = format!("4200000000{}{:010}", &context.date(), books.sequence);
        let order = Order {
            out_trade_no: out_trade_no.to_owned(),
            transaction_id: transaction_id.clone(),
            trade_kind,
            partner: context.partner,
            request: body.clone(),
            total,
            currency,
            state: OrderState::NotPay,
            success_time: None,
            refunded: 0,
        };
        let answer = placed(&order);
        let index = books.orders.len();
        books.orders.push(order);
        books.by_out_trade_no.insert(out_trade_no.to_owned(), index);
        books.by_transaction_id.insert(transaction_id, index);
        Answer::json(StatusCode::OK, &answer)
    }

    fn query(&self, context: &Context<'_>, key: Key<'_>, query: &[(String, String)]) -> Answer {
        if let Err(answer) = context.check_query_merchant(query) {
            return answer;
        }
        let books = self.books();
        match books.find(&key) {
            Some(order) if order.partner == context.partner => {
                Answer::json(StatusCode::OK, &transaction(order, context.merchant))
            }
            _ => order_not_exist(),
        }
    }

    fn close(
        &self,
        context: &Context<'_>,
        out_trade_no: &str,
        body: &Map<String, Value>,
    ) -> Answer {
        if let Err(answer) = context.check_merchant(body) {
            return answer;
        }
        let mut books = self.books();
        let Some(&index) = books.by_out_trade_no.get(out_trade_no) else {
            return order_not_exist();
        };
        let order = &mut books.orders[index];
        match order.state {
            OrderState::NotPay | OrderState::Closed => {
                order.state = OrderState::Closed;
                Answer::no_content()
            }
            _ => Answer::error(
                StatusCode::BAD_REQUEST,
                "ORDERPAID",
                "订单已支付，不能关闭 (a paid order cannot be closed)",
            ),
        }
    }

    /// Marks an order paid and returns the notification owed to its `notify_url`.
    pub(crate) fn pay(&self, merchant: &str, now: i64, out_trade_no: &str) -> Result<Owed, Error> {
        let mut books = self.books();
        let index = *books.by_out_trade_no.get(out_trade_no).ok_or_else(|| {
            Error::request(format!(
                "the sandbox has no order `{out_trade_no}`; place it first (v3/pay/transactions/…)"
            ))
        })?;
        let order = &mut books.orders[index];
        match order.state {
            OrderState::NotPay => {}
            OrderState::Closed => {
                return Err(Error::request(format!(
                    "order `{out_trade_no}` is closed and cannot be paid"
                )))
            }
            _ => {
                return Err(Error::request(format!(
                    "order `{out_trade_no}` is already paid"
                )))
            }
        }
        order.state = OrderState::Success;
        order.success_time = Some(china_time(now));
        let notify_url = text(&order.request, "notify_url")
            .unwrap_or_default()
            .to_owned();
        Ok(Owed {
            notify_url,
            event_type: "TRANSACTION.SUCCESS",
            resource: transaction(order, merchant),
        })
    }

    fn refund(&self, now: i64, body: &Map<String, Value>) -> Answer {
        let Some(out_refund_no) = text(body, "out_refund_no") else {
            return missing("out_refund_no");
        };
        let amount = body.get("amount");
        let refund = amount.and_then(|a| a.get("refund")).and_then(Value::as_i64);
        let total = amount.and_then(|a| a.get("total")).and_then(Value::as_i64);
        let (Some(refund), Some(total)) = (refund.filter(|r| *r > 0), total) else {
            return param_error(
                "/amount/refund",
                "退款金额必须为正整数 (amount.refund and amount.total must be positive integers)",
            );
        };
        let currency = amount
            .and_then(|a| a.get("currency"))
            .and_then(Value::as_str)
            .unwrap_or("CNY")
            .to_owned();

        let mut books = self.books();
        if let Some(existing) = books.refunds.get(out_refund_no) {
            if existing.request != *body {
                return Answer::error(
                    StatusCode::FORBIDDEN,
                    "INVALID_REQUEST",
                    "商户退款单号重复 (this out_refund_no was used for another refund)",
                );
            }
            return Answer::json(StatusCode::OK, &refund_object(existing));
        }
        let key = match (text(body, "transaction_id"), text(body, "out_trade_no")) {
            (Some(id), _) => Key::TransactionId(id),
            (None, Some(no)) => Key::OutTradeNo(no),
            (None, None) => return param_error(
                "/out_trade_no",
                "transaction_id 和 out_trade_no 必须二选一 (give transaction_id or out_trade_no)",
            ),
        };
        let Some(index) = books.index(&key) else {
            return Answer::error(
                StatusCode::NOT_FOUND,
                "RESOURCE_NOT_EXISTS",
                "订单不存在 (no such order)",
            );
        };
        if books.refunds.len() >= MAX_ORDERS {
            return Answer::error(
                StatusCode::TOO_MANY_REQUESTS,
                "FREQUENCY_LIMITED",
                "the sandbox keeps at most 100000 refunds; start a new one",
            );
        }
        let order = &books.orders[index];
        if !matches!(order.state, OrderState::Success | OrderState::Refund) {
            return Answer::error(
                StatusCode::FORBIDDEN,
                "TRADE_STATE_ERROR",
                "订单未支付，不能退款 (only a paid order can be refunded)",
            );
        }
        if total != order.total || currency != order.currency {
            return param_error(
                "/amount/total",
                &format!(
                    "订单金额与原订单不符 (amount.total {total} {currency} is not the order's {} {})",
                    order.total, order.currency
                ),
            );
        }
        if refund > order.total - order.refunded {
            return Answer::error(
                StatusCode::FORBIDDEN,
                "NOT_ENOUGH",
                &format!(
                    "退款金额超过可退金额 (refund {refund} is more than the {} left to refund)",
                    order.total - order.refunded
                ),
            );
        }
        let (out_trade_no, transaction_id) =
            (order.out_trade_no.clone(), order.transaction_id.clone());
        books.orders[index].refunded += refund;
        books.orders[index].state = OrderState::Refund;
        books.sequence += 1;
        let record = Refund {
            refund_id: format!("50000000{}{:010}", china_date(now), books.sequence),
            out_refund_no: out_refund_no.to_owned(),
            out_trade_no,
            transaction_id,
            request: body.clone(),
            refund,
            total,
            currency,
            status: "PROCESSING",
            create_time: china_time(now),
            success_time: None,
            sub_mchid: text(body, "sub_mchid").map(str::to_owned),
        };
        let answer = refund_object(&record);
        books.refunds.insert(out_refund_no.to_owned(), record);
        Answer::json(StatusCode::OK, &answer)
    }

    fn query_refund(&self, out_refund_no: &str, query: &[(String, String)]) -> Answer {
        let books = self.books();
        match books.refunds.get(out_refund_no) {
            Some(refund)
                if refund.sub_mchid.is_none()
                    || query_value(query, "sub_mchid") == refund.sub_mchid.as_deref() =>
            {
                Answer::json(StatusCode::OK, &refund_object(refund))
            }
            _ => Answer::error(
                StatusCode::NOT_FOUND,
                "RESOURCE_NOT_EXISTS",
                "退款单不存在 (no such refund)",
            ),
        }
    }

    /// Marks a refund successful and returns the notification owed to its `notify_url`.
    pub(crate) fn complete_refund(
        &self,
        merchant: &str,
        now: i64,
        out_refund_no: &str,
    ) -> Result<Owed, Error> {
        let mut books = self.books();
        let refund = books.refunds.get_mut(out_refund_no).ok_or_else(|| {
            Error::request(format!(
                "the sandbox has no refund `{out_refund_no}`; request it first (v3/refund/domestic/refunds)"
            ))
        })?;
        if refund.status != "PROCESSING" {
            return Err(Error::request(format!(
                "refund `{out_refund_no}` is already {}",
                refund.status
            )));
        }
        refund.status = "SUCCESS";
        refund.success_time = Some(china_time(now));
        let notify_url = text(&refund.request, "notify_url")
            .unwrap_or_default()
            .to_owned();
        let object = refund_object(refund);
        // The notification's resource is the documented subset of the refund object.
        let resource = json!({
            "mchid": merchant,
            "out_trade_no": object["out_trade_no"],
            "transaction_id": object["transaction_id"],
            "out_refund_no": object["out_refund_no"],
            "refund_id": object["refund_id"],
            "refund_status": "SUCCESS",
            "success_time": object["success_time"],
            "user_received_account": object["user_received_account"],
            "amount": {
                "total": object["amount"]["total"],
                "refund": object["amount"]["refund"],
                "payer_total": object["amount"]["payer_total"],
                "payer_refund": object["amount"]["payer_refund"],
            },
        });
        Ok(Owed {
            notify_url,
            event_type: "REFUND.SUCCESS",
            resource,
        })
    }
}

enum Key<'a> {
    OutTradeNo(&'a str),
    TransactionId(&'a str),
}

impl Books {
    fn index(&self, key: &Key<'_>) -> Option<usize> {
        match key {
            Key::OutTradeNo(no) => self.by_out_trade_no.get(*no).copied(),
            Key::TransactionId(id) => self.by_transaction_id.get(*id).copied(),
        }
    }

    fn find(&self, key: &Key<'_>) -> Option<&Order> {
        self.index(key).and_then(|i| self.orders.get(i))
    }
}

/// Who is asking: the sandbox's merchant, directly or as a service provider.
struct Context<'a> {
    merchant: &'a str,
    partner: bool,
    now: i64,
}

impl Context<'_> {
    /// The body's merchant id (`mchid`, or `sp_mchid` for the partner forms) must be the
    /// caller's own, as the platform checks.
    fn check_merchant(&self, body: &Map<String, Value>) -> Result<(), Answer> {
        let field = if self.partner { "sp_mchid" } else { "mchid" };
        match text(body, field) {
            Some(id) if id == self.merchant => Ok(()),
            Some(id) => Err(Answer::error(
                StatusCode::FORBIDDEN,
                "MCH_NOT_EXISTS",
                &format!(
                    "{field} `{id}` 与请求商户不符 (is not the merchant that signed the request)"
                ),
            )),
            None => Err(missing(field)),
        }
    }

    fn check_query_merchant(&self, query: &[(String, String)]) -> Result<(), Answer> {
        let field = if self.partner { "sp_mchid" } else { "mchid" };
        match query_value(query, field) {
            Some(id) if id == self.merchant => Ok(()),
            Some(id) => Err(Answer::error(
                StatusCode::FORBIDDEN,
                "MCH_NOT_EXISTS",
                &format!(
                    "{field} `{id}` 与请求商户不符 (is not the merchant that signed the request)"
                ),
            )),
            None => Err(Answer::json(
                StatusCode::BAD_REQUEST,
                &json!({
                    "code": "PARAM_ERROR",
                    "message": format!("输入源“/query/{field}”映射到值字段“{field}”字符串规则校验失败，值不能为空"),
                    "detail": { "field": field, "location": "query" },
                }),
            )),
        }
    }

    fn date(&self) -> String {
        china_date(self.now)
    }
}

fn placed(order: &Order) -> Value {
    let prepay_id = format!("wx{}", &order.transaction_id[8..]);
    match order.trade_kind {
        "native" => {
            json!({ "code_url": format!("weixin://wxpay/bizpayurl?pr={}", &order.transaction_id[order.transaction_id.len() - 7..]) })
        }
        "h5" => {
            json!({ "h5_url": format!("https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id={prepay_id}&package=1") })
        }
        _ => json!({ "prepay_id": prepay_id }),
    }
}

/// The transaction object of the query API (and of `TRANSACTION.SUCCESS`).
fn transaction(order: &Order, merchant: &str) -> Value {
    let request = &order.request;
    let trade_type = match order.trade_kind {
        "jsapi" => "JSAPI",
        "native" => "NATIVE",
        "app" => "APP",
        _ => "MWEB",
    };
    let paid = order.state != OrderState::NotPay && order.state != OrderState::Closed;
    let mut object = Map::new();
    if order.partner {
        for field in ["sp_appid", "sp_mchid", "sub_appid", "sub_mchid"] {
            if let Some(value) = request.get(field) {
                object.insert(field.to_owned(), value.clone());
            }
        }
    } else {
        object.insert(
            "appid".into(),
            request.get("appid").cloned().unwrap_or(Value::Null),
        );
        object.insert("mchid".into(), json!(merchant));
    }
    object.insert("out_trade_no".into(), json!(order.out_trade_no));
    object.insert("transaction_id".into(), json!(order.transaction_id));
    object.insert("trade_type".into(), json!(trade_type));
    object.insert("trade_state".into(), json!(order.state.code()));
    object.insert("trade_state_desc".into(), json!(order.state.description()));
    if let Some(attach) = request.get("attach") {
        object.insert("attach".into(), attach.clone());
    }
    if paid {
        object.insert("bank_type".into(), json!("OTHERS"));
        object.insert("success_time".into(), json!(order.success_time));
        let payer = request
            .get("payer")
            .cloned()
            .unwrap_or_else(|| json!({ "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" }));
        object.insert("payer".into(), payer);
    }
    object.insert(
        "amount".into(),
        if paid {
            json!({ "total": order.total, "payer_total": order.total, "currency": order.currency, "payer_currency": order.currency })
        } else {
            json!({ "total": order.total, "currency": order.currency })
        },
    );
    Value::Object(object)
}

fn refund_object(refund: &Refund) -> Value {
    let mut object = json!({
        "refund_id": refund.refund_id,
        "out_refund_no": refund.out_refund_no,
        "transaction_id": refund.transaction_id,
        "out_trade_no": refund.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": refund.create_time,
        "status": refund.status,
        "funds_account": "AVAILABLE",
        "amount": {
            "total": refund.total,
            "refund": refund.refund,
            "payer_total": refund.total,
            "payer_refund": refund.refund,
            "settlement_refund": refund.refund,
            "settlement_total": refund.total,
            "discount_refund": 0,
            "currency": refund.currency,
        },
    });
    if let Some(time) = &refund.success_time {
        object["success_time"] = json!(time);
    }
    object
}

fn text<'a>(body: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    body.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn query_value<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn missing(field: &str) -> Answer {
    param_error(
        &format!("/{field}"),
        &format!("输入源“/body/{field}”映射到值字段“{field}”字符串规则校验失败，值不能为空"),
    )
}

fn param_error(pointer: &str, message: &str) -> Answer {
    Answer::json(
        StatusCode::BAD_REQUEST,
        &json!({
            "code": "PARAM_ERROR",
            "message": message,
            "detail": { "field": pointer.trim_start_matches('/'), "location": "body" },
        }),
    )
}

fn order_not_exist() -> Answer {
    Answer::error(
        StatusCode::NOT_FOUND,
        "ORDER_NOT_EXIST",
        "订单不存在 (no such order)",
    )
}

/// `YYYY-MM-DDTHH:MM:SS+08:00` for Unix seconds (the epoch for a time out of range).
fn china_time(now: i64) -> String {
    let time = u64::try_from(now).ok().and_then(|s| {
        std::time::SystemTime::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(s))
    });
    time.and_then(rfc3339_china)
        .unwrap_or_else(|| "1970-01-01T08:00:00+08:00".to_owned())
}

/// `YYYYMMDD` in China time, for ids.
fn china_date(now: i64) -> String {
    china_time(now)[..10].replace('-', "")
}
