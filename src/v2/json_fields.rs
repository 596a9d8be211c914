//! Fields from JSON text, in the order the text gives them.
//!
//! The chain's verbs serialize a body to JSON bytes before it is known to be an APIv2 call
//! (`.post(body)`, `.json(body)`, `.body(bytes)`, the CLI's `-d`). Reading those bytes back
//! through `serde_json::Value` would sort the keys; this reader walks the text instead, so a
//! struct's declaration order survives to the wire, and turns each value into text exactly
//! as [`Fields::from_serialize`] does: strings as they are, numbers in decimal, booleans as
//! `true`/`false`, `null` left out, nested objects and arrays as compact JSON (keys in their
//! own order too).

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::Fields;
use crate::error::Error;

impl Fields {
    /// The fields of a JSON object, in the order of the text (the form the chain's verbs
    /// hold a body in). Values become text as with [`Fields::from_serialize`]; an empty or
    /// blank text is no fields.
    ///
    /// ```
    /// use wechatpay::v2::Fields;
    ///
    /// let fields = Fields::from_json_slice(br#"{"total_fee":1,"body":"image","attach":null,
    ///     "scene_info":{"store_info":{"id":"SZTX001","area_code":"440305"}}}"#)?;
    /// let names: Vec<&str> = fields.iter().map(|(name, _)| name).collect();
    /// assert_eq!(names, ["total_fee", "body", "scene_info"]); // the text's order, null left out
    /// assert_eq!(fields.get("scene_info"), Some(r#"{"store_info":{"id":"SZTX001","area_code":"440305"}}"#));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Request`] if the text is not JSON, not an object, or names a field twice.
    pub fn from_json_slice(json: &[u8]) -> Result<Fields, Error> {
        if json.iter().all(u8::is_ascii_whitespace) {
            return Ok(Fields::new());
        }
        let mut reader = serde_json::Deserializer::from_slice(json);
        let fields = reader
            .deserialize_any(TopVisitor)
            .and_then(|fields| reader.end().map(|()| fields))
            .map_err(|e| Error::Request {
                message: "the APIv2 body is not a JSON object of fields".into(),
                source: Some(Box::new(e)),
            })?;
        Ok(fields)
    }
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Fields;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of APIv2 fields")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
        let mut fields = Fields::new();
        while let Some(name) = map.next_key::<String>()? {
            if fields.contains(&name) {
                return Err(de::Error::custom(format!(
                    "the field `{name}` appears twice"
                )));
            }
            let value = map.next_value_seed(ValueSeed)?;
            if let Some(text) = value.into_text().map_err(de::Error::custom)? {
                fields.insert(name, text);
            }
        }
        Ok(fields)
    }
}

/// A JSON value with its object keys in the order of the text.
enum Ordered {
    Null,
    Bool(bool),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Text(String),
    List(Vec<Ordered>),
    Object(Vec<(String, Ordered)>),
}

impl Ordered {
    /// A field's text, as [`Fields::from_serialize`] writes it (`None` for null).
    fn into_text(self) -> Result<Option<String>, String> {
        Ok(Some(match self {
            Ordered::Null => return Ok(None),
            Ordered::Bool(b) => b.to_string(),
            Ordered::Unsigned(n) => n.to_string(),
            Ordered::Signed(n) => n.to_string(),
            Ordered::Float(x) if x.is_finite() => x.to_string(),
            Ordered::Float(x) => return Err(format!("{x} is not a number XML can carry")),
            Ordered::Text(text) => text,
            compound @ (Ordered::List(_) | Ordered::Object(_)) => serde_json::to_string(&compound)
                .map_err(|e| format!("cannot encode the nested value as JSON: {e}"))?,
        }))
    }
}

impl Serialize for Ordered {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Ordered::Null => serializer.serialize_unit(),
            Ordered::Bool(b) => serializer.serialize_bool(*b),
            Ordered::Unsigned(n) => serializer.serialize_u64(*n),
            Ordered::Signed(n) => serializer.serialize_i64(*n),
            Ordered::Float(x) => serializer.serialize_f64(*x),
            Ordered::Text(text) => serializer.serialize_str(text),
            Ordered::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Ordered::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (name, value) in entries {
                    map.serialize_entry(name, value)?;
                }
                map.end()
            }
        }
    }
}

/// Reads one [`Ordered`] value.
struct ValueSeed;

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Ordered;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Ordered, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Ordered;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Ordered, E> {
        Ok(Ordered::Null)
    }

    fn visit_none<E>(self) -> Result<Ordered, E> {
        Ok(Ordered::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Ordered, E> {
        Ok(Ordered::Bool(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Ordered, E> {
        Ok(Ordered::Unsigned(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Ordered, E> {
        Ok(Ordered::Signed(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Ordered, E> {
        Ok(Ordered::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Ordered, E> {
        Ok(Ordered::Text(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Ordered, E> {
        Ok(Ordered::Text(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ordered, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(ValueSeed)? {
            items.push(item);
        }
        Ok(Ordered::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
        let mut entries: Vec<(String, Ordered)> = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            let value = map.next_value_seed(ValueSeed)?;
            // A repeated key: the last wins, in the first one's place (as JSON.parse does).
            match entries.iter_mut().find(|(n, _)| *n == name) {
                Some(entry) => entry.1 = value,
                None => entries.push((name, value)),
            }
        }
        Ok(Ordered::Object(entries))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(serde::Serialize)]
    struct Micropay {
        total_fee: u32,
        body: &'static str,
        attach: Option<&'static str>,
        detail: Detail,
        ratio: f64,
        tags: Vec<&'static str>,
    }

    #[derive(serde::Serialize)]
    struct Detail {
        zeta: u8,
        alpha: i8,
    }

    #[test]
    fn json_text_reads_as_the_value_serializes() {
        let value = Micropay {
            total_fee: 1,
            body: "image<shop>",
            attach: None,
            detail: Detail { zeta: 1, alpha: -1 },
            ratio: 0.5,
            tags: vec!["a", "b"],
        };
        let from_value = Fields::from_serialize(&value).unwrap();
        let from_text = Fields::from_json_slice(&serde_json::to_vec(&value).unwrap()).unwrap();
        assert_eq!(from_value, from_text);
        assert_eq!(from_text.get("detail"), Some(r#"{"zeta":1,"alpha":-1}"#));

        let json = json!({ "b": 2.0, "a": true, "n": null, "s": "x" });
        assert_eq!(
            Fields::from_serialize(&json).unwrap(),
            Fields::from_json_slice(&serde_json::to_vec(&json).unwrap()).unwrap()
        );
    }

    #[test]
    fn anything_but_one_object_is_refused() {
        assert!(Fields::from_json_slice(b"  ").unwrap().is_empty());
        for bad in [
            &b"[1]"[..],
            b"\"<xml/>\"",
            b"{\"a\":1}{}",
            b"{\"a\":1,\"a\":2}",
            b"{",
        ] {
            assert!(Fields::from_json_slice(bad).is_err(), "{bad:?}");
        }
    }
}
