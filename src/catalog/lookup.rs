//! Finding endpoints: by template shape, by a concrete path, by chain text, by words.
//!
//! A segment trie over every template is built once (first use) and shared: one hash table
//! maps (node, literal segment) to the child node, each node has at most one placeholder
//! child and lists the endpoints (by method) whose template ends there. A look-up walks one
//! node per segment: one short hash and one probe each.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use http::Method;

use super::table::{endpoints, placeholder_name, Endpoint};

/// More segments than any catalog template has (the deepest has 11).
const MAX_SEGMENTS: usize = 24;
/// The most placeholders a catalog template has (3; a unit test keeps this true).
const MAX_PARAMS: usize = 4;

#[derive(Default)]
struct Node {
    placeholder: Option<u32>,
    /// Indices into `endpoints()`, in table order (GET, POST, PUT, PATCH, DELETE).
    endpoints: Vec<u32>,
}

/// An FxHash-style hasher for the short keys of the child table. Only catalog strings are
/// ever inserted (inputs are only looked up), so hash flooding cannot grow anything.
#[derive(Default, Clone, Copy)]
struct SegmentHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl SegmentHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for SegmentHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let mut word = [0u8; 8];
        let rest = chunks.remainder();
        word[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(word) ^ (rest.len() as u64) << 59);
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Children = HashMap<(u32, &'static str), u32, BuildHasherDefault<SegmentHasher>>;

pub(super) struct Trie {
    nodes: Vec<Node>,
    children: Children,
}

pub(super) fn trie() -> &'static Trie {
    static TRIE: OnceLock<Trie> = OnceLock::new();
    TRIE.get_or_init(Trie::build)
}

impl Trie {
    fn build() -> Trie {
        let mut trie = Trie {
            nodes: vec![Node::default()],
            children: Children::default(),
        };
        for (index, endpoint) in endpoints().iter().enumerate() {
            let mut at = 0usize;
            for segment in endpoint.template.split('/') {
                at = trie.child_or_insert(at, segment);
            }
            trie.nodes[at].endpoints.push(index as u32);
        }
        trie
    }

    fn child_or_insert(&mut self, at: usize, segment: &'static str) -> usize {
        let next = self.nodes.len() as u32;
        if placeholder_name(segment).is_some() {
            if let Some(child) = self.nodes[at].placeholder {
                return child as usize;
            }
            self.nodes[at].placeholder = Some(next);
        } else {
            match self.children.entry((at as u32, segment)) {
                std::collections::hash_map::Entry::Occupied(child) => return *child.get() as usize,
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(next);
                }
            }
        }
        self.nodes.push(Node::default());
        next as usize
    }

    fn literal(&self, at: usize, segment: &str) -> Option<usize> {
        // The table's keys borrow `'static` strings; covariance lets it be probed with a
        // shorter-lived one.
        let children: &HashMap<(u32, &str), u32, BuildHasherDefault<SegmentHasher>> =
            &self.children;
        children.get(&(at as u32, segment)).map(|&c| c as usize)
    }

    fn endpoint_at(&self, at: usize, method: &Method) -> Option<&'static Endpoint> {
        self.nodes[at]
            .endpoints
            .iter()
            .map(|&i| &endpoints()[i as usize])
            .find(|e| e.method == method)
    }

    /// The node a template's shape leads to.
    fn shape(&self, template: &str) -> Option<usize> {
        let mut at = 0usize;
        for segment in path_part(template).split('/') {
            at = if is_placeholder(segment) {
                self.nodes[at].placeholder? as usize
            } else {
                self.literal(at, segment)?
            };
        }
        Some(at)
    }

    /// Depth-first, literal before placeholder, so `images/upload` finds the literal
    /// `upload` template before `images/{media_id}`.
    fn walk(&self, at: usize, rest: &str, method: &Method) -> Option<&'static Endpoint> {
        let (segment, tail) = match rest.split_once('/') {
            Some((segment, tail)) => (segment, Some(tail)),
            None => (rest, None),
        };
        let next = |child: usize| match tail {
            None => self.endpoint_at(child, method),
            Some(tail) => self.walk(child, tail, method),
        };
        if let Some(found) = self.literal(at, segment).and_then(next) {
            return Some(found);
        }
        if segment.is_empty() {
            return None;
        }
        next(self.nodes[at].placeholder? as usize)
    }
}

/// The path of a template or target: no leading `/`, no query (`?…`, or a trailing
/// RFC 6570 query expression `{?a,b}` / `{&c}`), no fragment.
pub(super) fn path_part(text: &str) -> &str {
    let text = text.trim_start_matches('/');
    let bytes = text.as_bytes();
    // One pass (a `str::find` with a string pattern would set up a searcher per call).
    let end = bytes
        .iter()
        .enumerate()
        .position(|(i, &b)| {
            b == b'?'
                || b == b'#'
                || (b == b'{' && matches!(bytes.get(i + 1), Some(b'?' | b'&' | b'#')))
        })
        .unwrap_or(bytes.len());
    &text[..end]
}

/// `{name}`, `{+name}` (any RFC 6570 operator but query ones) or the `<name>` alias.
pub(super) fn is_placeholder(segment: &str) -> bool {
    (segment.len() > 2 && segment.starts_with('{') && segment.ends_with('}'))
        || (segment.len() > 2
            && segment.starts_with('<')
            && segment.ends_with('>')
            && !segment[1..segment.len() - 1].contains(['<', '>']))
}

/// The endpoint with this method whose template has this shape: placeholder names need
/// not match (`v3/pay/transactions/id/{id}` finds `…/{transaction_id}`), and `<name>`
/// and a trailing query expression (`{?mchid}`) are accepted. A leading `/` is ignored.
///
/// ```
/// use http::Method;
/// let found = wechatpay::catalog::find(&Method::POST, "v3/refund/domestic/refunds").unwrap();
/// assert_eq!(found.summary(), "申请退款API");
/// assert!(wechatpay::catalog::find(&Method::DELETE, "v3/refund/domestic/refunds").is_none());
/// ```
pub fn find(method: &Method, template: &str) -> Option<&'static Endpoint> {
    let trie = trie();
    let at = trie.shape(template)?;
    // Two templates share a shape (`v3/apply4subject/applyment/{applyment_id}/cancel` and
    // `…/{business_code}/cancel`): the exact spelling wins, else the first in table order.
    let exact = path_part(template);
    trie.nodes[at]
        .endpoints
        .iter()
        .map(|&i| &endpoints()[i as usize])
        .find(|e| e.method == method && e.template == exact)
        .or_else(|| trie.endpoint_at(at, method))
}

/// Every method's endpoint for this template shape (e.g. GET and PATCH of one resource).
///
/// ```
/// let methods: Vec<_> = wechatpay::catalog::find_all("v3/merchant-service/complaint-notifications")
///     .map(|e| e.method().as_str())
///     .collect();
/// assert_eq!(methods, ["GET", "POST", "PUT", "DELETE"]);
/// ```
pub fn find_all(template: &str) -> impl Iterator<Item = &'static Endpoint> {
    let trie = trie();
    trie.shape(template)
        .map(|at| trie.nodes[at].endpoints.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|&i| &endpoints()[i as usize])
}

/// An endpoint found by a concrete path, with the values its placeholders captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathMatch<'p> {
    endpoint: &'static Endpoint,
    /// A fixed array: a look-up allocates nothing.
    params: [(&'static str, &'p str); MAX_PARAMS],
    len: usize,
}

impl<'p> PathMatch<'p> {
    /// The endpoint.
    pub fn endpoint(&self) -> &'static Endpoint {
        self.endpoint
    }

    /// `(placeholder name, segment as written)` pairs in template order (still
    /// percent-encoded, as on the wire).
    pub fn params(&self) -> &[(&'static str, &'p str)] {
        &self.params[..self.len]
    }

    /// The value captured for one placeholder.
    pub fn param(&self, name: &str) -> Option<&'p str> {
        self.params()
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }
}

impl PartialEq for Endpoint {
    fn eq(&self, other: &Endpoint) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for Endpoint {}

/// The endpoint a concrete path reaches with this method, and the placeholder values:
/// `v3/pay/transactions/id/4200000001` finds `v3/pay/transactions/id/{transaction_id}`.
/// Literal segments win over placeholders (`v3/merchant-service/images/upload` is the
/// upload, not an image id), unless only the placeholder has the method. A leading `/`, the
/// query and the fragment are ignored; a placeholder never matches an empty segment.
///
/// ```
/// use http::Method;
/// let found = wechatpay::catalog::find_path(&Method::GET, "v3/merchant-service/images/upload").unwrap();
/// assert_eq!(found.endpoint().template(), "v3/merchant-service/images/{media_id}");
/// let found = wechatpay::catalog::find_path(&Method::POST, "v3/merchant-service/images/upload").unwrap();
/// assert_eq!(found.endpoint().template(), "v3/merchant-service/images/upload");
/// assert!(found.params().is_empty());
/// ```
pub fn find_path<'p>(method: &Method, path: &'p str) -> Option<PathMatch<'p>> {
    let trie = trie();
    let path = path_part(path);
    // The recursion is one frame per segment: refuse paths longer than any template.
    if path.bytes().filter(|&b| b == b'/').count() >= MAX_SEGMENTS {
        return None;
    }
    let endpoint = trie.walk(0, path, method)?;
    // The found template has as many segments as the path: pair them up.
    let mut params = [("", ""); MAX_PARAMS];
    let mut len = 0;
    for (t, value) in endpoint.template.split('/').zip(path.split('/')) {
        if let (Some(name), Some(slot)) = (placeholder_name(t), params.get_mut(len)) {
            *slot = (name, value);
            len += 1;
        }
    }
    Some(PathMatch {
        endpoint,
        params,
        len,
    })
}

/// The endpoint named by JS chain text: `v3.payscore.serviceorder._out_order_no_.sync`,
/// `$name$` placeholders too, with the chain's normalization (`payafterOrders` →
/// `payafter-orders`); a leading `wxpay.` is skipped, and a trailing `.` reaches a template
/// that ends with `/`. Segments that only match unnormalized (`addInstitutionsub`) are
/// found too.
///
/// ```
/// use http::Method;
/// let found = wechatpay::catalog::find_chain(&Method::POST, "wxpay.v3.payscore.payafterOrders._out_order_no_.sync").unwrap();
/// assert_eq!(found.template(), "v3/payscore/payafter-orders/{out_order_no}/sync");
/// let found = wechatpay::catalog::find_chain(&Method::POST, "v3.applyment4sub.applyment.").unwrap();
/// assert_eq!(found.template(), "v3/applyment4sub/applyment/");
/// ```
pub fn find_chain(method: &Method, chain: &str) -> Option<&'static Endpoint> {
    let chain = chain.trim();
    let chain = chain.strip_prefix("wxpay.").unwrap_or(chain);
    let trie = trie();
    // Normalized first; then as written, for segments that only exist unnormalized.
    [true, false].into_iter().find_map(|normalize| {
        let mut at = 0usize;
        let mut buffer = String::new();
        for segment in chain.split('.') {
            at = if chain_placeholder(segment).is_some() || is_placeholder(segment) {
                trie.nodes[at].placeholder? as usize
            } else if normalize {
                normalize_chain_segment(segment, &mut buffer);
                trie.literal(at, &buffer)?
            } else {
                trie.literal(at, segment)?
            };
        }
        trie.endpoint_at(at, method)
    })
}

fn chain_placeholder(segment: &str) -> Option<&str> {
    let inner = segment
        .strip_prefix('_')
        .and_then(|s| s.strip_suffix('_'))
        .or_else(|| segment.strip_prefix('$').and_then(|s| s.strip_suffix('$')))?;
    (!inner.is_empty()).then_some(inner)
}

/// The chain's normalization of a literal segment, into `out`: a leading capital lowered,
/// every other capital → `-` + lowercase.
fn normalize_chain_segment(segment: &str, out: &mut String) {
    out.clear();
    for (i, c) in segment.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
}

/// The endpoints whose template or summary contains every word of `filter` (split on
/// whitespace; ASCII case ignored; Chinese matched as written). An empty filter yields
/// every endpoint. For `wxpay list FILTER`.
///
/// ```
/// let refunds: Vec<_> = wechatpay::catalog::search("退款 domestic").collect();
/// assert!(refunds.iter().any(|e| e.template() == "v3/refund/domestic/refunds"));
/// assert!(refunds.iter().all(|e| e.template().contains("domestic")));
/// ```
pub fn search(filter: &str) -> impl Iterator<Item = &'static Endpoint> + '_ {
    let words: Vec<String> = filter.split_whitespace().map(str::to_lowercase).collect();
    endpoints().iter().filter(move |e| {
        words.iter().all(|word| {
            contains_ignore_ascii_case(e.template, word)
                || contains_ignore_ascii_case(e.summary, word)
        })
    })
}

fn contains_ignore_ascii_case(haystack: &str, lower_needle: &str) -> bool {
    if haystack.contains(lower_needle) {
        return true;
    }
    haystack.to_lowercase().contains(lower_needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_part_strips_slash_query_and_query_expressions() {
        assert_eq!(path_part("/v3/a/{x}?q=1"), "v3/a/{x}");
        assert_eq!(path_part("v3/a/{x}{?mchid}"), "v3/a/{x}");
        assert_eq!(path_part("v3/a{&b}"), "v3/a");
        assert_eq!(path_part("v3/a#frag"), "v3/a");
        assert_eq!(
            path_part("v3/applyment4sub/applyment/"),
            "v3/applyment4sub/applyment/"
        );
    }

    #[test]
    fn every_endpoint_is_found_by_its_own_template_and_by_its_example_path() {
        for endpoint in endpoints() {
            assert!(std::ptr::eq(
                find(&endpoint.method, endpoint.template).unwrap(),
                endpoint
            ));
            let concrete: Vec<&str> = endpoint
                .template
                .split('/')
                .map(|s| match placeholder_name(s) {
                    Some(name) => endpoint
                        .path_params
                        .iter()
                        .find(|p| p.name == name)
                        .map(|p| p.example)
                        .unwrap_or("x"),
                    None => s,
                })
                .collect();
            let concrete = concrete.join("/");
            let found = find_path(&endpoint.method, &concrete)
                .unwrap_or_else(|| panic!("{endpoint}: {concrete} not found"));
            // A documented example value may spell a sibling literal (rare); the found
            // template must at least have the same length and method.
            assert_eq!(found.endpoint().method, endpoint.method);
            assert_eq!(
                found.endpoint().template.split('/').count(),
                endpoint.template.split('/').count(),
                "{concrete}"
            );
        }
    }

    #[test]
    fn templates_fit_the_fixed_limits() {
        for endpoint in endpoints() {
            assert!(endpoint.path_params.len() <= MAX_PARAMS, "{endpoint}");
            assert!(
                endpoint.template.split('/').count() < MAX_SEGMENTS,
                "{endpoint}"
            );
        }
    }

    #[test]
    fn literal_segments_win_and_captures_are_the_found_templates() {
        let found = find_path(
            &Method::GET,
            "/v3/pay/transactions/out-trade-no/abc?mchid=1",
        )
        .unwrap();
        assert_eq!(
            found.endpoint().template,
            "v3/pay/transactions/out-trade-no/{out_trade_no}"
        );
        assert_eq!(found.param("out_trade_no"), Some("abc"));
        assert!(find_path(&Method::GET, "v3/pay/transactions/id/").is_none());
        assert!(find_path(&Method::GET, "v3/pay/transactions/id/1/extra").is_none());
    }

    #[test]
    fn chain_segments_normalize_like_the_chain() {
        let normalized = |segment: &str| {
            let mut out = String::new();
            normalize_chain_segment(segment, &mut out);
            out
        };
        assert_eq!(normalized("payafterOrders"), "payafter-orders");
        assert_eq!(normalized("MerchantService"), "merchant-service");
        assert_eq!(chain_placeholder("_out_order_no_"), Some("out_order_no"));
        assert_eq!(chain_placeholder("$out_trade_no$"), Some("out_trade_no"));
        assert_eq!(chain_placeholder("__"), None);
        assert!(find_chain(&Method::GET, "v3.pay.transactions.id.$transaction_id$").is_some());
        assert!(find_chain(&Method::GET, "v3.pay.transactions.id.{transaction_id}").is_some());
        let found = find_chain(&Method::POST, "v2.secapi.mch.addInstitutionsub").unwrap();
        assert_eq!(found.template, "v2/secapi/mch/addInstitutionsub");
    }
}
