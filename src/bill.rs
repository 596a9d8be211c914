//! Reading the platform's CSV bills (trade, fund-flow, profit-sharing) as a stream.
//!
//! A bill is UTF-8 text, possibly with a byte-order mark: a header line of column names,
//! one line per record with every field prefixed by a backtick (`` ` ``, so spreadsheets
//! keep long numbers as text), then a summary header and one summary line. The columns
//! differ between bill types (and have changed over the years), so records are read by
//! column **name**, never position.
//!
//! [`BillReader`] (over any [`BufRead`]) and [`AsyncBillReader`] (over any Tokio
//! [`AsyncBufRead`]) read one line at a time: memory holds one
//! line and one record, whatever the size of the bill. Records come as [`BillRecord`]s
//! (look up by column name, or [`deserialize`](BillRecord::deserialize) into any
//! `serde::Deserialize` type, numbers parsed from the text); the summary is kept apart
//! ([`BillReader::summary`]).
//!
//! ```
//! use serde::Deserialize;
//! use wechatpay::bill::BillReader;
//!
//! let bill = "\u{feff}交易时间,商户订单号,交易状态,订单金额\r\n\
//!             `2026-11-29 10:00:00,`SBX001,`SUCCESS,`12.34\r\n\
//!             `2026-11-29 10:05:00,`SBX002,`REFUND,`0.00\r\n\
//!             总交易单数,订单总金额\r\n\
//!             `2,`12.34\r\n";
//!
//! #[derive(Deserialize)]
//! struct Trade {
//!     #[serde(rename = "商户订单号")]
//!     out_trade_no: String,
//!     #[serde(rename = "订单金额")]
//!     amount: f64,
//! }
//!
//! let mut reader = BillReader::new(bill.as_bytes())?;
//! assert_eq!(reader.headers()[0], "交易时间");
//! let mut total = 0.0;
//! for record in &mut reader {
//!     let trade: Trade = record?.deserialize()?;
//!     total += trade.amount;
//! }
//! let summary = reader.summary().expect("the bill has a summary");
//! assert_eq!(summary.get("总交易单数"), Some("2"));
//! assert_eq!(summary.get("订单总金额"), Some("12.34"));
//! assert_eq!(total, 12.34);
//! # Ok::<(), wechatpay::Error>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufRead};
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::error::Error;

/// The default longest line accepted (1 MiB); a longer one is an error, so a file that is
/// not a bill (no line breaks) cannot exhaust memory.
pub const DEFAULT_MAX_LINE_LEN: usize = 1 << 20;

/// First columns of the summary headers the platform writes, which tell a summary
/// header from a record even when a record lacks its backticks.
const SUMMARY_TITLES: &[&str] = &["总交易单数", "资金流水总笔数", "分账总笔数", "总笔数"];

/// One line of a bill: a record or the summary, with its column names.
#[derive(Clone, PartialEq, Eq)]
pub struct BillRecord {
    headers: Arc<[String]>,
    values: Vec<String>,
    line: u64,
}

impl BillRecord {
    /// The value of `column` (without its backtick), if the bill has that column.
    pub fn get(&self, column: &str) -> Option<&str> {
        let index = self.headers.iter().position(|h| h == column)?;
        self.values.get(index).map(String::as_str)
    }

    /// The column names, in the file's order.
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// The values, in the file's order.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// `(column, value)` pairs in the file's order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers
            .iter()
            .map(String::as_str)
            .zip(self.values.iter().map(String::as_str))
    }

    /// The record as a map from column name to value.
    pub fn to_map(&self) -> HashMap<String, String> {
        self.iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// The line number in the file (1-based), for error messages.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The record as any `Deserialize` type: a struct whose fields are named (or
    /// `#[serde(rename)]`d) after columns, a map, a tuple or sequence of the values.
    /// Values are text; numbers and booleans are parsed from it, and an empty value is
    /// `None` for an `Option`.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] naming the line; its source names the column and the problem.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use wechatpay::bill::BillReader;
    ///
    /// let bill = "记账时间,收支金额(元),备注\n`2026-11-29 04:21:23,`0.02,`\n";
    /// let record = BillReader::new(bill.as_bytes())?.next().unwrap()?;
    /// let (time, amount, note): (String, f64, Option<String>) = record.deserialize()?;
    /// assert_eq!((time.as_str(), amount, note), ("2026-11-29 04:21:23", 0.02, None));
    /// let map: BTreeMap<&str, &str> = record.deserialize()?;
    /// assert_eq!(map["收支金额(元)"], "0.02");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn deserialize<'a, T: Deserialize<'a>>(&'a self) -> Result<T, Error> {
        T::deserialize(RecordDeserializer(self)).map_err(|e| {
            Error::decode(
                format!("bill line {} does not fit the requested type", self.line),
                Some(Box::new(e)),
            )
        })
    }
}

impl fmt::Debug for BillRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

// ---- parsing lines ------------------------------------------------------------------------------

#[derive(Debug)]
enum State {
    Records,
    /// The summary header has been read; its values line comes next.
    SummaryHeader(Arc<[String]>, u64),
    Done,
}

/// What to do with each line, shared by the blocking and async readers.
#[derive(Debug)]
struct Parser {
    headers: Arc<[String]>,
    state: State,
    summary: Option<BillRecord>,
}

impl Parser {
    fn new(header_line: &str) -> Parser {
        let headers: Vec<String> = header_line
            .split(',')
            .map(|h| strip_tick(h).trim().to_owned())
            .collect();
        Parser {
            headers: headers.into(),
            state: State::Records,
            summary: None,
        }
    }

    /// Handles one non-empty line; returns a record for a record line.
    fn line(&mut self, text: &str, number: u64) -> Result<Option<BillRecord>, Error> {
        match std::mem::replace(&mut self.state, State::Records) {
            State::Records => {
                if self.is_summary_header(text) {
                    let headers: Vec<String> = text
                        .split(',')
                        .map(|h| strip_tick(h).trim().to_owned())
                        .collect();
                    self.state = State::SummaryHeader(headers.into(), number);
                    return Ok(None);
                }
                let values = split_fields(text, self.headers.len()).ok_or_else(|| {
                    field_count_error(number, text, self.headers.len(), "the header")
                })?;
                Ok(Some(BillRecord {
                    headers: self.headers.clone(),
                    values,
                    line: number,
                }))
            }
            State::SummaryHeader(headers, _) => {
                let values = split_fields(text, headers.len()).ok_or_else(|| {
                    field_count_error(number, text, headers.len(), "the summary header")
                })?;
                self.summary = Some(BillRecord {
                    headers,
                    values,
                    line: number,
                });
                self.state = State::Done;
                Ok(None)
            }
            State::Done => {
                self.state = State::Done;
                Err(Error::decode(
                    format!("bill line {number} follows the summary line, which ends a bill"),
                    None,
                ))
            }
        }
    }

    /// Called at the end of the input.
    fn end(&mut self) -> Result<(), Error> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::SummaryHeader(_, number) => Err(Error::decode(
                format!("the bill ends after its summary header (line {number}) without the summary line"),
                None,
            )),
            _ => Ok(()),
        }
    }

    /// A summary header has no backticks and either a known first column or a number
    /// of columns other than the header's. (Records have backticks; the platform's
    /// profit-sharing bills missed some until 2025, so a record without them and with
    /// the header's width is still a record.)
    fn is_summary_header(&self, text: &str) -> bool {
        if text.starts_with('`') {
            return false;
        }
        let first = text.split(',').next().unwrap_or_default().trim();
        SUMMARY_TITLES.contains(&first) || text.split(',').count() != self.headers.len()
    }
}

fn strip_tick(field: &str) -> &str {
    field.strip_prefix('`').unwrap_or(field)
}

/// Splits a line into exactly `expected` fields: on commas, or (when a value itself holds
/// a comma) on the `,`` ` `` that starts every backticked field.
fn split_fields(text: &str, expected: usize) -> Option<Vec<String>> {
    if text.split(',').count() == expected {
        return Some(text.split(',').map(|f| strip_tick(f).to_owned()).collect());
    }
    let rest = text.strip_prefix('`')?;
    if rest.split(",`").count() == expected {
        return Some(rest.split(",`").map(str::to_owned).collect());
    }
    None
}

fn field_count_error(number: u64, text: &str, expected: usize, what: &str) -> Error {
    Error::decode(
        format!(
            "bill line {number} has {} fields, but {what} has {expected}",
            text.split(',').count()
        ),
        None,
    )
}

/// The text of a raw line: without its line break, checked as UTF-8, BOM removed from
/// the first line. `None` for a blank line.
fn line_text(raw: &[u8], number: u64) -> Result<Option<&str>, Error> {
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let raw = if number == 1 {
        raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw)
    } else {
        raw
    };
    let text = std::str::from_utf8(raw).map_err(|e| {
        Error::decode(
            format!("bill line {number} is not UTF-8"),
            Some(Box::new(e)),
        )
    })?;
    Ok(if text.trim().is_empty() {
        None
    } else {
        Some(text)
    })
}

fn too_long(number: u64, max: usize) -> Error {
    Error::decode(
        format!("bill line {number} is longer than {max} bytes: this is not a bill, or raise the line limit"),
        None,
    )
}

fn read_error(e: io::Error) -> Error {
    Error::decode("reading the bill failed", Some(Box::new(e)))
}

/// Appends one line (up to and including `\n`) to `buf`; false at the end of input.
fn read_line(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
    number: u64,
) -> Result<bool, Error> {
    buf.clear();
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(e)),
        };
        if available.is_empty() {
            return Ok(!buf.is_empty());
        }
        let (take, done) = match memchr::memchr(b'\n', available) {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if buf.len() + take > max + 2 {
            return Err(too_long(number, max));
        }
        buf.extend_from_slice(&available[..take]);
        reader.consume(take);
        if done {
            return Ok(true);
        }
    }
}

async fn read_line_async<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
    number: u64,
) -> Result<bool, Error> {
    buf.clear();
    loop {
        let available = reader.fill_buf().await.map_err(read_error)?;
        if available.is_empty() {
            return Ok(!buf.is_empty());
        }
        let (take, done) = match memchr::memchr(b'\n', available) {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if buf.len() + take > max + 2 {
            return Err(too_long(number, max));
        }
        buf.extend_from_slice(&available[..take]);
        reader.consume(take);
        if done {
            return Ok(true);
        }
    }
}

// ---- readers ------------------------------------------------------------------------------------

/// Reads a bill from any [`BufRead`], one record at a time (it is an iterator of
/// [`BillRecord`]s; the summary is kept apart).
///
/// For a file: `BillReader::new(std::io::BufReader::new(File::open(path)?))`; for a
/// gzip file, wrap a `flate2::bufread::GzDecoder` in a `BufReader`.
pub struct BillReader<R> {
    reader: R,
    parser: Parser,
    buf: Vec<u8>,
    line: u64,
    max_line_len: usize,
    failed: bool,
}

impl<R: BufRead> BillReader<R> {
    /// Reads the header line (skipping a BOM and blank lines) with the default line limit.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] if the input is empty, unreadable, not UTF-8, or its first line
    /// is longer than [`DEFAULT_MAX_LINE_LEN`].
    pub fn new(reader: R) -> Result<BillReader<R>, Error> {
        BillReader::with_max_line_len(reader, DEFAULT_MAX_LINE_LEN)
    }

    /// As [`new`](BillReader::new), with another line limit.
    ///
    /// # Errors
    ///
    /// As [`new`](BillReader::new).
    pub fn with_max_line_len(mut reader: R, max_line_len: usize) -> Result<BillReader<R>, Error> {
        let mut buf = Vec::new();
        let mut line = 0;
        loop {
            line += 1;
            if !read_line(&mut reader, &mut buf, max_line_len, line)? {
                return Err(Error::decode(
                    "the bill is empty: it has no header line",
                    None,
                ));
            }
            if let Some(text) = line_text(&buf, line)? {
                let parser = Parser::new(text);
                return Ok(BillReader {
                    reader,
                    parser,
                    buf,
                    line,
                    max_line_len,
                    failed: false,
                });
            }
        }
    }

    /// The column names of the records.
    pub fn headers(&self) -> &[String] {
        &self.parser.headers
    }

    /// The summary (its header's columns and the totals), once the records have all been
    /// read; `None` before, or if the bill has none.
    pub fn summary(&self) -> Option<&BillRecord> {
        self.parser.summary.as_ref()
    }

    /// The records as `T` (see [`BillRecord::deserialize`]).
    pub fn deserialize<T: de::DeserializeOwned>(
        &mut self,
    ) -> impl Iterator<Item = Result<T, Error>> + '_ {
        self.map(|record| record?.deserialize())
    }

    /// Reads to the end and returns the summary (the records are read and dropped).
    ///
    /// # Errors
    ///
    /// The first error met on the way.
    pub fn into_summary(mut self) -> Result<Option<BillRecord>, Error> {
        for record in &mut self {
            record?;
        }
        Ok(self.parser.summary)
    }
}

impl<R: BufRead> Iterator for BillReader<R> {
    type Item = Result<BillRecord, Error>;

    fn next(&mut self) -> Option<Result<BillRecord, Error>> {
        if self.failed || matches!(self.parser.state, State::Done) && self.parser.summary.is_some()
        {
            return None;
        }
        let result = (|| loop {
            self.line += 1;
            if !read_line(
                &mut self.reader,
                &mut self.buf,
                self.max_line_len,
                self.line,
            )? {
                self.parser.end()?;
                return Ok(None);
            }
            if let Some(text) = line_text(&self.buf, self.line)? {
                if let Some(record) = self.parser.line(text, self.line)? {
                    return Ok(Some(record));
                }
            }
        })();
        match result {
            Ok(record) => record.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

impl<R> fmt::Debug for BillReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BillReader")
            .field("headers", &self.parser.headers)
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

/// Reads a bill from any Tokio [`AsyncBufRead`], one record at
/// a time: the async twin of [`BillReader`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), wechatpay::Error> {
/// use wechatpay::bill::AsyncBillReader;
///
/// let bill = "资金流水单号,收支金额(元)\n`1900000001,`0.02\n资金流水总笔数,收入笔数\n`1,`0\n";
/// let mut reader = AsyncBillReader::new(bill.as_bytes()).await?;
/// while let Some(record) = reader.next_record().await {
///     assert_eq!(record?.get("收支金额(元)"), Some("0.02"));
/// }
/// assert_eq!(reader.summary().unwrap().get("资金流水总笔数"), Some("1"));
/// # Ok(()) }
/// ```
pub struct AsyncBillReader<R> {
    reader: R,
    parser: Parser,
    buf: Vec<u8>,
    line: u64,
    max_line_len: usize,
    failed: bool,
}

impl<R: AsyncBufRead + Unpin> AsyncBillReader<R> {
    /// Reads the header line, as [`BillReader::new`].
    ///
    /// # Errors
    ///
    /// As [`BillReader::new`].
    pub async fn new(reader: R) -> Result<AsyncBillReader<R>, Error> {
        AsyncBillReader::with_max_line_len(reader, DEFAULT_MAX_LINE_LEN).await
    }

    /// As [`new`](AsyncBillReader::new), with another line limit.
    ///
    /// # Errors
    ///
    /// As [`BillReader::new`].
    pub async fn with_max_line_len(
        mut reader: R,
        max_line_len: usize,
    ) -> Result<AsyncBillReader<R>, Error> {
        let mut buf = Vec::new();
        let mut line = 0;
        loop {
            line += 1;
            if !read_line_async(&mut reader, &mut buf, max_line_len, line).await? {
                return Err(Error::decode(
                    "the bill is empty: it has no header line",
                    None,
                ));
            }
            if let Some(text) = line_text(&buf, line)? {
                let parser = Parser::new(text);
                return Ok(AsyncBillReader {
                    reader,
                    parser,
                    buf,
                    line,
                    max_line_len,
                    failed: false,
                });
            }
        }
    }

    /// The column names of the records.
    pub fn headers(&self) -> &[String] {
        &self.parser.headers
    }

    /// The summary, once the records have all been read (see [`BillReader::summary`]).
    pub fn summary(&self) -> Option<&BillRecord> {
        self.parser.summary.as_ref()
    }

    /// The next record; `None` after the last (then [`summary`](AsyncBillReader::summary)
    /// is available) or after an error.
    pub async fn next_record(&mut self) -> Option<Result<BillRecord, Error>> {
        if self.failed || matches!(self.parser.state, State::Done) && self.parser.summary.is_some()
        {
            return None;
        }
        let result = async {
            loop {
                self.line += 1;
                if !read_line_async(
                    &mut self.reader,
                    &mut self.buf,
                    self.max_line_len,
                    self.line,
                )
                .await?
                {
                    self.parser.end()?;
                    return Ok(None);
                }
                if let Some(text) = line_text(&self.buf, self.line)? {
                    if let Some(record) = self.parser.line(text, self.line)? {
                        return Ok(Some(record));
                    }
                }
            }
        }
        .await;
        match result {
            Ok(record) => record.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

impl<R> fmt::Debug for AsyncBillReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncBillReader")
            .field("headers", &self.parser.headers)
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

// ---- serde --------------------------------------------------------------------------------------

type DeError = de::value::Error;

/// A record as a map of column to value (or a sequence of values).
struct RecordDeserializer<'a>(&'a BillRecord);

impl<'de> de::Deserializer<'de> for RecordDeserializer<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_map(Fields {
            record: self.0,
            index: 0,
        })
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_seq(Values {
            record: self.0,
            index: 0,
        })
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct map struct enum
        identifier ignored_any
    }
}

struct Fields<'a> {
    record: &'a BillRecord,
    index: usize,
}

impl<'de> MapAccess<'de> for Fields<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.record.headers.get(self.index) {
            Some(name) if self.index < self.record.values.len() => seed
                .deserialize(de::value::BorrowedStrDeserializer::new(name.as_str()))
                .map(Some),
            _ => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let index = self.index;
        self.index += 1;
        let value = self.record.values.get(index).map_or("", String::as_str);
        seed.deserialize(Value(value)).map_err(|e| {
            let column = self.record.headers.get(index).map_or("?", String::as_str);
            de::Error::custom(format!("column `{column}` (`{value}`): {e}"))
        })
    }
}

struct Values<'a> {
    record: &'a BillRecord,
    index: usize,
}

impl<'de> SeqAccess<'de> for Values<'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(value) = self.record.values.get(self.index) else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        seed.deserialize(Value(value)).map(Some).map_err(|e| {
            let column = self.record.headers.get(index).map_or("?", String::as_str);
            de::Error::custom(format!("column `{column}` (`{value}`): {e}"))
        })
    }
}

/// One field's text, parsed on demand into what the target type asks for.
struct Value<'a>(&'a str);

macro_rules! parse_number {
    ($($method:ident => $visit:ident: $ty:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            let parsed: $ty = self.0.trim().parse().map_err(|e| de::Error::custom(format!("not a number: {e}")))?;
            visitor.$visit(parsed)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Value<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_borrowed_str(self.0)
    }

    parse_number! {
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_i128 => visit_i128: i128,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_u128 => visit_u128: u128,
        deserialize_f32 => visit_f32: f32,
        deserialize_f64 => visit_f64: f64,
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0.trim() {
            "true" | "TRUE" | "1" => visitor.visit_bool(true),
            "false" | "FALSE" | "0" => visitor.visit_bool(false),
            other => Err(de::Error::custom(format!("`{other}` is not a boolean"))),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.0.is_empty() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let text = de::value::BorrowedStrDeserializer::<DeError>::new(self.0);
        de::Deserializer::deserialize_enum(text, name, variants, visitor)
    }

    serde::forward_to_deserialize_any! {
        char str string bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::bills::{BillKind, BillSpec};

    #[test]
    fn every_generated_layout_reads_back() {
        for kind in [
            BillKind::TradeAll,
            BillKind::TradeSuccess,
            BillKind::TradeRefund,
            BillKind::FundFlow,
            BillKind::ProfitSharing,
        ] {
            let spec = BillSpec::new(kind, "2026-11-29").rows(300);
            let mut reader = BillReader::new(std::io::BufReader::new(spec.reader())).unwrap();
            assert_eq!(reader.headers().join(","), kind.header());
            let records: Vec<BillRecord> = (&mut reader).map(Result::unwrap).collect();
            assert_eq!(records.len(), 300, "{kind:?}");
            assert!(records
                .iter()
                .all(|r| r.values().iter().all(|v| !v.starts_with('`'))));
            let summary = reader.summary().unwrap();
            assert_eq!(summary.headers().join(","), kind.summary_header());
            assert!(summary.values()[0].parse::<u64>().is_ok(), "{summary:?}");
        }
    }

    #[test]
    fn values_with_commas_split_on_the_backticks() {
        let bill = "a,b,c\n`1,`x, y,`3\n";
        let record = BillReader::new(bill.as_bytes())
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(record.values(), ["1", "x, y", "3"]);
        assert!(BillReader::new(bill.as_bytes())
            .unwrap()
            .summary()
            .is_none());
    }

    #[test]
    fn records_without_backticks_are_still_records() {
        let bill = "a,b\n1,2\n`3,`4\n总笔数,金额\n`2,`10\n";
        let mut reader = BillReader::new(bill.as_bytes()).unwrap();
        let values: Vec<Vec<String>> = (&mut reader)
            .map(|r| r.unwrap().values().to_vec())
            .collect();
        assert_eq!(values, [["1", "2"], ["3", "4"]]);
        assert_eq!(reader.summary().unwrap().get("金额"), Some("10"));
    }

    #[test]
    fn broken_bills_say_which_line() {
        let cases = [
            ("", "empty"),
            (
                "a,b\n`1,`2,`3\n",
                "bill line 2 has 3 fields, but the header has 2",
            ),
            ("a,b\n`1,`2\n总笔数,金额\n", "without the summary line"),
            (
                "a,b\n`1,`2\n总笔数,金额\n`1,`2\n`extra,`line\n",
                "bill line 5 follows the summary",
            ),
        ];
        for (bill, expected) in cases {
            let result = BillReader::new(bill.as_bytes()).and_then(|r| r.into_summary());
            let message = result.unwrap_err().to_string();
            assert!(message.contains(expected), "{message:?} lacks {expected:?}");
        }
        let bad: &[u8] = b"a,b\n`1,`\xff\n";
        let err = BillReader::new(bad).unwrap().next().unwrap().unwrap_err();
        assert!(
            err.to_string().contains("bill line 2 is not UTF-8"),
            "{err}"
        );
        let long = format!("a\n`{}\n", "x".repeat(100));
        let err = BillReader::with_max_line_len(long.as_bytes(), 50)
            .unwrap()
            .next()
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains("longer than 50 bytes"), "{err}");
    }

    #[test]
    fn deserialize_parses_numbers_and_names_the_column() {
        let bill = "n,x,note\n`7,`1.5,`\n`oops,`1,`hi\n";
        let mut reader = BillReader::new(bill.as_bytes()).unwrap();
        #[derive(Deserialize, Debug, PartialEq)]
        struct Row {
            n: u32,
            x: f64,
            note: Option<String>,
        }
        let rows: Vec<Result<Row, Error>> = reader.deserialize().collect();
        assert_eq!(
            rows[0].as_ref().unwrap(),
            &Row {
                n: 7,
                x: 1.5,
                note: None
            }
        );
        let err = rows[1].as_ref().unwrap_err();
        let source = std::error::Error::source(err).unwrap().to_string();
        assert!(err.to_string().contains("line 3"), "{err}");
        assert!(source.contains("column `n` (`oops`)"), "{source}");
    }

    #[tokio::test]
    async fn the_async_reader_reads_the_same() {
        let spec = BillSpec::new(BillKind::FundFlow, "2026-11-29").rows(100);
        let bytes = spec.to_vec();
        let blocking: Vec<BillRecord> = BillReader::new(&bytes[..])
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mut reader = AsyncBillReader::new(&bytes[..]).await.unwrap();
        let mut records = Vec::new();
        while let Some(record) = reader.next_record().await {
            records.push(record.unwrap());
        }
        assert_eq!(records, blocking);
        assert_eq!(reader.summary().unwrap().get("资金流水总笔数"), Some("100"));
    }
}
