//! The APIv2 XML codec: `<xml>` bodies out, answers in, safely.
//!
//! **Encoding** writes one element per field, in order. A value holding any of
//! `< > & ' "` goes in a CDATA section (as wechatpay-axios-plugin writes it; wechatpay-php
//! does the same except for `'`); a `]]>` inside such a value is split across two sections,
//! which both SDKs get wrong. An empty value is written `<name/>`. Names must be XML names
//! made of ASCII letters, digits, `_`, `-` and `.`, and values must be XML 1.0 characters.
//!
//! **Decoding** uses quick-xml as a pull parser and refuses, before reading any further,
//! everything an answer from the platform never holds: a DTD (`<!DOCTYPE`, the door to
//! XXE and "billion laughs"), processing instructions, entity references other than the five
//! predefined ones and character references. Nothing is fetched and nothing expands, so
//! the work is linear in the input, which is capped by [`XmlLimits`] (size, depth, element
//! count). The result is a JSON object of strings; an element with child elements becomes a
//! nested object, and a name that repeats becomes an array. Attributes are ignored.

use quick_xml::errors::SyntaxError;
use quick_xml::events::{BytesRef, Event};
use quick_xml::Reader;
use serde_json::{Map, Value};

use crate::error::Error;

/// Bounds on what [`decode_with`] accepts. The defaults are far above any APIv2 answer
/// (the largest, a red-packet query, is a few kilobytes) and far below anything that could
/// hurt.
///
/// ```
/// use wechatpay::v2::xml::{decode_with, XmlLimits};
///
/// let limits = XmlLimits { max_depth: 2, ..XmlLimits::default() };
/// assert!(decode_with(b"<xml><a>1</a></xml>", &limits).is_ok());
/// let error = decode_with(b"<xml><a><b><c>1</c></b></a></xml>", &limits).unwrap_err();
/// assert!(error.to_string().contains("deeper than 2"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XmlLimits {
    /// The largest document, in bytes (default 4 MiB).
    pub max_bytes: usize,
    /// The deepest element nesting, the root counting as 1 (default 16).
    pub max_depth: usize,
    /// The most elements in one document (default 10,000).
    pub max_elements: usize,
}

impl Default for XmlLimits {
    fn default() -> Self {
        XmlLimits {
            max_bytes: 4 * 1024 * 1024,
            max_depth: 16,
            max_elements: 10_000,
        }
    }
}

/// Writes `<xml>…</xml>` from fields in order.
///
/// ```
/// let xml = wechatpay::v2::xml::encode([
///     ("appid", "wx2421b1c4370ec43b"),
///     ("body", "Ben & Jerry's"),
///     ("attach", ""),
///     ("sign", "C380BEC2BFD727A4B6845133519F3AD6"),
/// ])?;
/// assert_eq!(
///     xml,
///     "<xml><appid>wx2421b1c4370ec43b</appid><body><![CDATA[Ben & Jerry's]]></body>\
///      <attach/><sign>C380BEC2BFD727A4B6845133519F3AD6</sign></xml>",
/// );
/// # Ok::<(), wechatpay::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Request`] for a name that is not an XML element name (the message names it) or
/// a value with a character XML 1.0 cannot carry (NUL and most other control characters).
pub fn encode<'a, I>(fields: I) -> Result<String, Error>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut out = String::from("<xml>");
    for (name, value) in fields {
        write_element(&mut out, name, value)?;
    }
    out.push_str("</xml>");
    Ok(out)
}

/// Appends `<name>value</name>` (or `<name/>`), CDATA-wrapped when the value needs it.
pub(crate) fn write_element(out: &mut String, name: &str, value: &str) -> Result<(), Error> {
    if !is_element_name(name) {
        return Err(Error::request(format!(
            "`{name}` cannot be an APIv2 field name: use ASCII letters, digits, `_`, `-` and `.`, \
             starting with a letter or `_`"
        )));
    }
    if let Some(bad) = value.chars().find(|&c| !is_xml_char(c)) {
        return Err(Error::request(format!(
            "the value of `{name}` holds U+{:04X}, which XML 1.0 cannot carry",
            u32::from(bad)
        )));
    }
    out.push('<');
    out.push_str(name);
    if value.is_empty() {
        out.push_str("/>");
        return Ok(());
    }
    out.push('>');
    if value.contains(['<', '>', '&', '\'', '"']) {
        write_cdata(out, value);
    } else {
        out.push_str(value);
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
    Ok(())
}

/// `<![CDATA[…]]>`, splitting any `]]>` so that the section cannot end early.
pub(crate) fn write_cdata(out: &mut String, value: &str) {
    out.push_str("<![CDATA[");
    out.push_str(&value.replace("]]>", "]]]]><![CDATA[>"));
    out.push_str("]]>");
}

fn is_element_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// XML 1.0 `Char`: tab, LF, CR and everything from U+0020 except the surrogates (which a
/// Rust `char` cannot be) and U+FFFE/U+FFFF.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// Reads an APIv2 answer (or notification) into a JSON object, with the default
/// [`XmlLimits`].
///
/// ```
/// let answer = wechatpay::v2::xml::decode(
///     b"<xml><return_code><![CDATA[SUCCESS]]></return_code><total_fee>1</total_fee>\
///       <detail>a &amp; b</detail></xml>",
/// )?;
/// assert_eq!(answer["return_code"], "SUCCESS");
/// assert_eq!(answer["total_fee"], "1");
/// assert_eq!(answer["detail"], "a & b");
///
/// let xxe = b"<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><xml>&e;</xml>";
/// assert!(wechatpay::v2::xml::decode(xxe).unwrap_err().to_string().contains("DTD"));
/// # Ok::<(), wechatpay::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Decode`] saying what is wrong: not XML, an HTML page, a DTD, an unknown entity,
/// a document that ends early, content after the root, or a limit exceeded.
pub fn decode(xml: &[u8]) -> Result<Map<String, Value>, Error> {
    decode_with(xml, &XmlLimits::default())
}

/// [`decode`] with explicit limits.
///
/// # Errors
///
/// As [`decode`].
pub fn decode_with(xml: &[u8], limits: &XmlLimits) -> Result<Map<String, Value>, Error> {
    if xml.len() > limits.max_bytes {
        return Err(fail(format!(
            "the document has {} bytes, more than the {}-byte limit",
            xml.len(),
            limits.max_bytes
        )));
    }
    let xml = xml.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(xml);
    let mut reader = Reader::from_reader(xml);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.check_comments = true;
    config.expand_empty_elements = false;
    config.trim_text(false);

    let mut decoder = TreeBuilder {
        limits: *limits,
        stack: Vec::new(),
        elements: 0,
        root: None,
    };
    loop {
        let position = reader.buffer_position();
        let event = reader.read_event().map_err(|e| {
            let message = match &e {
                quick_xml::Error::Syntax(syntax)
                    if !matches!(syntax, SyntaxError::InvalidBangMarkup) =>
                {
                    format!(
                        "the document ends inside markup that starts at byte {position} \
                         (truncated?)"
                    )
                }
                _ => format!("not well-formed XML at byte {position}"),
            };
            Error::decode(message, Some(Box::new(e)))
        })?;
        match event {
            Event::Decl(_) if decoder.root.is_none() && decoder.stack.is_empty() => {}
            Event::Decl(_) => return Err(fail("an XML declaration after the start")),
            Event::DocType(text) => {
                let text = String::from_utf8_lossy(&text);
                if text.trim_start().to_ascii_lowercase().starts_with("html") {
                    return Err(html_page());
                }
                return Err(fail(
                    "the document has a DTD (<!DOCTYPE …>), which APIv2 answers never have; \
                     refused so that no entity is defined, expanded or fetched",
                ));
            }
            Event::PI(_) => return Err(fail(
                "the document has a processing instruction (<?…?>), which APIv2 answers never have",
            )),
            Event::Comment(_) => {}
            Event::Start(start) => {
                let name = element_name(start.name().as_ref())?;
                decoder.open(name)?;
            }
            Event::Empty(start) => {
                let name = element_name(start.name().as_ref())?;
                decoder.open(name)?;
                decoder.close()?;
            }
            Event::End(_) => decoder.close()?,
            Event::Text(text) => {
                let text = text
                    .xml10_content()
                    .map_err(|e| Error::decode("the document is not UTF-8", Some(Box::new(e))))?;
                if text.contains("]]>") {
                    // XML 1.0 §2.4; also what a CDATA section that was not split leaves behind.
                    return Err(fail(format!(
                        "not well-formed XML: `]]>` in text near byte {position}"
                    )));
                }
                decoder.text(&text)?;
            }
            Event::CData(data) => {
                let text = data
                    .xml10_content()
                    .map_err(|e| Error::decode("the document is not UTF-8", Some(Box::new(e))))?;
                decoder.text(&text)?;
            }
            Event::GeneralRef(reference) => {
                let c = resolve_reference(&reference)?;
                decoder.text(c.encode_utf8(&mut [0; 4]))?;
            }
            Event::Eof => return decoder.finish(),
        }
    }
}

fn fail(message: impl Into<String>) -> Error {
    Error::decode(message, None)
}

fn html_page() -> Error {
    fail(
        "the answer is an HTML page, not APIv2 XML (a gateway, proxy or login page answered \
         in the platform's place?)",
    )
}

fn element_name(raw: &[u8]) -> Result<String, Error> {
    std::str::from_utf8(raw)
        .map(str::to_owned)
        .map_err(|e| Error::decode("an element name is not UTF-8", Some(Box::new(e))))
}

/// The five predefined entities and character references; anything else would need a DTD.
fn resolve_reference(reference: &BytesRef<'_>) -> Result<char, Error> {
    if reference.is_char_ref() {
        let c = reference
            .resolve_char_ref()
            .map_err(|e| Error::decode("a bad character reference", Some(Box::new(e))))?;
        return match c {
            Some(c) if is_xml_char(c) => Ok(c),
            _ => Err(fail("a character reference to a character XML 1.0 forbids")),
        };
    }
    let name = String::from_utf8_lossy(reference);
    match name.as_ref() {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        other => Err(fail(format!(
            "the entity `&{other};` is not one of the five XML predefines (lt, gt, amp, apos, quot); \
             no other entity is ever expanded"
        ))),
    }
}

/// One open element: its name, its text so far, its child elements so far.
struct Open {
    name: String,
    text: String,
    children: Map<String, Value>,
}

struct TreeBuilder {
    limits: XmlLimits,
    stack: Vec<Open>,
    elements: usize,
    root: Option<Map<String, Value>>,
}

impl TreeBuilder {
    fn open(&mut self, name: String) -> Result<(), Error> {
        if self.root.is_some() {
            return Err(fail(format!(
                "a second root element <{name}> after the first one closed"
            )));
        }
        if self.stack.is_empty() && name.eq_ignore_ascii_case("html") {
            return Err(html_page());
        }
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(fail(format!(
                "the document has more than {} elements",
                self.limits.max_elements
            )));
        }
        if self.stack.len() >= self.limits.max_depth {
            return Err(fail(format!(
                "elements nest deeper than {} levels",
                self.limits.max_depth
            )));
        }
        self.stack.push(Open {
            name,
            text: String::new(),
            children: Map::new(),
        });
        Ok(())
    }

    fn text(&mut self, text: &str) -> Result<(), Error> {
        match self.stack.last_mut() {
            Some(open) => {
                open.text.push_str(text);
                Ok(())
            }
            None if text.trim().is_empty() => Ok(()),
            None if self.root.is_some() => Err(fail("text after the root element")),
            None => Err(fail(format!(
                "the answer is not XML (it starts with {:?})",
                text.trim().chars().take(40).collect::<String>()
            ))),
        }
    }

    fn close(&mut self) -> Result<(), Error> {
        let Some(open) = self.stack.pop() else {
            return Err(fail("a closing tag without an opening one"));
        };
        let value = if open.children.is_empty() {
            Value::String(open.text)
        } else if open.text.trim().is_empty() {
            Value::Object(open.children)
        } else {
            return Err(fail(format!(
                "<{}> mixes text with child elements, which APIv2 answers never do",
                open.name
            )));
        };
        match self.stack.last_mut() {
            Some(parent) => {
                insert_child(&mut parent.children, open.name, value);
                Ok(())
            }
            None => {
                self.root = Some(match value {
                    Value::Object(map) => map,
                    // `<xml/>` or `<xml></xml>`: an answer without fields.
                    Value::String(text) if text.trim().is_empty() => Map::new(),
                    _ => return Err(fail("the root element holds text, not fields")),
                });
                Ok(())
            }
        }
    }

    fn finish(self) -> Result<Map<String, Value>, Error> {
        if let Some(open) = self.stack.last() {
            return Err(fail(format!(
                "the document ends before <{}> is closed (truncated?)",
                open.name
            )));
        }
        self.root
            .ok_or_else(|| fail("the answer is empty: no XML element at all"))
    }
}

/// Adds a child; a name seen before turns into an array of its values, in order.
fn insert_child(children: &mut Map<String, Value>, name: String, value: Value) {
    match children.get_mut(&name) {
        None => {
            children.insert(name, value);
        }
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(is_element_name("nonce_str"));
        assert!(is_element_name("_a.b-c9"));
        assert!(!is_element_name(""));
        assert!(!is_element_name("9a"));
        assert!(!is_element_name("a b"));
        assert!(!is_element_name("a>"));
        assert!(!is_element_name("名字"));
    }

    #[test]
    fn cdata_end_is_split() {
        let mut out = String::new();
        write_cdata(&mut out, "a]]>b");
        assert_eq!(out, "<![CDATA[a]]]]><![CDATA[>b]]>");
        let back = decode(format!("<xml><v>{out}</v></xml>").as_bytes()).unwrap();
        assert_eq!(back["v"], "a]]>b");
    }

    #[test]
    fn control_characters_are_refused_on_encode() {
        let error = encode([("body", "a\u{1}b")]).unwrap_err();
        assert!(error.to_string().contains("U+0001"), "{error}");
        assert!(encode([("body", "tab\there\r\n")]).is_ok());
    }

    #[test]
    fn repeated_and_nested_elements() {
        let map = decode(b"<xml><a>1</a><a>2</a><a>3</a><b><c>x</c></b><e/></xml>").unwrap();
        assert_eq!(map["a"], serde_json::json!(["1", "2", "3"]));
        assert_eq!(map["b"]["c"], "x");
        assert_eq!(map["e"], "");
    }

    #[test]
    fn whitespace_between_elements_is_ignored_but_kept_inside_values() {
        let map = decode(b"<?xml version=\"1.0\"?>\n<xml>\n  <a> x </a>\n</xml>\n").unwrap();
        assert_eq!(map["a"], " x ");
    }

    #[test]
    fn character_references_resolve() {
        let map = decode(b"<xml><a>&#x4E2D;&#25991;&lt;&apos;</a></xml>").unwrap();
        assert_eq!(map["a"], "中文<'");
        assert!(decode(b"<xml><a>&#0;</a></xml>").is_err());
    }
}
