//! Generated bills: what the sandbox serves from `v3/billdownload/file`, and what the
//! download benchmark reads.
//!
//! A [`BillSpec`] names a bill (kind, date, size, seed); the bytes are generated on the
//! fly, in chunks, and are the same on every run for the same spec, so a 1 GiB bill never
//! needs 1 GiB of memory. The layouts follow the platform's documented formats: a header
//! line (after a UTF-8 byte-order mark, and with CRLF line ends, as spreadsheets like), one line per record with every field prefixed by a backtick (so spreadsheets keep
//! long numbers as text), then a summary header and a summary line (totals of the records
//! above, computed while generating).
//!
//! | kind | header | summary |
//! |---|---|---|
//! | [`BillKind::TradeAll`] | 27 columns, `交易时间` … `费率备注` | `总交易单数` … `申请退款总金额` |
//! | [`BillKind::TradeSuccess`] | 20 columns (no refund columns) | same |
//! | [`BillKind::TradeRefund`] | 29 columns (adds `退款申请时间`, `退款成功时间`) | same |
//! | [`BillKind::FundFlow`] | 11 columns, `记账时间` … `业务凭证号` | `资金流水总笔数` … `支出金额` |
//! | [`BillKind::ProfitSharing`] | 12 columns, `分账时间` … `备注` | `分账总笔数` … `回退总金额(元)` |
//!
//! Sources: the trade and fund-flow headers and summaries are those of the platform's
//! bill documentation (the same lines appear in the official SDKs' test fixtures). The
//! profit-sharing documentation describes its file (detail and summary sections, backtick
//! prefix) without listing the columns in the copies available here, so that layout is a
//! plausible one; readers must take column names from the header line, never positions.
//!
//! ```
//! use wechatpay::sandbox::bills::{BillKind, BillSpec};
//!
//! let spec = BillSpec::new(BillKind::TradeAll, "2026-11-29").rows(3);
//! let text = String::from_utf8(spec.to_vec()).unwrap();
//! assert!(text.starts_with("\u{feff}交易时间,公众账号ID,商户号,"));
//! assert_eq!(text.lines().count(), 1 + 3 + 2);
//! assert_eq!(spec.digest().sha1_hex().len(), 40);
//! ```

use std::io::{self, Read, Write};
use std::time::Duration;

/// The bills the generator knows, with their documented column layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BillKind {
    /// `v3/bill/tradebill?bill_type=ALL`: payments and refunds.
    TradeAll,
    /// `v3/bill/tradebill?bill_type=SUCCESS`: payments only.
    TradeSuccess,
    /// `v3/bill/tradebill?bill_type=REFUND`: refunds only.
    TradeRefund,
    /// `v3/bill/fundflowbill` (and `sub-merchant-fundflowbill`): account movements.
    FundFlow,
    /// `v3/profitsharing/bills`: profit-sharing orders and returns.
    ProfitSharing,
}

const TRADE_ALL_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";
const TRADE_SUCCESS_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,商品名称,商户数据包,手续费,费率,订单金额,费率备注";
const TRADE_REFUND_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,退款申请时间,退款成功时间,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";
const TRADE_SUMMARY_HEADER: &str =
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额";
const FUND_FLOW_HEADER: &str = "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),账户结余(元),资金变更提交申请人,备注,业务凭证号";
const FUND_FLOW_SUMMARY_HEADER: &str = "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额";
const PROFIT_SHARING_HEADER: &str = "分账时间,分账发起方,分账方,分账接收方,分账金额(元),业务类型,处理状态,分账描述,微信订单号,商户分账单号,微信分账/回退单号,备注";
const PROFIT_SHARING_SUMMARY_HEADER: &str = "分账总笔数,分账总金额(元),回退总笔数,回退总金额(元)";

impl BillKind {
    /// The header line (column names, no backticks).
    pub fn header(self) -> &'static str {
        match self {
            BillKind::TradeAll => TRADE_ALL_HEADER,
            BillKind::TradeSuccess => TRADE_SUCCESS_HEADER,
            BillKind::TradeRefund => TRADE_REFUND_HEADER,
            BillKind::FundFlow => FUND_FLOW_HEADER,
            BillKind::ProfitSharing => PROFIT_SHARING_HEADER,
        }
    }

    /// The summary header line.
    pub fn summary_header(self) -> &'static str {
        match self {
            BillKind::TradeAll | BillKind::TradeSuccess | BillKind::TradeRefund => {
                TRADE_SUMMARY_HEADER
            }
            BillKind::FundFlow => FUND_FLOW_SUMMARY_HEADER,
            BillKind::ProfitSharing => PROFIT_SHARING_SUMMARY_HEADER,
        }
    }
}

/// How large a generated bill is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Size {
    Rows(u64),
    /// Records are added until the bill (before its summary) reaches this many bytes.
    Bytes(u64),
}

/// A deterministic bill: its kind, date, size and seed decide every byte.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BillSpec {
    kind: BillKind,
    date: String,
    size: Size,
    seed: u64,
    mchid: String,
    appid: String,
}

impl BillSpec {
    /// A bill of `kind` for `date` (`YYYY-MM-DD`, as the bill endpoints take it), with
    /// 10 records, seed 0, the sandbox merchant and app id.
    pub fn new(kind: BillKind, date: &str) -> BillSpec {
        BillSpec {
            kind,
            date: date.to_owned(),
            size: Size::Rows(10),
            seed: 0,
            mchid: crate::sandbox::MERCHANT_ID.to_owned(),
            appid: "wxd678efh567hg6787".to_owned(),
        }
    }

    /// Exactly `rows` records.
    #[must_use]
    pub fn rows(mut self, rows: u64) -> BillSpec {
        self.size = Size::Rows(rows);
        self
    }

    /// Records until the bill reaches about `bytes` bytes (it ends at the first record
    /// boundary past `bytes`, then the two summary lines follow).
    #[must_use]
    pub fn approx_bytes(mut self, bytes: u64) -> BillSpec {
        self.size = Size::Bytes(bytes);
        self
    }

    /// Another seed gives other (equally deterministic) records.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> BillSpec {
        self.seed = seed;
        self
    }

    /// The merchant id written in the records.
    #[must_use]
    pub fn mchid(mut self, mchid: &str) -> BillSpec {
        self.mchid = mchid.to_owned();
        self
    }

    /// The kind of bill.
    pub fn kind(&self) -> BillKind {
        self.kind
    }

    /// The bill's bytes, chunk by chunk (about 64 KiB each), generated as they are taken.
    pub fn chunks(&self) -> BillChunks {
        BillChunks::new(self.clone())
    }

    /// A [`Read`] over the bill's bytes, generated as they are read.
    pub fn reader(&self) -> BillBytes {
        BillBytes {
            chunks: self.chunks(),
            current: Vec::new(),
            position: 0,
        }
    }

    /// The whole bill in memory (for small bills and tests).
    pub fn to_vec(&self) -> Vec<u8> {
        self.chunks().flatten().collect()
    }

    /// Generates the bill once to compute what the platform's answer carries: its length
    /// and SHA-1 (over the uncompressed bytes), and its SM3 and SHA-256 for receipts.
    pub fn digest(&self) -> BillDigest {
        let mut sha1 = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
        let mut sha256 = ring::digest::Context::new(&ring::digest::SHA256);
        let mut sm3 = <sm3::Sm3 as sm3::Digest>::new();
        let mut len = 0u64;
        for chunk in self.chunks() {
            sha1.update(&chunk);
            sha256.update(&chunk);
            sm3::Digest::update(&mut sm3, &chunk);
            len += chunk.len() as u64;
        }
        BillDigest {
            len,
            sha1: sha1.finish().as_ref().to_vec(),
            sha256: sha256.finish().as_ref().to_vec(),
            sm3: sm3::Digest::finalize(sm3).to_vec(),
        }
    }

    /// The bill gzip-compressed (one gzip member), chunk by chunk; `level` 0-9 as in
    /// zlib (1 is fast, 6 is zlib's default).
    pub fn gzip_chunks(&self, level: u32) -> GzipChunks {
        GzipChunks {
            plain: self.chunks(),
            encoder: Some(flate2::write::GzEncoder::new(
                Vec::with_capacity(CHUNK),
                flate2::Compression::new(level.min(9)),
            )),
        }
    }

    /// Writes the bill (gzip-compressed when `gzip_level` is given) to `out`, returning
    /// the number of bytes written.
    ///
    /// # Errors
    ///
    /// Whatever `out` returns.
    pub fn write_to(&self, out: &mut impl Write, gzip_level: Option<u32>) -> io::Result<u64> {
        let mut written = 0u64;
        match gzip_level {
            None => {
                for chunk in self.chunks() {
                    out.write_all(&chunk)?;
                    written += chunk.len() as u64;
                }
            }
            Some(level) => {
                for chunk in self.gzip_chunks(level) {
                    let chunk = chunk?;
                    out.write_all(&chunk)?;
                    written += chunk.len() as u64;
                }
            }
        }
        Ok(written)
    }
}

/// Length and digests of a generated bill's uncompressed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillDigest {
    /// Uncompressed length in bytes.
    pub len: u64,
    /// SHA-1, what `hash_type: SHA1` bills carry.
    pub sha1: Vec<u8>,
    /// SHA-256.
    pub sha256: Vec<u8>,
    /// SM3 (GB/T 32905), what some receipts carry.
    pub sm3: Vec<u8>,
}

impl BillDigest {
    /// The SHA-1 as the platform writes `hash_value`: lowercase hex.
    pub fn sha1_hex(&self) -> String {
        crate::download::hex(&self.sha1)
    }
}

/// How a served bill misbehaves, to test that a client rejects it (see
/// [`BillServing::fault`](crate::sandbox::BillServing::fault)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BillFault {
    /// The answer's `hash_value` is wrong (its first hex digit changed); the file is fine.
    WrongDigest,
    /// The body stops after this many bytes of the (possibly compressed) file, though the
    /// headers announced the whole file.
    Truncate {
        /// Bytes sent before the connection is dropped.
        after: u64,
    },
    /// The gzip stream is damaged: bytes in its middle and its CRC-32 trailer are flipped.
    CorruptGzip,
    /// The body comes in `chunk`-byte pieces with `pause` between them.
    Slow {
        /// Bytes per piece.
        chunk: usize,
        /// Pause after each piece.
        pause: Duration,
    },
}

impl BillFault {
    /// The `hash_value` the step-one answer carries for `digest` under this fault.
    pub(crate) fn hash_value(&self, digest: &BillDigest) -> String {
        let mut value = digest.sha1_hex();
        if *self == BillFault::WrongDigest {
            let first = if value.starts_with('0') { "1" } else { "0" };
            value.replace_range(0..1, first);
        }
        value
    }

    /// Damages a complete gzip file the way [`BillFault::CorruptGzip`] says: the CRC-32
    /// (the trailer's first four bytes) is inverted, so even a damage the inflater
    /// accepts is caught, and 16 bytes in the middle of the deflate data are flipped.
    #[cfg(test)]
    pub(crate) fn corrupt_gzip(gzip: &mut [u8]) {
        let len = gzip.len();
        if len < 18 {
            return;
        }
        for b in &mut gzip[len - 8..len - 4] {
            *b = !*b;
        }
        let middle = 10 + (len - 18) / 2;
        let end = (middle + 16).min(len - 8);
        for b in &mut gzip[middle..end] {
            *b ^= 0x55;
        }
    }
}

const CHUNK: usize = 64 * 1024;

/// How the sandbox serves one bill: what step one answers and what step two sends.
pub(crate) struct ServedBill {
    /// The `Content-Length` to announce: the plain bill's length; `None` (chunked) for gzip.
    pub(crate) content_length: Option<u64>,
    /// The body's pieces, generated as they are taken (gzip work is CPU-bound: take them
    /// on a blocking thread for large bills).
    pub(crate) body: ServedChunks,
    /// Drop the connection after this many body bytes ([`BillFault::Truncate`]).
    pub(crate) cut_after: Option<u64>,
    /// Send the body in pieces of this size with this pause after each ([`BillFault::Slow`]).
    pub(crate) pace: Option<(usize, Duration)>,
}

impl BillSpec {
    /// The plan for serving this bill, gzip-compressed at `gzip_level` if given, with
    /// `fault` applied; `digest` is [`BillSpec::digest`] (computed once and cached by the
    /// caller: it costs a generation pass).
    pub(crate) fn served(
        &self,
        digest: &BillDigest,
        gzip_level: Option<u32>,
        fault: Option<&BillFault>,
    ) -> ServedBill {
        let body = match gzip_level {
            Some(level) => ServedChunks::Gzip {
                chunks: Box::new(self.gzip_chunks(level)),
                corrupt: fault == Some(&BillFault::CorruptGzip),
                first: true,
                peeked: None,
            },
            None => ServedChunks::Plain(Box::new(self.chunks())),
        };
        ServedBill {
            content_length: gzip_level.is_none().then_some(digest.len),
            body,
            cut_after: match fault {
                Some(BillFault::Truncate { after }) => Some(*after),
                _ => None,
            },
            pace: match fault {
                Some(BillFault::Slow { chunk, pause }) => Some(((*chunk).max(1), *pause)),
                _ => None,
            },
        }
    }
}

/// The pieces of a served bill (see [`BillSpec::served`]).
pub(crate) enum ServedChunks {
    Plain(Box<BillChunks>),
    Gzip {
        chunks: Box<GzipChunks>,
        corrupt: bool,
        first: bool,
        peeked: Option<io::Result<Vec<u8>>>,
    },
}

impl Iterator for ServedChunks {
    type Item = io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<io::Result<Vec<u8>>> {
        match self {
            ServedChunks::Plain(chunks) => chunks.next().map(Ok),
            ServedChunks::Gzip {
                chunks,
                corrupt,
                first,
                peeked,
            } => {
                let mut chunk = match peeked.take() {
                    Some(chunk) => chunk,
                    None => chunks.next()?,
                };
                if !*corrupt {
                    return Some(chunk);
                }
                // Look one piece ahead to know which one carries the trailer.
                *peeked = chunks.next();
                if let Ok(bytes) = &mut chunk {
                    if std::mem::take(first) {
                        // 16 bytes in the middle of the deflate data (after the 10-byte header).
                        let start = 10 + bytes.len().saturating_sub(26) / 2;
                        let end = (start + 16).min(bytes.len().saturating_sub(8));
                        for b in bytes.get_mut(start..end).unwrap_or_default() {
                            *b ^= 0x55;
                        }
                    }
                    if peeked.is_none() && bytes.len() >= 8 {
                        let n = bytes.len();
                        for b in &mut bytes[n - 8..n - 4] {
                            *b = !*b;
                        }
                    }
                }
                Some(chunk)
            }
        }
    }
}

/// Iterator over a generated bill's chunks (see [`BillSpec::chunks`]).
pub struct BillChunks {
    spec: BillSpec,
    compact_date: String,
    state: State,
    next_row: u64,
    bytes: u64,
    totals: Totals,
    buf: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    Rows,
    Summary,
    Done,
}

/// Running totals for the summary lines, in fen (cents) or counts.
#[derive(Debug, Default)]
struct Totals {
    records: u64,
    settlement: i64,
    refund: i64,
    fee_milli_fen: i64,
    order: i64,
    refund_applied: i64,
    income_count: u64,
    income: i64,
    expense_count: u64,
    expense: i64,
    balance: i64,
    sharing_count: u64,
    sharing: i64,
    return_count: u64,
    returned: i64,
}

impl BillChunks {
    fn new(spec: BillSpec) -> BillChunks {
        let compact_date: String = spec.date.chars().filter(char::is_ascii_digit).collect();
        BillChunks {
            spec,
            compact_date,
            state: State::Header,
            next_row: 0,
            bytes: 0,
            totals: Totals {
                balance: 10_000_000,
                ..Totals::default()
            },
            buf: Vec::with_capacity(CHUNK + 1024),
        }
    }

    fn more_rows(&self) -> bool {
        match self.spec.size {
            Size::Rows(n) => self.next_row < n,
            Size::Bytes(n) => self.bytes < n,
        }
    }

    fn push_row(&mut self) {
        let i = self.next_row;
        self.next_row += 1;
        let mut rng = Rng::new(self.spec.seed, i);
        let start = self.buf.len();
        match self.spec.kind {
            BillKind::TradeAll | BillKind::TradeSuccess | BillKind::TradeRefund => {
                self.trade_row(i, &mut rng)
            }
            BillKind::FundFlow => self.fund_flow_row(i, &mut rng),
            BillKind::ProfitSharing => self.profit_sharing_row(i, &mut rng),
        }
        self.bytes += (self.buf.len() - start) as u64;
        self.totals.records += 1;
    }

    fn trade_row(&mut self, i: u64, rng: &mut Rng) {
        let kind = self.spec.kind;
        let refund = match kind {
            BillKind::TradeRefund => true,
            BillKind::TradeSuccess => false,
            _ => rng.below(20) == 0,
        };
        let amount = amount_fen(rng);
        let coupon = if rng.below(10) == 0 {
            (amount / 10).min(500)
        } else {
            0
        };
        let fee_milli = (amount - coupon) * 6; // 0.60% in thousandths of a fen
        let seconds = rng.below(86_400);
        let b = &mut self.buf;
        let t = &mut self.totals;

        field_time(b, &self.spec.date, seconds);
        field(b, &self.spec.appid);
        field(b, &self.spec.mchid);
        field(b, "0");
        field(
            b,
            if rng.below(4) == 0 {
                "013467007045764"
            } else {
                ""
            },
        );
        let transaction_id = |b: &mut Vec<u8>, rng: &mut Rng| {
            b.extend_from_slice(b"`4200");
            push_padded(b, rng.below(1_000_000), 6);
            b.extend_from_slice(self.compact_date.as_bytes());
            push_padded(b, i, 10);
            b.push(b',');
        };
        transaction_id(b, rng);
        b.extend_from_slice(b"`SBX");
        b.extend_from_slice(self.compact_date.as_bytes());
        push_padded(b, i, 12);
        b.push(b',');
        b.extend_from_slice(b"`oUpF8u");
        push_token(b, rng, 22);
        b.push(b',');
        field(b, TRADE_TYPES[rng.below(TRADE_TYPES.len() as u64) as usize]);
        field(b, if refund { "REFUND" } else { "SUCCESS" });
        field(b, BANKS[rng.below(BANKS.len() as u64) as usize]);
        field(b, "CNY");
        let settlement = if refund { 0 } else { amount - coupon };
        field_amount(b, settlement);
        field_amount(b, if refund { 0 } else { coupon });
        t.settlement += settlement;
        if kind == BillKind::TradeRefund {
            field_time(b, &self.spec.date, seconds / 2);
            field_time(b, &self.spec.date, seconds);
        }
        if kind != BillKind::TradeSuccess {
            if refund {
                b.extend_from_slice(b"`50300");
                push_padded(b, rng.below(1_000_000_000), 9);
                b.extend_from_slice(self.compact_date.as_bytes());
                push_padded(b, i, 10);
                b.extend_from_slice(b",`RF");
                b.extend_from_slice(self.compact_date.as_bytes());
                push_padded(b, i, 12);
                b.push(b',');
                field_amount(b, amount);
                field_amount(b, 0);
                field(b, "ORIGINAL");
                field(b, "SUCCESS");
                t.refund += amount;
            } else {
                field(b, "0");
                field(b, "0");
                field_amount(b, 0);
                field_amount(b, 0);
                field(b, "");
                field(b, "");
            }
        }
        field(b, GOODS[rng.below(GOODS.len() as u64) as usize]);
        field(b, if rng.below(3) == 0 { "sandbox" } else { "" });
        let fee = if refund { -fee_milli } else { fee_milli };
        field_fee(b, fee);
        t.fee_milli_fen += fee;
        field(b, "0.60%");
        field_amount(b, if refund { 0 } else { amount });
        if !refund {
            t.order += amount;
        }
        if kind != BillKind::TradeSuccess {
            field_amount(b, if refund { amount } else { 0 });
            if refund {
                t.refund_applied += amount;
            }
        }
        // 费率备注, the last column, is empty: a lone backtick.
        b.extend_from_slice(b"`\r\n");
    }

    fn fund_flow_row(&mut self, i: u64, rng: &mut Rng) {
        let amount = amount_fen(rng);
        let (name, kind, income) = match rng.below(10) {
            0 => ("退款", "退款", false),
            1 => ("扣除交易手续费", "扣除交易手续费", false),
            _ => ("交易", "交易", true),
        };
        let amount = if kind == "扣除交易手续费" {
            (amount * 6 / 1000).max(1)
        } else {
            amount
        };
        let b = &mut self.buf;
        let t = &mut self.totals;
        if income {
            t.balance += amount;
            t.income += amount;
            t.income_count += 1;
        } else {
            t.balance -= amount;
            t.expense += amount;
            t.expense_count += 1;
        }
        field_time(b, &self.spec.date, (i * 7 + rng.below(7)) % 86_400);
        b.extend_from_slice(b"`4200");
        push_padded(b, rng.below(1_000_000), 6);
        b.extend_from_slice(self.compact_date.as_bytes());
        push_padded(b, i, 10);
        b.extend_from_slice(b",`");
        b.extend_from_slice(self.spec.mchid.as_bytes());
        b.extend_from_slice(self.compact_date.as_bytes());
        push_padded(b, i, 10);
        b.push(b',');
        field(b, name);
        field(b, kind);
        field(b, if income { "收入" } else { "支出" });
        field_amount(b, amount);
        field_amount(b, t.balance);
        field(b, if income { "system" } else { "1900000001API" });
        field(
            b,
            if income {
                ""
            } else {
                "退款总金额0.01元;含手续费0.00元"
            },
        );
        b.extend_from_slice(b"`SBX");
        b.extend_from_slice(self.compact_date.as_bytes());
        push_padded(b, i, 12);
        b.extend_from_slice(b"\r\n");
    }

    fn profit_sharing_row(&mut self, i: u64, rng: &mut Rng) {
        let amount = amount_fen(rng) / 10 + 1;
        let returned = rng.below(15) == 0;
        let b = &mut self.buf;
        let t = &mut self.totals;
        if returned {
            t.return_count += 1;
            t.returned += amount;
        } else {
            t.sharing_count += 1;
            t.sharing += amount;
        }
        field_time(b, &self.spec.date, rng.below(86_400));
        field(b, &self.spec.mchid);
        field(b, "1900000109");
        field(b, RECEIVERS[rng.below(RECEIVERS.len() as u64) as usize]);
        field_amount(b, amount);
        field(b, if returned { "回退" } else { "分账" });
        field(b, "SUCCESS");
        field(
            b,
            if returned {
                "分账回退"
            } else {
                "分给商户1900000110"
            },
        );
        b.extend_from_slice(b"`4200");
        push_padded(b, rng.below(1_000_000), 6);
        b.extend_from_slice(self.compact_date.as_bytes());
        push_padded(b, i, 10);
        b.extend_from_slice(b",`P");
        b.extend_from_slice(self.compact_date.as_bytes());
        push_padded(b, i, 12);
        b.extend_from_slice(b",`3008450740201411110007820472");
        push_padded(b, i % 10_000, 4);
        b.push(b',');
        b.extend_from_slice(b"`\r\n");
    }

    fn push_summary(&mut self) {
        let t = &self.totals;
        let b = &mut self.buf;
        b.extend_from_slice(self.spec.kind.summary_header().as_bytes());
        b.extend_from_slice(b"\r\n");
        match self.spec.kind {
            BillKind::TradeAll | BillKind::TradeSuccess | BillKind::TradeRefund => {
                b.push(b'`');
                push_u64(b, t.records);
                b.push(b',');
                field_amount(b, t.settlement);
                field_amount(b, t.refund);
                field_amount(b, 0);
                field_fee(b, t.fee_milli_fen);
                field_amount(b, t.order);
                b.push(b'`');
                push_amount(b, t.refund_applied);
            }
            BillKind::FundFlow => {
                b.push(b'`');
                push_u64(b, t.records);
                b.extend_from_slice(b",`");
                push_u64(b, t.income_count);
                b.push(b',');
                field_amount(b, t.income);
                b.push(b'`');
                push_u64(b, t.expense_count);
                b.extend_from_slice(b",`");
                push_amount(b, t.expense);
            }
            BillKind::ProfitSharing => {
                b.push(b'`');
                push_u64(b, t.sharing_count);
                b.push(b',');
                field_amount(b, t.sharing);
                b.push(b'`');
                push_u64(b, t.return_count);
                b.extend_from_slice(b",`");
                push_amount(b, t.returned);
            }
        }
        b.extend_from_slice(b"\r\n");
    }
}

impl Iterator for BillChunks {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        if self.state == State::Done {
            return None;
        }
        self.buf.clear();
        while self.buf.len() < CHUNK {
            match self.state {
                State::Header => {
                    self.buf.extend_from_slice(b"\xEF\xBB\xBF");
                    self.buf
                        .extend_from_slice(self.spec.kind.header().as_bytes());
                    self.buf.extend_from_slice(b"\r\n");
                    self.bytes += self.buf.len() as u64;
                    self.state = State::Rows;
                }
                State::Rows => {
                    if self.more_rows() {
                        self.push_row();
                    } else {
                        self.state = State::Summary;
                    }
                }
                State::Summary => {
                    self.push_summary();
                    self.state = State::Done;
                    break;
                }
                State::Done => break,
            }
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK + 1024));
        Some(chunk)
    }
}

impl std::fmt::Debug for BillChunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BillChunks")
            .field("spec", &self.spec)
            .field("next_row", &self.next_row)
            .field("bytes", &self.bytes)
            .finish_non_exhaustive()
    }
}

/// A [`Read`] over a generated bill (see [`BillSpec::reader`]).
pub struct BillBytes {
    chunks: BillChunks,
    current: Vec<u8>,
    position: usize,
}

impl std::fmt::Debug for BillBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BillBytes")
            .field("chunks", &self.chunks)
            .finish_non_exhaustive()
    }
}

impl Read for BillBytes {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.position == self.current.len() {
            match self.chunks.next() {
                Some(chunk) => {
                    self.current = chunk;
                    self.position = 0;
                }
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len() - self.position);
        out[..n].copy_from_slice(&self.current[self.position..self.position + n]);
        self.position += n;
        Ok(n)
    }
}

/// Iterator over a generated bill's gzip-compressed chunks (see [`BillSpec::gzip_chunks`]).
pub struct GzipChunks {
    plain: BillChunks,
    encoder: Option<flate2::write::GzEncoder<Vec<u8>>>,
}

impl std::fmt::Debug for GzipChunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GzipChunks")
            .field("spec", &self.plain.spec)
            .finish_non_exhaustive()
    }
}

impl Iterator for GzipChunks {
    type Item = io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<io::Result<Vec<u8>>> {
        loop {
            let encoder = self.encoder.as_mut()?;
            match self.plain.next() {
                Some(chunk) => {
                    if let Err(e) = encoder.write_all(&chunk) {
                        self.encoder = None;
                        return Some(Err(e));
                    }
                    if encoder.get_ref().len() >= CHUNK {
                        return Some(Ok(std::mem::take(encoder.get_mut())));
                    }
                }
                None => {
                    let encoder = self.encoder.take()?;
                    return Some(encoder.finish());
                }
            }
        }
    }
}

const TRADE_TYPES: &[&str] = &["JSAPI", "JSAPI", "NATIVE", "APP", "MWEB", "MICROPAY"];
const BANKS: &[&str] = &[
    "OTHERS",
    "CMB_DEBIT",
    "ICBC_DEBIT",
    "CCB_CREDIT",
    "ABC_DEBIT",
    "BOC_CREDIT",
    "CFT",
];
const GOODS: &[&str] = &[
    "Image形象店-深圳腾大-QQ公仔",
    "会员月卡",
    "咖啡 大杯 热",
    "停车费",
    "sandbox goods",
    "电影票 2张",
];
const RECEIVERS: &[&str] = &["1900000110", "1900000111", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"];

/// A payment amount in fen, mostly small, sometimes large.
fn amount_fen(rng: &mut Rng) -> i64 {
    match rng.below(100) {
        0 => 100_000 + rng.below(900_000) as i64,
        1..=20 => 1_000 + rng.below(20_000) as i64,
        _ => 1 + rng.below(3_000) as i64,
    }
}

/// A field followed by a comma: `` `value, ``.
fn field(b: &mut Vec<u8>, value: &str) {
    b.push(b'`');
    b.extend_from_slice(value.as_bytes());
    b.push(b',');
}

fn field_amount(b: &mut Vec<u8>, fen: i64) {
    b.push(b'`');
    push_amount(b, fen);
    b.push(b',');
}

/// Fees have five decimals in the platform's bills (`0.07000`).
fn field_fee(b: &mut Vec<u8>, milli_fen: i64) {
    b.push(b'`');
    if milli_fen < 0 {
        b.push(b'-');
    }
    let m = milli_fen.unsigned_abs();
    push_u64(b, m / 100_000);
    b.push(b'.');
    push_padded(b, m % 100_000, 5);
    b.push(b',');
}

fn field_time(b: &mut Vec<u8>, date: &str, seconds: u64) {
    b.push(b'`');
    b.extend_from_slice(date.as_bytes());
    b.push(b' ');
    push_padded(b, seconds / 3600 % 24, 2);
    b.push(b':');
    push_padded(b, seconds / 60 % 60, 2);
    b.push(b':');
    push_padded(b, seconds % 60, 2);
    b.push(b',');
}

/// `fen` as yuan with two decimals: `1234` -> `12.34`.
fn push_amount(b: &mut Vec<u8>, fen: i64) {
    if fen < 0 {
        b.push(b'-');
    }
    let f = fen.unsigned_abs();
    push_u64(b, f / 100);
    b.push(b'.');
    push_padded(b, f % 100, 2);
}

fn push_u64(b: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    b.extend_from_slice(&digits[i..]);
}

/// `n` in decimal, left-padded with zeros to `width` digits (its low `width` digits).
fn push_padded(b: &mut Vec<u8>, mut n: u64, width: usize) {
    let start = b.len();
    b.resize(start + width, b'0');
    for slot in b[start..].iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

fn push_token(b: &mut Vec<u8>, rng: &mut Rng, len: usize) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for _ in 0..len {
        b.push(ALPHABET[rng.below(64) as usize]);
    }
}

/// SplitMix64, seeded per record so any record can be regenerated on its own.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, row: u64) -> Rng {
        Rng(seed ^ row.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(spec: &BillSpec) -> Vec<String> {
        String::from_utf8(spec.to_vec())
            .unwrap()
            .trim_start_matches('\u{feff}')
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn every_layout_has_as_many_fields_as_its_header() {
        for kind in [
            BillKind::TradeAll,
            BillKind::TradeSuccess,
            BillKind::TradeRefund,
            BillKind::FundFlow,
            BillKind::ProfitSharing,
        ] {
            let spec = BillSpec::new(kind, "2026-11-29").rows(200);
            let lines = lines(&spec);
            assert_eq!(lines.len(), 1 + 200 + 2, "{kind:?}");
            let width = kind.header().split(',').count();
            for line in &lines[1..201] {
                assert!(line.starts_with('`'), "{kind:?}: {line}");
                assert_eq!(line.split(",`").count(), width, "{kind:?}: {line}");
            }
            assert_eq!(lines[201], kind.summary_header());
            assert_eq!(
                lines[202].split(",`").count(),
                kind.summary_header().split(',').count()
            );
        }
    }

    #[test]
    fn bills_are_deterministic_and_seeds_differ() {
        let spec = BillSpec::new(BillKind::TradeAll, "2026-11-29").rows(50);
        assert_eq!(spec.to_vec(), spec.to_vec());
        assert_ne!(spec.to_vec(), spec.clone().seed(7).to_vec());
        assert_eq!(spec.digest(), spec.digest());
    }

    #[test]
    fn approx_bytes_stops_at_the_first_row_past_the_size() {
        let spec = BillSpec::new(BillKind::FundFlow, "2026-11-29").approx_bytes(300_000);
        let len = spec.to_vec().len();
        assert!((300_000..301_000).contains(&len), "{len}");
        assert_eq!(spec.digest().len, len as u64);
    }

    #[test]
    fn the_summary_adds_up_the_records() {
        let spec = BillSpec::new(BillKind::TradeAll, "2026-11-29").rows(500);
        let lines = lines(&spec);
        let header: Vec<&str> = lines[0].split(',').collect();
        let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let (mut order, mut refund) = (0i64, 0i64);
        for line in &lines[1..501] {
            let fields: Vec<&str> = line.split(',').map(|f| &f[1..]).collect();
            let fen = |s: &str| (s.parse::<f64>().unwrap() * 100.0).round() as i64;
            order += fen(fields[column("订单金额")]);
            refund += fen(fields[column("退款金额")]);
        }
        let summary: Vec<&str> = lines[502].split(',').map(|f| &f[1..]).collect();
        assert_eq!(summary[0], "500");
        let yuan = |fen: i64| format!("{}.{:02}", fen / 100, fen % 100);
        assert_eq!(summary[5], yuan(order));
        assert_eq!(summary[2], yuan(refund));
    }

    #[test]
    fn gzip_chunks_decompress_to_the_plain_bill() {
        let spec = BillSpec::new(BillKind::TradeRefund, "2026-11-29").approx_bytes(200_000);
        let mut gz = Vec::new();
        spec.write_to(&mut gz, Some(6)).unwrap();
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, spec.to_vec());
        let mut read = Vec::new();
        spec.reader().read_to_end(&mut read).unwrap();
        assert_eq!(read, plain);
    }

    #[test]
    fn faults_change_what_they_say() {
        let digest = BillSpec::new(BillKind::TradeAll, "2026-11-29").digest();
        assert_eq!(
            BillFault::CorruptGzip.hash_value(&digest),
            digest.sha1_hex()
        );
        let wrong = BillFault::WrongDigest.hash_value(&digest);
        assert_ne!(wrong, digest.sha1_hex());
        assert_eq!(wrong[1..], digest.sha1_hex()[1..]);

        for rows in [3, 20_000] {
            let spec = BillSpec::new(BillKind::TradeAll, "2026-11-29").rows(rows);
            let digest = spec.digest();
            let served = spec.served(&digest, Some(6), Some(&BillFault::CorruptGzip));
            assert_eq!(served.content_length, None);
            let gz: Vec<u8> = served.body.flat_map(Result::unwrap).collect();
            let mut out = Vec::new();
            assert!(flate2::read::GzDecoder::new(&gz[..])
                .read_to_end(&mut out)
                .is_err());
            let plain = spec.served(&digest, None, Some(&BillFault::Truncate { after: 10 }));
            assert_eq!(plain.content_length, Some(digest.len));
            assert_eq!(plain.cut_after, Some(10));
            assert_eq!(
                plain.body.flat_map(Result::unwrap).count() as u64,
                digest.len
            );
        }

        let spec = BillSpec::new(BillKind::TradeAll, "2026-11-29").rows(2_000);
        let mut gz = Vec::new();
        spec.write_to(&mut gz, Some(6)).unwrap();
        BillFault::corrupt_gzip(&mut gz);
        let mut out = Vec::new();
        assert!(flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .is_err());
    }
}
