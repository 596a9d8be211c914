//! JSON checked with serde_json, then re-spaced token by token, so key order and number
//! spelling stay exactly as given (a `serde_json::Value` would sort the keys).

use serde::de::IgnoredAny;

/// Where a text is not JSON: serde_json's message, line and column (1-based).
#[derive(Debug)]
pub struct Invalid {
    /// What serde_json expected.
    pub message: String,
    /// The line of the problem.
    pub line: usize,
    /// The column of the problem.
    pub column: usize,
}

/// Checks that `text` is one JSON value.
pub fn check(text: &[u8]) -> Result<(), Invalid> {
    serde_json::from_slice::<IgnoredAny>(text)
        .map(|_| ())
        .map_err(|e| {
            let full = e.to_string();
            let position = format!(" at line {} column {}", e.line(), e.column());
            Invalid {
                message: full.strip_suffix(&position).unwrap_or(&full).to_owned(),
                line: e.line(),
                column: e.column(),
            }
        })
}

/// Valid JSON without insignificant whitespace (what is sent and signed).
pub fn compact(valid: &str) -> String {
    respace(valid, false)
}

/// Valid JSON indented by two spaces, as `serde_json::to_string_pretty` lays it out.
pub fn pretty(valid: &str) -> String {
    respace(valid, true)
}

fn respace(valid: &str, pretty: bool) -> String {
    let mut out = String::with_capacity(valid.len() * if pretty { 2 } else { 1 });
    let mut depth = 0usize;
    let mut chars = valid.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        if pretty {
            out.push('\n');
            for _ in 0..depth {
                out.push_str("  ");
            }
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                out.push('"');
                while let Some(c) = chars.next() {
                    out.push(c);
                    match c {
                        '\\' => out.extend(chars.next()),
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '{' | '[' => {
                out.push(c);
                while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
                let close = if c == '{' { '}' } else { ']' };
                if let Some(close) = chars.next_if_eq(&close) {
                    out.push(close);
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(',');
                newline(&mut out, depth);
            }
            ':' => out.push_str(if pretty { ": " } else { ":" }),
            c if c.is_ascii_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#" { "b" : [1, 2.50, {}, [ ]], "a\"{": "x, y: z", "e": {"k": null} } "#;

    #[test]
    fn pretty_matches_serde_json_layout_but_keeps_order() {
        let expected = "{\n  \"b\": [\n    1,\n    2.50,\n    {},\n    []\n  ],\n  \"a\\\"{\": \"x, y: z\",\n  \"e\": {\n    \"k\": null\n  }\n}";
        assert_eq!(pretty(SAMPLE), expected);
    }

    #[test]
    fn compact_drops_only_insignificant_whitespace() {
        assert_eq!(
            compact(SAMPLE),
            r#"{"b":[1,2.50,{},[]],"a\"{":"x, y: z","e":{"k":null}}"#
        );
    }

    #[test]
    fn invalid_json_names_line_and_column() {
        let invalid = check(b"{\n  \"a\": 1,\n}").unwrap_err();
        assert_eq!((invalid.line, invalid.column), (3, 1));
        assert!(!invalid.message.contains("line"), "{}", invalid.message);
    }
}
