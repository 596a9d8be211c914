//! RFC 6570 URI templates, levels 1-4.
//!
//! A template is parsed once into literal and expression parts; every request then expands
//! it into one pre-sized `String`. Values are percent-encoded by table lookup, so a value
//! can never introduce a `/`, `?` or `#` of its own (except through `{+var}` and `{#var}`,
//! which the RFC defines to pass reserved characters).

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::error::{Error, TemplateErrorKind};

/// An RFC 6570 URI template (levels 1-4), parsed once, expanded many times.
///
/// Values come from a JSON object: a string is used as is, a number as its JSON text, a
/// boolean as `true`/`false`, an array as a list and an object as an associative array.
/// `null`, `[]` and `{}` are "undefined" in the RFC sense. A variable that is absent from
/// the map in a path-forming expression (`{var}`, `{+var}`, `{.var}`, `{/var}`) is an
/// error rather than silently dropped; in `{;..}`, `{?..}`, `{&..}` and `{#..}` it is
/// omitted, as the RFC says.
///
/// ```
/// use wechatpay::UriTemplate;
/// use serde_json::json;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let template = UriTemplate::parse("v3/pay/transactions/out-trade-no/{out_trade_no}{?mchid}")?;
/// let params = json!({ "out_trade_no": "1217752501201407033233368018", "mchid": "1230000109" });
/// let vars = params.as_object().ok_or("params must be a JSON object")?;
/// assert_eq!(
///     template.expand(vars)?,
///     "v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid=1230000109"
/// );
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriTemplate {
    source: String,
    parts: Vec<Part>,
    /// Distinct variable names in order of first appearance.
    names: Vec<Span>,
    /// Initial capacity of the expansion buffer: a guess that avoids most regrowth.
    size_hint: usize,
}

/// A byte range of the source text; names are kept as ranges so parsing allocates no
/// string per variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// Already percent-encoded at parse time.
    Literal(String),
    Expr(Expr),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Expr {
    op: Op,
    vars: Vec<VarSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct VarSpec {
    name: Span,
    modifier: Modifier,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Modifier {
    None,
    Prefix(usize),
    Explode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Simple,
    Reserved,
    Fragment,
    Label,
    Path,
    Matrix,
    Query,
    Continuation,
}

/// The per-operator table of RFC 6570 Appendix A.
struct OpSpec {
    first: &'static str,
    sep: &'static str,
    named: bool,
    ifemp: &'static str,
    allow_reserved: bool,
}

impl Op {
    fn from_byte(b: u8) -> Option<Op> {
        Some(match b {
            b'+' => Op::Reserved,
            b'#' => Op::Fragment,
            b'.' => Op::Label,
            b'/' => Op::Path,
            b';' => Op::Matrix,
            b'?' => Op::Query,
            b'&' => Op::Continuation,
            _ => return None,
        })
    }

    fn spec(self) -> OpSpec {
        let (first, sep, named, ifemp, allow_reserved) = match self {
            Op::Simple => ("", ",", false, "", false),
            Op::Reserved => ("", ",", false, "", true),
            Op::Fragment => ("#", ",", false, "", true),
            Op::Label => (".", ".", false, "", false),
            Op::Path => ("/", "/", false, "", false),
            Op::Matrix => (";", ";", true, "", false),
            Op::Query => ("?", "&", true, "=", false),
            Op::Continuation => ("&", "&", true, "=", false),
        };
        OpSpec {
            first,
            sep,
            named,
            ifemp,
            allow_reserved,
        }
    }

    /// Operators whose output becomes part of the path, where a silently dropped value
    /// would send the request to a different endpoint.
    fn forms_path(self) -> bool {
        matches!(self, Op::Simple | Op::Reserved | Op::Label | Op::Path)
    }

    /// Operators that start the query or fragment: nothing after them is path.
    fn ends_path(self) -> bool {
        matches!(self, Op::Query | Op::Continuation | Op::Fragment)
    }

    /// Operators whose single value can be a whole path segment.
    fn makes_segment(self) -> bool {
        matches!(self, Op::Simple | Op::Path)
    }
}

const MAX_PREFIX: usize = 9999;

const UNRESERVED: u8 = 1;
const RESERVED: u8 = 2;

static CLASS: [u8; 256] = byte_classes();

const fn byte_classes() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            UNRESERVED
        } else if matches!(
            b,
            b':' | b'/'
                | b'?'
                | b'#'
                | b'['
                | b']'
                | b'@'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
        ) {
            RESERVED
        } else {
            0
        };
        i += 1;
    }
    table
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `s` percent-encoded: only unreserved characters pass, or, with
/// `allow_reserved`, also reserved characters and existing `%XX` triplets (RFC 6570 §3.2.1).
fn encode(out: &mut String, s: &str, allow_reserved: bool) {
    let bytes = s.as_bytes();
    let mask = if allow_reserved {
        UNRESERVED | RESERVED
    } else {
        UNRESERVED
    };
    let mut run_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if CLASS[usize::from(b)] & mask != 0 {
            i += 1;
            continue;
        }
        if allow_reserved && b == b'%' && is_triplet(bytes, i) {
            i += 3;
            continue;
        }
        // A non-empty run holds only ASCII bytes and ends before an ASCII byte or a
        // UTF-8 lead byte, so both ends are char boundaries.
        if run_start < i {
            out.push_str(&s[run_start..i]);
        }
        out.push('%');
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
        i += 1;
        run_start = i;
    }
    if run_start < bytes.len() {
        out.push_str(&s[run_start..]);
    }
}

/// Appends `s` with everything but unreserved characters percent-encoded, as query
/// names and values are.
pub(crate) fn encode_unreserved(out: &mut String, s: &str) {
    encode(out, s, false);
}

fn is_triplet(bytes: &[u8], i: usize) -> bool {
    matches!(
        (bytes.get(i), bytes.get(i + 1), bytes.get(i + 2)),
        (Some(b'%'), Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit()
    )
}

/// The first `max` Unicode scalar values of `s` (the RFC counts characters, not bytes).
fn prefix(s: &str, max: Option<usize>) -> &str {
    match max.and_then(|n| s.char_indices().nth(n)) {
        Some((end, _)) => &s[..end],
        None => s,
    }
}

/// Percent-encodes a number's text as it is formatted, so numbers need no temporary string.
struct EncodeWriter<'a> {
    out: &'a mut String,
    allow_reserved: bool,
    remaining: usize,
}

impl fmt::Write for EncodeWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let s = prefix(s, Some(self.remaining));
        self.remaining -= s.chars().count();
        encode(self.out, s, self.allow_reserved);
        Ok(())
    }
}

/// Whether `seg` is `.` or `..`, also spelled with `%2E`, which servers decode before
/// resolving dot-segments.
fn is_dot_segment(seg: &[u8]) -> bool {
    let mut dots = 0;
    let mut i = 0;
    while i < seg.len() {
        if seg[i] == b'.' {
            i += 1;
        } else if is_triplet(seg, i) && seg[i + 1] == b'2' && matches!(seg[i + 2], b'e' | b'E') {
            i += 3;
        } else {
            return false;
        }
        dots += 1;
    }
    dots == 1 || dots == 2
}

const EMPTY_REASON: &str =
    "it is empty: it would leave an empty path segment; pass a non-empty value";
const NULL_REASON: &str =
    "it is null: it would leave an empty path segment; pass a non-empty value";

/// Watches the path part of the output in request mode: every path segment that a value
/// helped to write must not come out as a dot-segment, whichever way it was assembled
/// (`{a}{b}` with `.` and `.`, `{+a}` with `x/..`).
struct PathGuard {
    active: bool,
    seg_start: usize,
    /// The last variable that wrote into the current segment.
    culprit: Option<Span>,
}

impl PathGuard {
    /// Scans `out[from..]`, just written by `who` (`None` for literal text).
    fn scan(&mut self, out: &str, from: usize, who: Option<Span>) -> Result<(), Span> {
        let bytes = out.as_bytes();
        for (p, &b) in bytes.iter().enumerate().skip(from) {
            if !matches!(b, b'/' | b'?' | b'#') {
                continue;
            }
            let wrote_here = who.is_some() && p > from.max(self.seg_start);
            let culprit = if wrote_here { who } else { self.culprit };
            self.check(bytes, p, culprit)?;
            self.seg_start = p + 1;
            self.culprit = None;
            if b != b'/' {
                self.active = false;
                return Ok(());
            }
        }
        if who.is_some() && bytes.len() > from.max(self.seg_start) {
            self.culprit = who;
        }
        Ok(())
    }

    fn finish(&mut self, out: &str) -> Result<(), Span> {
        if self.active {
            self.active = false;
            self.check(out.as_bytes(), out.len(), self.culprit)?;
        }
        Ok(())
    }

    fn check(&self, bytes: &[u8], end: usize, culprit: Option<Span>) -> Result<(), Span> {
        match (culprit, bytes.get(self.seg_start..end)) {
            (Some(name), Some(seg)) if is_dot_segment(seg) => Err(name),
            _ => Ok(()),
        }
    }
}

impl UriTemplate {
    /// Parses `template`.
    ///
    /// # Errors
    ///
    /// Fails with [`TemplateErrorKind::Syntax`], whose `position` is the byte offset of the
    /// offending character, for an unclosed `{`, a stray `}`, an empty expression, a bad
    /// variable name, a prefix outside `1..=9999` or combined with `*`, or an operator
    /// reserved for future use (`=`, `,`, `!`, `@`, `|`).
    pub fn parse(template: &str) -> Result<UriTemplate, Error> {
        let bytes = template.as_bytes();
        let mut parts = Vec::new();
        let mut names: Vec<Span> = Vec::new();
        let mut var_count = 0;
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'{' => {
                    let (expr, next) = parse_expr(template, i)?;
                    for var in &expr.vars {
                        let name = &template[var.name.start..var.name.end];
                        if !names.iter().any(|n| &template[n.start..n.end] == name) {
                            names.push(var.name);
                        }
                    }
                    var_count += expr.vars.len();
                    parts.push(Part::Expr(expr));
                    i = next;
                }
                b'}' => {
                    return Err(syntax(
                        template,
                        i,
                        "`}` without a matching `{` (write `%7D` for a literal brace)",
                    ))
                }
                _ => {
                    let start = i;
                    while i < bytes.len() && !matches!(bytes[i], b'{' | b'}') {
                        i += 1;
                    }
                    // RFC 6570 §3.1: characters allowed anywhere in a URI are copied,
                    // anything else (space, `"`, non-ASCII...) is percent-encoded.
                    let mut text = String::with_capacity(i - start);
                    encode(&mut text, &template[start..i], true);
                    parts.push(Part::Literal(text));
                }
            }
        }
        Ok(UriTemplate {
            source: template.to_owned(),
            parts,
            names,
            size_hint: template.len() + 24 * var_count,
        })
    }

    /// The template text, as given to [`UriTemplate::parse`].
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The variable names, in order of first appearance, each once.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(|n| &self.source[n.start..n.end])
    }

    /// Expands the template with `vars` per RFC 6570.
    ///
    /// # Errors
    ///
    /// Fails with [`TemplateErrorKind::MissingVariable`] when a variable of a path-forming
    /// expression (no operator, `+`, `.` or `/`) is not a key of `vars` (a key holding
    /// `null` is simply undefined), and with [`TemplateErrorKind::InvalidValue`] for a
    /// prefix modifier on a list or object, or a list or object holding a list, an object
    /// or `null`.
    pub fn expand(&self, vars: &Map<String, Value>) -> Result<String, Error> {
        self.expand_with(vars, false)
    }

    /// [`UriTemplate::expand`] for a request path: in the path part of the template (before
    /// the first `?` or `#` and before any `{?..}`, `{&..}` or `{#..}`), a value of a
    /// path-forming expression must not be `null`, empty or an empty list/object (it would
    /// leave an empty segment), and no value may make a `.` or `..` segment.
    pub(crate) fn expand_path(&self, vars: &Map<String, Value>) -> Result<String, Error> {
        self.expand_with(vars, true)
    }

    fn expand_with(&self, vars: &Map<String, Value>, strict: bool) -> Result<String, Error> {
        let mut out = String::with_capacity(self.size_hint);
        let mut guard = PathGuard {
            active: strict,
            seg_start: 0,
            culprit: None,
        };
        for part in &self.parts {
            match part {
                Part::Literal(text) => {
                    let from = out.len();
                    out.push_str(text);
                    if guard.active {
                        guard
                            .scan(&out, from, None)
                            .map_err(|name| self.dot_segment_error(name))?;
                    }
                }
                Part::Expr(expr) => {
                    if expr.op.ends_path() {
                        guard
                            .finish(&out)
                            .map_err(|name| self.dot_segment_error(name))?;
                    }
                    self.expand_expr(expr, vars, &mut out, &mut guard)?;
                }
            }
        }
        guard
            .finish(&out)
            .map_err(|name| self.dot_segment_error(name))?;
        Ok(out)
    }

    fn expand_expr(
        &self,
        expr: &Expr,
        vars: &Map<String, Value>,
        out: &mut String,
        guard: &mut PathGuard,
    ) -> Result<(), Error> {
        let spec = expr.op.spec();
        let mut first = true;
        for var in &expr.vars {
            let name = &self.source[var.name.start..var.name.end];
            let value = match vars.get(name) {
                Some(value) => value,
                None if expr.op.forms_path() => {
                    return Err(self.error(TemplateErrorKind::MissingVariable {
                        name: name.to_owned(),
                    }))
                }
                None => continue,
            };
            let strict = guard.active && expr.op.forms_path();
            let defined = match value {
                Value::Null => false,
                Value::Array(items) => !items.is_empty(),
                Value::Object(entries) => !entries.is_empty(),
                _ => true,
            };
            if !defined {
                if strict {
                    let reason = if value.is_null() {
                        NULL_REASON
                    } else {
                        "it is an empty list or object: it would leave an empty path segment; \
                         pass at least one item"
                    };
                    return Err(self.invalid(name, reason.to_owned()));
                }
                continue;
            }
            let max = match var.modifier {
                Modifier::Prefix(n) => Some(n),
                _ => None,
            };
            let from = out.len();
            out.push_str(if first { spec.first } else { spec.sep });
            first = false;
            match value {
                Value::Array(items) => {
                    if max.is_some() {
                        return Err(self.invalid(name, prefix_on_composite("a list")));
                    }
                    let explode = var.modifier == Modifier::Explode;
                    if spec.named && !explode {
                        out.push_str(name);
                        out.push('=');
                    }
                    for (index, item) in items.iter().enumerate() {
                        if index > 0 {
                            out.push_str(if explode { spec.sep } else { "," });
                        }
                        if strict {
                            self.check_segment_value(expr.op, name, item, Some(index))?;
                        }
                        if spec.named && explode {
                            out.push_str(name);
                            if is_empty_string(item) {
                                out.push_str(spec.ifemp);
                                continue;
                            }
                            out.push('=');
                        }
                        self.write_scalar(out, name, item, Some(index), &spec, None)?;
                    }
                }
                Value::Object(entries) => {
                    if max.is_some() {
                        return Err(self.invalid(name, prefix_on_composite("an object")));
                    }
                    let explode = var.modifier == Modifier::Explode;
                    if spec.named && !explode {
                        out.push_str(name);
                        out.push('=');
                    }
                    for (index, (key, item)) in entries.iter().enumerate() {
                        if index > 0 {
                            out.push_str(if explode { spec.sep } else { "," });
                        }
                        encode(out, key, spec.allow_reserved);
                        if explode {
                            if spec.named && is_empty_string(item) {
                                out.push_str(spec.ifemp);
                                continue;
                            }
                            out.push('=');
                        } else {
                            out.push(',');
                        }
                        self.write_scalar(out, name, item, Some(index), &spec, None)?;
                    }
                }
                scalar => {
                    if strict {
                        self.check_segment_value(expr.op, name, scalar, None)?;
                    }
                    if spec.named {
                        out.push_str(name);
                    }
                    if spec.named && is_empty_string(scalar) {
                        out.push_str(spec.ifemp);
                    } else {
                        if spec.named {
                            out.push('=');
                        }
                        self.write_scalar(out, name, scalar, None, &spec, max)?;
                    }
                }
            }
            if guard.active {
                guard
                    .scan(out, from, Some(var.name))
                    .map_err(|name| self.dot_segment_error(name))?;
            }
        }
        Ok(())
    }

    /// Refuses a value that would leave an empty segment or be a dot-segment by itself.
    /// (Prefixes cannot create either: `:N` keeps at least one character.)
    fn check_segment_value(
        &self,
        op: Op,
        name: &str,
        value: &Value,
        index: Option<usize>,
    ) -> Result<(), Error> {
        let Value::String(s) = value else {
            return Ok(());
        };
        let what = match index {
            Some(i) => format!("list item {i} "),
            None => String::new(),
        };
        if s.is_empty() {
            return Err(self.invalid(
                name,
                format!(
                    "{what}{}",
                    if what.is_empty() {
                        EMPTY_REASON
                    } else {
                        "is empty: it would leave an empty path segment; pass non-empty items"
                    }
                ),
            ));
        }
        if op.makes_segment() && (s == "." || s == "..") {
            return Err(self.invalid(
                name,
                format!(
                    "{what}is `{s}`: a dot-segment that would change the path; \
                     pass the real identifier"
                ),
            ));
        }
        Ok(())
    }

    fn write_scalar(
        &self,
        out: &mut String,
        name: &str,
        value: &Value,
        index: Option<usize>,
        spec: &OpSpec,
        max: Option<usize>,
    ) -> Result<(), Error> {
        match value {
            Value::String(s) => encode(out, prefix(s, max), spec.allow_reserved),
            Value::Bool(b) => encode(
                out,
                prefix(if *b { "true" } else { "false" }, max),
                spec.allow_reserved,
            ),
            Value::Number(n) => {
                let mut writer = EncodeWriter {
                    out,
                    allow_reserved: spec.allow_reserved,
                    remaining: max.unwrap_or(usize::MAX),
                };
                if fmt::write(&mut writer, format_args!("{n}")).is_err() {
                    return Err(self.invalid(name, "the number could not be formatted".to_owned()));
                }
            }
            Value::Null | Value::Array(_) | Value::Object(_) => {
                let kind = match value {
                    Value::Null => "null",
                    Value::Array(_) => "a list",
                    _ => "an object",
                };
                let what = match index {
                    Some(i) => format!("item {i}"),
                    None => "it".to_owned(),
                };
                return Err(self.invalid(
                    name,
                    format!(
                        "{what} is {kind}, but list items and object values must be \
                         strings, numbers or booleans"
                    ),
                ));
            }
        }
        Ok(())
    }

    fn error(&self, kind: TemplateErrorKind) -> Error {
        Error::template(&self.source, kind)
    }

    fn invalid(&self, name: &str, reason: String) -> Error {
        self.error(TemplateErrorKind::InvalidValue {
            name: name.to_owned(),
            reason,
        })
    }

    fn dot_segment_error(&self, name: Span) -> Error {
        self.invalid(
            &self.source[name.start..name.end],
            "it completes a `.` or `..` path segment, which would change the path; \
             pass the real identifier"
                .to_owned(),
        )
    }
}

fn is_empty_string(value: &Value) -> bool {
    matches!(value, Value::String(s) if s.is_empty())
}

fn prefix_on_composite(kind: &str) -> String {
    format!(
        "it is {kind}, and a prefix modifier `:N` applies to strings only; \
         drop the `:N` or pass a string"
    )
}

fn syntax(template: &str, position: usize, message: impl Into<String>) -> Error {
    Error::template(
        template,
        TemplateErrorKind::Syntax {
            position,
            message: message.into(),
        },
    )
}

/// Describes the character at `i` for an error message (`end of template` past the end).
fn found(template: &str, i: usize) -> String {
    match template.get(i..).and_then(|rest| rest.chars().next()) {
        Some(c) => format!("found `{c}`"),
        None => "found the end of the template".to_owned(),
    }
}

/// The byte length of the `varchar` at `i` (ALPHA / DIGIT / `_` / pct-encoded), if any.
fn varchar_len(bytes: &[u8], i: usize) -> Option<usize> {
    match bytes.get(i) {
        Some(b) if b.is_ascii_alphanumeric() || *b == b'_' => Some(1),
        Some(b'%') if is_triplet(bytes, i) => Some(3),
        _ => None,
    }
}

/// Parses the expression whose `{` is at `open`; returns it and the index after its `}`.
fn parse_expr(template: &str, open: usize) -> Result<(Expr, usize), Error> {
    let bytes = template.as_bytes();
    let unclosed = || {
        syntax(
            template,
            open,
            "this `{` is never closed: expected `}` before the end of the template",
        )
    };
    let mut i = open + 1;
    let op = match bytes.get(i) {
        None => return Err(unclosed()),
        Some(&b) => match Op::from_byte(b) {
            Some(op) => {
                i += 1;
                op
            }
            None if matches!(b, b'=' | b',' | b'!' | b'@' | b'|') => {
                return Err(syntax(
                    template,
                    i,
                    format!(
                        "operator `{}` is reserved for future extensions; \
                         use one of `+ # . / ; ? &` or none",
                        char::from(b)
                    ),
                ))
            }
            None => Op::Simple,
        },
    };
    let mut vars = Vec::new();
    loop {
        let start = i;
        loop {
            match varchar_len(bytes, i) {
                Some(n) => i += n,
                None => {
                    let message = match bytes.get(i) {
                        None => return Err(unclosed()),
                        Some(b'%') => {
                            "`%` in a variable name must start a percent-encoded triplet like `%20`"
                                .to_owned()
                        }
                        Some(_) if i == start => format!(
                            "expected a variable name (letters, digits, `_` or `%XX`), {}",
                            found(template, i)
                        ),
                        Some(_) => format!(
                            "expected a letter, digit, `_` or `%XX` after `.` in a variable name, {}",
                            found(template, i)
                        ),
                    };
                    return Err(syntax(template, i, message));
                }
            }
            while let Some(n) = varchar_len(bytes, i) {
                i += n;
            }
            if bytes.get(i) == Some(&b'.') {
                i += 1;
            } else {
                break;
            }
        }
        let name = Span { start, end: i };
        let modifier = match bytes.get(i) {
            Some(b'*') => {
                i += 1;
                Modifier::Explode
            }
            Some(b':') => {
                i += 1;
                let digits = i;
                while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                if i == digits || bytes[digits] == b'0' {
                    return Err(syntax(
                        template,
                        digits,
                        format!(
                            "expected a prefix length from 1 to {MAX_PREFIX} after `:` \
                             (no leading zero), {}",
                            found(template, digits)
                        ),
                    ));
                }
                if i - digits > 4 {
                    return Err(syntax(
                        template,
                        digits + 4,
                        format!("a prefix length is at most {MAX_PREFIX}: four digits"),
                    ));
                }
                let length = bytes[digits..i]
                    .iter()
                    .fold(0, |n, d| n * 10 + usize::from(d - b'0'));
                if bytes.get(i) == Some(&b'*') {
                    return Err(syntax(
                        template,
                        i,
                        "a variable cannot have both a prefix `:N` and explode `*`",
                    ));
                }
                Modifier::Prefix(length)
            }
            _ => Modifier::None,
        };
        vars.push(VarSpec { name, modifier });
        match bytes.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => return Ok((Expr { op, vars }, i + 1)),
            None => return Err(unclosed()),
            Some(_) => {
                let expected = if modifier == Modifier::None {
                    "expected `,`, `}`, `:N` or `*`"
                } else {
                    "expected `,` or `}`"
                };
                return Err(syntax(
                    template,
                    i,
                    format!("{expected}, {}", found(template, i)),
                ));
            }
        }
    }
}

impl fmt::Display for UriTemplate {
    /// Writes the template's source text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl FromStr for UriTemplate {
    type Err = Error;

    /// Same as [`UriTemplate::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UriTemplate::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    fn path(template: &str, value: Value) -> Result<String, Error> {
        UriTemplate::parse(template)?.expand_path(&vars(value))
    }

    fn invalid_name(result: Result<String, Error>) -> Option<String> {
        match result {
            Err(Error::Template {
                kind: TemplateErrorKind::InvalidValue { name, .. },
                ..
            }) => Some(name),
            _ => None,
        }
    }

    const ORDER: &str = "v3/payscore/serviceorder/{out_order_no}/sync";

    #[test]
    fn hostile_values_stay_inside_their_segment() {
        for value in [
            "a/b",
            "../../v3/refund",
            "x?y=1",
            "x#frag",
            "..%2F..",
            "%2F",
            "a b",
            "订单",
            "./.",
            "%2E%2E",
            "...",
            "\u{0}\n",
        ] {
            let out = path(ORDER, json!({ "out_order_no": value }))
                .unwrap_or_else(|e| panic!("{value:?}: {e}"));
            assert!(out.starts_with("v3/payscore/serviceorder/"), "{out}");
            assert!(out.ends_with("/sync"), "{out}");
            assert_eq!(out.matches('/').count(), 4, "{out}");
            assert!(!out.contains(['?', '#', ' ']), "{out}");
        }
        assert_eq!(
            path(ORDER, json!({ "out_order_no": "订单 1/2" }))
                .ok()
                .as_deref(),
            Some("v3/payscore/serviceorder/%E8%AE%A2%E5%8D%95%201%2F2/sync")
        );
        assert_eq!(
            path(ORDER, json!({ "out_order_no": "%2F" }))
                .ok()
                .as_deref(),
            Some("v3/payscore/serviceorder/%252F/sync")
        );
    }

    #[test]
    fn dot_segments_are_refused() {
        for value in [".", ".."] {
            let name = invalid_name(path(ORDER, json!({ "out_order_no": value })));
            assert_eq!(name.as_deref(), Some("out_order_no"), "{value}");
            let name = invalid_name(path("v3{/a,b}", json!({ "a": "x", "b": value })));
            assert_eq!(name.as_deref(), Some("b"), "{value}");
            let name = invalid_name(path("v3{/list*}", json!({ "list": ["x", value] })));
            assert_eq!(name.as_deref(), Some("list"), "{value}");
        }
        // Assembled from two values, or through reserved expansion.
        let name = invalid_name(path("v3/{a}{b}/x", json!({ "a": ".", "b": "." })));
        assert_eq!(name.as_deref(), Some("a"));
        let name = invalid_name(path("v3/{a}{.b}/x", json!({ "a": "x", "b": "" })));
        assert_eq!(name.as_deref(), Some("b"));
        let name = invalid_name(path("v3/{.b}/x", json!({ "b": "." })));
        assert_eq!(name.as_deref(), Some("b"));
        let name = invalid_name(path("v3/.{b}/x", json!({ "b": "%2E" })));
        assert_eq!(name, None);
        let name = invalid_name(path("v3/{+a}/x", json!({ "a": "y/../z" })));
        assert_eq!(name.as_deref(), Some("a"));
        let name = invalid_name(path("v3/{+a}", json!({ "a": "%2e%2E" })));
        assert_eq!(name.as_deref(), Some("a"));
        // Dots inside a longer segment, literal dot-segments and the query are fine.
        assert_eq!(
            path("v3/{a}/x", json!({ "a": "..." })).ok().as_deref(),
            Some("v3/.../x")
        );
        assert_eq!(
            path("v3/../{a}", json!({ "a": "x" })).ok().as_deref(),
            Some("v3/../x")
        );
        assert_eq!(
            path("v3/x{?a}", json!({ "a": ".." })).ok().as_deref(),
            Some("v3/x?a=..")
        );
        assert_eq!(
            path("v3/x?a={a}", json!({ "a": ".." })).ok().as_deref(),
            Some("v3/x?a=..")
        );
        // Plain expansion keeps RFC semantics.
        let t = UriTemplate::parse(ORDER).ok();
        let out = t.and_then(|t| t.expand(&vars(json!({ "out_order_no": ".." }))).ok());
        assert_eq!(out.as_deref(), Some("v3/payscore/serviceorder/../sync"));
    }

    #[test]
    fn empty_values_are_refused_in_the_path() {
        for value in [json!(""), json!(null), json!([]), json!({})] {
            let name = invalid_name(path(ORDER, json!({ "out_order_no": value.clone() })));
            assert_eq!(name.as_deref(), Some("out_order_no"), "{value}");
            for template in ["v3{/x}", "v3/{+x}", "v3/a{.x}"] {
                let name = invalid_name(path(template, json!({ "x": value.clone() })));
                assert_eq!(name.as_deref(), Some("x"), "{template} {value}");
            }
        }
        let name = invalid_name(path("v3{/list*}", json!({ "list": ["a", ""] })));
        assert_eq!(name.as_deref(), Some("list"));
        match path(ORDER, json!({ "out_order_no": "" })) {
            Err(e) => assert!(e.to_string().contains("empty path segment"), "{e}"),
            Ok(out) => panic!("expanded to {out}"),
        }
        // In the query, empty and null keep their RFC meaning.
        assert_eq!(
            path("v3/x{?a,b}", json!({ "a": "", "b": null }))
                .ok()
                .as_deref(),
            Some("v3/x?a=")
        );
        assert_eq!(
            path("v3/x?q={a}", json!({ "a": "" })).ok().as_deref(),
            Some("v3/x?q=")
        );
        assert_eq!(
            path("v3/x{#a}", json!({ "a": null })).ok().as_deref(),
            Some("v3/x")
        );
    }

    #[test]
    fn request_mode_still_requires_path_variables() {
        match path(ORDER, json!({})) {
            Err(Error::Template {
                kind: TemplateErrorKind::MissingVariable { name },
                ..
            }) => assert_eq!(name, "out_order_no"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn query_template_in_request_mode() {
        let t = "v3/bill/tradebill{?bill_date,bill_type}";
        assert_eq!(
            path(t, json!({ "bill_date": "2019-06-11", "bill_type": "ALL" }))
                .ok()
                .as_deref(),
            Some("v3/bill/tradebill?bill_date=2019-06-11&bill_type=ALL")
        );
        assert_eq!(
            path(t, json!({ "bill_date": "2019-06-11" }))
                .ok()
                .as_deref(),
            Some("v3/bill/tradebill?bill_date=2019-06-11")
        );
        assert_eq!(
            path(t, json!({})).ok().as_deref(),
            Some("v3/bill/tradebill")
        );
    }

    #[test]
    fn random_values_never_escape_their_segment() {
        const PIECES: &[&str] = &[
            ".", "..", "/", "?", "#", "%", "%2F", "%2E", "%2e", " ", "a", "订", "\\", "&", "=",
        ];
        let Ok(t) = UriTemplate::parse(ORDER) else {
            panic!("template does not parse");
        };
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..5_000 {
            let mut value = String::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut bits = state;
            for _ in 0..bits % 5 {
                bits /= 5;
                value.push_str(PIECES[(bits % PIECES.len() as u64) as usize]);
            }
            match t.expand_path(&vars(json!({ "out_order_no": value.clone() }))) {
                Ok(out) => {
                    assert!(out.starts_with("v3/payscore/serviceorder/"), "{out}");
                    assert!(out.ends_with("/sync"), "{out}");
                    assert_eq!(out.matches('/').count(), 4, "{out}");
                    assert!(!out.contains(['?', '#']), "{out}");
                }
                Err(_) => assert!(matches!(value.as_str(), "" | "." | ".."), "{value:?}"),
            }
        }
    }

    #[test]
    fn request_mode_never_panics_on_garbage() {
        const ALPHABET: &[&str] = &[
            "{", "}", "+", "#", ".", "/", "?", "&", ";", "*", ":", "1", ",", "a", "b", "%2E", "..",
            "x",
        ];
        let values = vars(json!({
            "a": "..", "b": "", "x": ".", "a.b": ["..", ""], "b.a": { ".": "." }, "ab": null,
        }));
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut bits = state;
            let mut template = String::new();
            for _ in 0..bits % 12 {
                bits /= 12;
                template.push_str(ALPHABET[(bits % ALPHABET.len() as u64) as usize]);
            }
            if let Ok(t) = UriTemplate::parse(&template) {
                let _ = t.expand_path(&values);
                let _ = t.expand_path(&Map::new());
            }
        }
    }

    #[test]
    fn dot_segment_detection() {
        for seg in [".", "..", "%2e", "%2E.", ".%2E", "%2e%2e"] {
            assert!(is_dot_segment(seg.as_bytes()), "{seg}");
        }
        for seg in ["", "...", "a", ".a", "%2F", "%2", "%2e%2e%2e", "%"] {
            assert!(!is_dot_segment(seg.as_bytes()), "{seg}");
        }
    }
}
