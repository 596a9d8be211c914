//! Parsing: template text into literal and expression parts.

use super::encode::{encode, is_triplet};
use super::{Expr, Modifier, Op, Part, Span, UriTemplate, VarSpec};
use crate::error::{Error, TemplateErrorKind};

const MAX_PREFIX: usize = 9999;

pub(super) fn parse(template: &str) -> Result<UriTemplate, Error> {
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
