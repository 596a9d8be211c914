//! Expansion: values into a pre-sized string, with the path guard of request mode.

use std::fmt;

use serde_json::{Map, Value};

use super::encode::{encode, is_triplet};
use super::{Expr, Modifier, Op, OpSpec, Part, Span, UriTemplate};
use crate::error::{Error, TemplateErrorKind};

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
pub(super) fn is_dot_segment(seg: &[u8]) -> bool {
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
    pub(super) fn expand_with(
        &self,
        vars: &Map<String, Value>,
        strict: bool,
    ) -> Result<String, Error> {
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
