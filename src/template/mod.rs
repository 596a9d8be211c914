//! RFC 6570 URI templates, levels 1-4.
//!
//! A template is parsed once into literal and expression parts; every request then expands
//! it into one pre-sized `String`. Values are percent-encoded by table lookup, so a value
//! can never introduce a `/`, `?` or `#` of its own (except through `{+var}` and `{#var}`,
//! which the RFC defines to pass reserved characters).

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::error::Error;
#[cfg(doc)]
use crate::error::TemplateErrorKind;

mod encode;
mod expand;
mod parse;

pub(crate) use encode::encode_unreserved;

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
        parse::parse(template)
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
    use super::expand::is_dot_segment;
    use super::*;
    use crate::error::TemplateErrorKind;
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
