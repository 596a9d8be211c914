//! Percent-decoding of the request parts the sandbox reads (paths, query strings, forms).

/// `text` with its `%XX` escapes decoded (a `%` without two hex digits stays as it is);
/// bytes that are not UTF-8 become U+FFFD.
pub(crate) fn percent_decode(text: &str) -> String {
    decode(text, false)
}

/// [`percent_decode`] for `application/x-www-form-urlencoded` text, where `+` is a space.
pub(crate) fn form_decode(text: &str) -> String {
    decode(text, true)
}

/// The `name=value` pairs of a query string, form-decoded, in order (empty pairs skipped,
/// a pair without `=` has an empty value).
pub(crate) fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(name), form_decode(value))
        })
        .collect()
}

fn decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b'+', _, _) if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_plus_and_broken_escapes() {
        assert_eq!(percent_decode("a%20b+c%2Bd%"), "a b+c+d%");
        assert_eq!(form_decode("a%20b+c%2Bd%zz"), "a b c+d%zz");
        assert_eq!(percent_decode("%E8%AE%A2%E5%8D%95"), "订单");
        assert_eq!(percent_decode("%FF"), "\u{FFFD}");
    }

    #[test]
    fn query_pairs_in_order() {
        assert_eq!(
            query_pairs("a=1&&b&c=%E4%B8%AD+x&a=2"),
            [("a", "1"), ("b", ""), ("c", "中 x"), ("a", "2")]
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
        );
    }
}
