//! The closest known templates for an unknown path.
//!
//! A path and a template are aligned segment by segment (an edit distance over segments):
//! a dropped or an extra segment costs one, and two segments cost by how alike they are:
//! nothing when equal, a little for case and `_`/`-` confusions (`payafterOrders`,
//! `payafterorders` vs `payafter-orders`) or singular/plural (`serviceorders`), more with
//! each character edit. A concrete value (`4200000001`) in a placeholder's place is nearly
//! free; a forgotten placeholder costs less than a forgotten literal. Costs are in
//! hundredths of a segment.
//!
//! The distinct templates, their segments as ids, and each distinct literal segment's
//! normal forms are prepared once; a call measures each of its segments against each
//! distinct literal once, then aligns against every template.

use std::cmp::Ordering;
use std::fmt;
use std::sync::OnceLock;

use http::Method;

use super::lookup::{is_placeholder, path_part};
use super::table::{endpoints, placeholder_name, Endpoint};

const EQUAL: u16 = 0;
const CASE_OR_SEPARATOR: u16 = 10;
const SINGULAR_PLURAL: u16 = 15;
const VALUE_FOR_PLACEHOLDER: u16 = 5;
const WORD_FOR_PLACEHOLDER: u16 = 30;
const PLACEHOLDER_FOR_LITERAL: u16 = 90;
const DROPPED_PLACEHOLDER: u16 = 60;
const ONE_SEGMENT: u16 = 100;
/// Another method's template: still shown, after the ones with the method.
const OTHER_METHOD: u16 = 30;
/// Not measured yet (a memo cell).
const UNKNOWN: u16 = u16::MAX;
/// Paths longer than this get no suggestions (no template comes close).
const MAX_SEGMENTS: usize = 24;

/// A known template close to an unknown path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suggestion {
    template: &'static str,
    endpoints: &'static [Endpoint],
    distance: u16,
}

impl Suggestion {
    /// The template, e.g. `v3/payscore/serviceorder/{out_order_no}/sync`.
    pub fn template(&self) -> &'static str {
        self.template
    }

    /// The template's endpoints, one per method.
    pub fn endpoints(&self) -> &'static [Endpoint] {
        self.endpoints
    }

    /// How far the path is from the template, in hundredths of a segment (0: same shape).
    pub fn distance(&self) -> u16 {
        self.distance
    }
}

impl fmt::Display for Suggestion {
    /// `POST v3/payscore/serviceorder/{out_order_no}/sync` (methods joined by `|`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, endpoint) in self.endpoints.iter().enumerate() {
            if i > 0 {
                f.write_str("|")?;
            }
            f.write_str(endpoint.method().as_str())?;
        }
        write!(f, " {}", self.template)
    }
}

#[derive(Clone, Copy)]
enum Seg {
    Placeholder,
    Literal(u16),
}

struct Literal {
    text: &'static str,
    /// Lowercase, without `-` and `_`.
    norm: String,
}

struct Template {
    text: &'static str,
    segments: Vec<Seg>,
    /// The range of `endpoints()` with this template.
    start: usize,
    end: usize,
}

struct Index {
    literals: Vec<Literal>,
    templates: Vec<Template>,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut literals: Vec<Literal> = Vec::new();
        let mut ids: std::collections::HashMap<&'static str, u16> = Default::default();
        let mut templates: Vec<Template> = Vec::new();
        for (i, endpoint) in endpoints().iter().enumerate() {
            if let Some(last) = templates.last_mut() {
                if last.text == endpoint.template() {
                    last.end = i + 1;
                    continue;
                }
            }
            let segments = endpoint
                .template()
                .split('/')
                .map(|segment| {
                    if placeholder_name(segment).is_some() {
                        return Seg::Placeholder;
                    }
                    let id = *ids.entry(segment).or_insert_with(|| {
                        literals.push(Literal {
                            text: segment,
                            norm: normalize(segment),
                        });
                        (literals.len() - 1) as u16
                    });
                    Seg::Literal(id)
                })
                .collect();
            templates.push(Template {
                text: endpoint.template(),
                segments,
                start: i,
                end: i + 1,
            });
        }
        Index {
            literals,
            templates,
        }
    })
}

/// The closest templates to `path` (a template, or a concrete path with values), best
/// first, at most `limit`. With a method, templates that have it come before those that do
/// not. Templates more than half the path away are left out.
///
/// ```
/// use http::Method;
/// let near = wechatpay::catalog::suggest(Some(&Method::POST), "v3/payscore/payafterorders/{id}/sync", 3);
/// assert_eq!(near[0].template(), "v3/payscore/payafter-orders/{out_order_no}/sync");
/// assert_eq!(near[0].to_string(), "POST v3/payscore/payafter-orders/{out_order_no}/sync");
/// ```
pub fn suggest(method: Option<&Method>, path: &str, limit: usize) -> Vec<Suggestion> {
    let path = path_part(path);
    let input: Vec<&str> = path.split('/').collect();
    if input.len() > MAX_SEGMENTS || limit == 0 {
        return Vec::new();
    }
    let index = index();
    // What each input segment is, once; its distance to a literal is measured the first
    // time an alignment needs it (templates pruned by length never ask).
    let kinds: Vec<(bool, bool, String)> = input
        .iter()
        .map(|segment| {
            (
                is_placeholder(segment),
                looks_like_value(segment),
                normalize(segment),
            )
        })
        .collect();
    let width = index.literals.len();
    let literal_cost = std::cell::RefCell::new(vec![UNKNOWN; input.len() * width]);
    let substitute = |i: usize, seg: Seg| -> u16 {
        let (placeholder, value, ref norm) = kinds[i];
        match (seg, placeholder) {
            (Seg::Placeholder, true) => EQUAL,
            (Seg::Placeholder, false) if value => VALUE_FOR_PLACEHOLDER,
            (Seg::Placeholder, false) => WORD_FOR_PLACEHOLDER,
            (Seg::Literal(_), true) => PLACEHOLDER_FOR_LITERAL,
            (Seg::Literal(id), false) => {
                let mut memo = literal_cost.borrow_mut();
                let cell = &mut memo[i * width + id as usize];
                if *cell == UNKNOWN {
                    *cell = literal_distance(input[i], norm, &index.literals[id as usize]);
                }
                *cell
            }
        }
    };
    let budget = u32::from(ONE_SEGMENT) / 2;
    let mut row = Vec::with_capacity(MAX_SEGMENTS + 1);
    let mut scored: Vec<(u16, usize)> = Vec::new();
    for (t, template) in index.templates.iter().enumerate() {
        let longest = input.len().max(template.segments.len()) as u32;
        let limit_cost = budget * longest;
        // A length difference alone costs a segment each: skip hopeless templates early.
        let gap = input.len().abs_diff(template.segments.len()) as u32;
        if gap * u32::from(DROPPED_PLACEHOLDER) > limit_cost {
            continue;
        }
        let mut cost = u32::from(align(
            &template.segments,
            input.len(),
            &substitute,
            &mut row,
        ));
        if let Some(method) = method {
            let has = endpoints()[template.start..template.end]
                .iter()
                .any(|e| e.method() == method);
            if !has {
                cost += u32::from(OTHER_METHOD);
            }
        }
        if cost <= limit_cost {
            scored.push((cost.min(u32::from(u16::MAX)) as u16, t));
        }
    }
    let order = |a: &(u16, usize), b: &(u16, usize)| -> Ordering {
        let (ta, tb) = (&index.templates[a.1], &index.templates[b.1]);
        a.0.cmp(&b.0)
            .then(
                input
                    .len()
                    .abs_diff(ta.segments.len())
                    .cmp(&input.len().abs_diff(tb.segments.len())),
            )
            .then(ta.text.len().cmp(&tb.text.len()))
            .then(ta.text.cmp(tb.text))
    };
    if scored.len() > limit {
        scored.select_nth_unstable_by(limit - 1, order);
        scored.truncate(limit);
    }
    scored.sort_unstable_by(order);
    scored
        .into_iter()
        .map(|(distance, t)| {
            let template = &index.templates[t];
            Suggestion {
                template: template.text,
                endpoints: &endpoints()[template.start..template.end],
                distance,
            }
        })
        .collect()
}

/// The three closest templates to `path`, any method: for an unknown-path error, or a 404
/// from the platform.
///
/// ```
/// let near = wechatpay::catalog::suggestions_for("/v3/pay/transaction/id/4200000001?mchid=1");
/// assert_eq!(near[0].template(), "v3/pay/transactions/id/{transaction_id}");
/// ```
pub fn suggestions_for(path: &str) -> Vec<Suggestion> {
    suggest(None, path, 3)
}

/// Edit distance over segments: template segments down, input segments across.
fn align(
    template: &[Seg],
    input_len: usize,
    substitute: &dyn Fn(usize, Seg) -> u16,
    row: &mut Vec<u16>,
) -> u16 {
    row.clear();
    row.extend((0..=input_len).map(|j| j as u16 * ONE_SEGMENT));
    for seg in template {
        let dropped = match seg {
            Seg::Placeholder => DROPPED_PLACEHOLDER,
            Seg::Literal(_) => ONE_SEGMENT,
        };
        let mut diagonal = row[0];
        row[0] = row[0].saturating_add(dropped);
        for j in 1..=input_len {
            let above = row[j];
            let best = (diagonal.saturating_add(substitute(j - 1, *seg)))
                .min(above.saturating_add(dropped))
                .min(row[j - 1].saturating_add(ONE_SEGMENT));
            diagonal = above;
            row[j] = best;
        }
    }
    row[input_len]
}

/// Lowercase without `-` and `_`: the forms a case or separator slip leaves equal.
fn normalize(segment: &str) -> String {
    segment
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

fn singular(norm: &str) -> &str {
    norm.strip_suffix("es")
        .filter(|s| s.ends_with(['s', 'x', 'h']))
        .or_else(|| norm.strip_suffix('s'))
        .unwrap_or(norm)
}

fn literal_distance(segment: &str, norm: &str, literal: &Literal) -> u16 {
    if segment == literal.text {
        return EQUAL;
    }
    if norm == literal.norm {
        return CASE_OR_SEPARATOR;
    }
    if singular(norm) == singular(&literal.norm) {
        return SINGULAR_PLURAL;
    }
    let longest = norm.len().max(literal.norm.len());
    if longest == 0 || norm.len().abs_diff(literal.norm.len()) * 2 > longest {
        return ONE_SEGMENT;
    }
    let edits = levenshtein(norm.as_bytes(), literal.norm.as_bytes());
    let cost = 20 + edits * 80 / longest;
    cost.min(usize::from(ONE_SEGMENT)) as u16
}

/// A value rather than a word: has a digit, or is long, or has characters a path word
/// does not.
fn looks_like_value(segment: &str) -> bool {
    segment.len() >= 16
        || segment
            .bytes()
            .any(|b| !(b.is_ascii_lowercase() || b == b'-' || b == b'_'))
}

/// Character edits between two short byte strings (rows on the stack; path segments are
/// short, and longer ones are cut at 64 bytes, which only blunts the distance).
fn levenshtein(a: &[u8], b: &[u8]) -> usize {
    const MAX: usize = 64;
    let (a, b) = (&a[..a.len().min(MAX)], &b[..b.len().min(MAX)]);
    let mut previous = [0u8; MAX + 1];
    let mut current = [0u8; MAX + 1];
    for (j, cell) in previous.iter_mut().enumerate().take(b.len() + 1) {
        *cell = j as u8;
    }
    for (i, &ca) in a.iter().enumerate() {
        current[0] = i as u8 + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + u8::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    usize::from(previous[b.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYNC: &str = "v3/payscore/serviceorder/{out_order_no}/sync";

    fn first(path: &str) -> &'static str {
        suggestions_for(path)
            .first()
            .map(Suggestion::template)
            .unwrap_or_default()
    }

    #[test]
    fn typos_of_the_payscore_sync_path_suggest_it_first() {
        assert_eq!(first("v3/payscore/serviceorders/{out_order_no}/sync"), SYNC);
        assert_eq!(
            first("v3/payscore/payafterorders/{out_order_no}/sync"),
            "v3/payscore/payafter-orders/{out_order_no}/sync"
        );
        assert_eq!(first("v3/payscore/serviceorder/{out_order_No}/sync"), SYNC);
        assert_eq!(first("v3/payscore/serviceorder/out_order_No/sync"), SYNC);
        // A dropped segment: the product, the resource or the placeholder.
        assert_eq!(first("v3/serviceorder/{out_order_no}/sync"), SYNC);
        assert_eq!(first("v3/payscore/{out_order_no}/sync"), SYNC);
        assert_eq!(first("v3/payscore/serviceorder/sync"), SYNC);
        // An extra one.
        assert_eq!(
            first("v3/payscore/serviceorder/{out_order_no}/sync/now"),
            SYNC
        );
        // Case and separators, in a concrete path.
        assert_eq!(
            first("/v3/payscore/PayafterOrders/1234323JKHDFE1243252/sync"),
            "v3/payscore/payafter-orders/{out_order_no}/sync"
        );
    }

    #[test]
    fn the_method_breaks_ties_and_nonsense_gets_nothing() {
        let with_get = suggest(
            Some(&Method::GET),
            "v3/payscore/serviceorder/{out_order_no}",
            1,
        );
        assert_eq!(with_get[0].template(), "v3/payscore/serviceorder");
        assert!(suggestions_for("zz/qq/xx/yy/ww").is_empty());
        assert!(suggestions_for(&"a/".repeat(100)).is_empty());
        assert!(suggest(None, "v3/certificates", 0).is_empty());
    }

    #[test]
    fn distances_rank_the_kinds_of_slip() {
        let literal = |text: &'static str| Literal {
            text,
            norm: normalize(text),
        };
        let d = |a: &str, b: &'static str| literal_distance(a, &normalize(a), &literal(b));
        assert_eq!(d("sync", "sync"), EQUAL);
        assert_eq!(d("payafterOrders", "payafter-orders"), CASE_OR_SEPARATOR);
        assert_eq!(d("serviceorders", "serviceorder"), SINGULAR_PLURAL);
        assert!(d("servceorder", "serviceorder") < 40);
        assert_eq!(d("sync", "applyments"), ONE_SEGMENT);
        assert_eq!(levenshtein(b"kitten", b"sitting"), 3);
        assert_eq!(singular("boxes"), "box");
        assert_eq!(singular("refunds"), "refund");
    }
}
