//! Behaviour of `UriTemplate` beyond the RFC conformance suite: the absent-variable rule,
//! error positions and messages, and robustness on garbage input.

use serde_json::{json, Map, Value};
use wechatpay::{Error, TemplateErrorKind, UriTemplate};

fn vars(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn expand(template: &str, value: Value) -> Result<String, Error> {
    UriTemplate::parse(template)?.expand(&vars(value))
}

fn kind(result: Result<String, Error>) -> Option<TemplateErrorKind> {
    match result {
        Err(Error::Template { kind, .. }) => Some(kind),
        _ => None,
    }
}

fn syntax_position(template: &str) -> Option<usize> {
    match UriTemplate::parse(template) {
        Err(Error::Template {
            kind: TemplateErrorKind::Syntax { position, .. },
            ..
        }) => Some(position),
        _ => None,
    }
}

#[test]
fn absent_path_variable_is_an_error_naming_it_and_the_template() {
    let template = "v3/payscore/serviceorder/{out_order_no}/sync";
    let err = match expand(template, json!({ "other": "x" })) {
        Err(e) => e,
        Ok(out) => panic!("expanded to {out}"),
    };
    match &err {
        Error::Template {
            template: t,
            kind: TemplateErrorKind::MissingVariable { name },
        } => {
            assert_eq!(t, template);
            assert_eq!(name, "out_order_no");
        }
        other => panic!("{other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains("out_order_no"), "{message}");
    assert!(message.contains(template), "{message}");

    for t in ["{+x}", "x{.x}", "{/x}", "{a,x}"] {
        assert_eq!(
            kind(expand(t, json!({ "a": "1" }))),
            Some(TemplateErrorKind::MissingVariable {
                name: "x".to_owned()
            }),
            "{t}"
        );
    }
}

#[test]
fn absent_query_variable_is_omitted() {
    for (t, want) in [
        ("v3/x{?a,b}", "v3/x?b=2"),
        ("v3/x?b=2{&a}", "v3/x?b=2"),
        ("v3/x{;a,b}", "v3/x;b=2"),
        ("v3/x{#a,b}", "v3/x#2"),
    ] {
        assert_eq!(
            expand(t, json!({ "b": "2" })).ok().as_deref(),
            Some(want),
            "{t}"
        );
    }
}

#[test]
fn null_is_undefined_not_missing() {
    assert_eq!(
        expand("O{undef}X", json!({ "undef": null }))
            .ok()
            .as_deref(),
        Some("OX")
    );
    assert_eq!(
        expand("v3{/a,b}", json!({ "a": "x", "b": null }))
            .ok()
            .as_deref(),
        Some("v3/x")
    );
    assert!(matches!(
        kind(expand("O{undef}X", json!({}))),
        Some(TemplateErrorKind::MissingVariable { .. })
    ));
}

#[test]
fn scalar_kinds_and_encoding() {
    let v = json!({ "n": 1, "f": 1.5, "neg": -3, "t": true, "no": false, "s": "订单 a/b?c#d%" });
    let cases = [
        ("{n},{f},{neg}", "1,1.5,-3"),
        ("{t}/{no}", "true/false"),
        ("{t:2}{neg:1}", "tr-"),
        ("{s}", "%E8%AE%A2%E5%8D%95%20a%2Fb%3Fc%23d%25"),
        ("{+s}", "%E8%AE%A2%E5%8D%95%20a/b?c#d%25"),
        ("{s:1}", "%E8%AE%A2"),
        ("a b\"<>{n}", "a%20b%22%3C%3E1"),
    ];
    for (t, want) in cases {
        assert_eq!(expand(t, v.clone()).ok().as_deref(), Some(want), "{t}");
    }
}

#[test]
fn invalid_values() {
    for (t, v) in [
        ("{x:1}", json!({ "x": ["a"] })),
        ("{x:1}", json!({ "x": { "k": "v" } })),
        ("{x}", json!({ "x": ["a", ["b"]] })),
        ("{x}", json!({ "x": [null] })),
        ("{x*}", json!({ "x": { "k": { "a": 1 } } })),
    ] {
        assert!(
            matches!(
                kind(expand(t, v.clone())),
                Some(TemplateErrorKind::InvalidValue { ref name, .. }) if name == "x"
            ),
            "{t} {v}"
        );
    }
}

#[test]
fn syntax_error_positions() {
    let cases: [(&str, usize); 17] = [
        ("v3/{a", 3),
        ("v3/a}", 4),
        ("v3/{}", 4),
        ("v3/{+}", 5),
        ("{a b}", 2),
        ("x{=a}", 2),
        ("{,a}", 1),
        ("{!a}", 1),
        ("{@a}", 1),
        ("{|a}", 1),
        ("{a:0}", 3),
        ("{a:}", 3),
        ("{a:10000}", 7),
        ("{a:2*}", 4),
        ("{a.}", 3),
        ("{%2x}", 1),
        ("{订单}", 1),
    ];
    for (t, position) in cases {
        assert_eq!(syntax_position(t), Some(position), "{t}");
    }
    match UriTemplate::parse("v3/{a:0}") {
        Err(e) => {
            let message = e.to_string();
            assert!(message.contains("v3/{a:0}"), "{message}");
            assert!(message.contains("byte 6"), "{message}");
            assert!(message.contains("1 to 9999"), "{message}");
        }
        Ok(t) => panic!("parsed {t}"),
    }
}

#[test]
fn display_from_str_and_variables() {
    let source = "v3/{mchid}/x{/a,mchid}{?b,a*,c:3}{&b}";
    let t: UriTemplate = match source.parse() {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(t.to_string(), source);
    assert_eq!(t.as_str(), source);
    assert_eq!(t.variables().collect::<Vec<_>>(), ["mchid", "a", "b", "c"]);
    assert_eq!(UriTemplate::parse(source).ok(), Some(t.clone()));
    assert!("{".parse::<UriTemplate>().is_err());
    let literal = UriTemplate::parse("v3/certificates").ok();
    assert_eq!(literal.as_ref().map(|t| t.variables().count()), Some(0));
    assert_eq!(
        literal.and_then(|t| t.expand(&Map::new()).ok()).as_deref(),
        Some("v3/certificates")
    );
}

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn garbage_never_panics() {
    const ALPHABET: &[&str] = &[
        "{", "}", "+", "#", ".", "/", ";", "?", "&", "=", ",", "!", "@", "|", "*", ":", "%", "2",
        "0", "9", "F", "a", "b", "x", "_", " ", "..", "%2E", "%2F", "订", "\u{0}", "é", "10000",
        "9999",
    ];
    let values = vars(json!({
        "a": "..", "b": "", "x": null, "_": ["a", "..", ""], "F": { "k": ".", "": "" },
        "9": 1.5, "2": true, "0": [], "a.b": {}, "b.a": [[1]], "%2F": "/",
    }));
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..20_000 {
        let mut template = String::new();
        if round % 2 == 0 {
            let len = rng.below(24);
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            template.push_str(&String::from_utf8_lossy(&bytes));
        } else {
            for _ in 0..rng.below(16) {
                template.push_str(ALPHABET[rng.below(ALPHABET.len())]);
            }
        }
        if let Ok(t) = UriTemplate::parse(&template) {
            let _ = t.expand(&values);
            let _ = t.expand(&Map::new());
            let _ = t.to_string();
            let _ = t.variables().count();
        }
    }
}
