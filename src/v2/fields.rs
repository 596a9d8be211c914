//! The fields of an APIv2 message: an ordered list of names and text values.
//!
//! APIv2 bodies are flat: `<xml><name>value</name>…</xml>`. A request is built from any
//! `Serialize` map or struct through a small serde serializer (not through
//! `serde_json::Value`, whose map sorts its keys), so the wire keeps the caller's field order.
//! Values become text the way both chain SDKs write them: strings as they are, numbers in
//! decimal, booleans as `true`/`false`. A nested object or array becomes its compact JSON
//! text, which is what the platform expects in fields such as `detail` or `scene_info`
//! (the SDKs leave that encoding to the caller). `null` and `None` leave the field out.

use std::fmt;

use serde::ser::{self, Impossible, Serialize};

use crate::error::Error;

/// The fields of one APIv2 message, in order, each a name and its text value.
///
/// Names are unique: [`insert`](Fields::insert) replaces a value in place. `Debug` shows the
/// names only, since values carry personal data and signatures.
///
/// ```
/// use serde_json::json;
/// use wechatpay::v2::Fields;
///
/// let fields = Fields::from_serialize(&json!({
///     "total_fee": 1,
///     "body": "image<shop>",
///     "detail": { "goods_detail": [{ "goods_id": "iphone6s_16G" }] },
///     "attach": null,
/// }))?;
/// assert_eq!(fields.get("total_fee"), Some("1"));
/// assert_eq!(fields.get("detail"), Some(r#"{"goods_detail":[{"goods_id":"iphone6s_16G"}]}"#));
/// assert_eq!(fields.get("attach"), None);
/// assert_eq!(
///     fields.to_xml()?,
///     "<xml><body><![CDATA[image<shop>]]></body>\
///      <detail><![CDATA[{\"goods_detail\":[{\"goods_id\":\"iphone6s_16G\"}]}]]></detail>\
///      <total_fee>1</total_fee></xml>",
/// );
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Fields {
    entries: Vec<(String, String)>,
}

impl Fields {
    /// No fields.
    pub fn new() -> Fields {
        Fields::default()
    }

    /// The fields of a map or struct, in the order serde visits them: a struct's declaration
    /// order, an ordered map's order, and (since the crate's `serde_json` sorts object keys)
    /// alphabetical order for a `json!` object.
    ///
    /// # Errors
    ///
    /// [`Error::Request`] if `value` is not a map or struct (an APIv2 body is a set of named
    /// fields), if a key is not a string, or if a value cannot be serialized (bytes).
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Fields, Error> {
        value.serialize(TopSerializer).map_err(|e| Error::Request {
            message: format!("the APIv2 body cannot be turned into XML fields: {e}"),
            source: None,
        })
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `name` is present (an empty value counts as present).
    pub fn contains(&self, name: &str) -> bool {
        self.entries.iter().any(|(n, _)| n == name)
    }

    /// Sets `name` to `value`: in place if present, else at the end.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((name, value)),
        }
    }

    /// Removes `name`, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        let index = self.entries.iter().position(|(n, _)| n == name)?;
        Some(self.entries.remove(index).1)
    }

    /// The fields in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// How many fields there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The request body: `<xml>` with one element per field, in order (see
    /// [`xml::encode`](super::xml::encode) for the escaping).
    ///
    /// # Errors
    ///
    /// [`Error::Request`] for a name that is not an XML element name or a value holding a
    /// character XML 1.0 cannot carry (most control characters).
    pub fn to_xml(&self) -> Result<String, Error> {
        super::xml::encode(self.iter())
    }

    /// The fields as an `application/x-www-form-urlencoded` query string (for the GET
    /// endpoints, e.g. `papay/entrustweb`), in order, UTF-8 percent-encoded.
    ///
    /// ```
    /// let mut fields = wechatpay::v2::Fields::new();
    /// fields.insert("contract_display_account", "微信 代扣");
    /// fields.insert("notify_url", "https://example.com/n?a=1");
    /// assert_eq!(
    ///     fields.to_query(),
    ///     "contract_display_account=%E5%BE%AE%E4%BF%A1+%E4%BB%A3%E6%89%A3&notify_url=https%3A%2F%2Fexample.com%2Fn%3Fa%3D1",
    /// );
    /// ```
    pub fn to_query(&self) -> String {
        let mut out = String::new();
        for (name, value) in self.iter() {
            if !out.is_empty() {
                out.push('&');
            }
            form_encode(name, &mut out);
            out.push('=');
            form_encode(value, &mut out);
        }
        out
    }
}

impl fmt::Debug for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Fields")
            .field(&self.entries.iter().map(|(n, _)| n).collect::<Vec<_>>())
            .finish()
    }
}

impl<'a> IntoIterator for &'a Fields {
    type Item = (&'a str, &'a str);
    type IntoIter = Box<dyn Iterator<Item = (&'a str, &'a str)> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Fields {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Fields {
        let mut fields = Fields::new();
        for (name, value) in iter {
            fields.insert(name, value);
        }
        fields
    }
}

/// `application/x-www-form-urlencoded`: unreserved bytes as they are, space as `+`, the rest
/// percent-encoded (what `URLSearchParams` and PHP's `http_build_query` write).
fn form_encode(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in text.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            }
        }
    }
}

/// The serializer's error: a message (serde needs `Display + custom`), or the marker a
/// compound value's serialization stops with (`classify` turns it into
/// [`Scalar::Compound`], so a nested value is never half-serialized here).
#[derive(Debug)]
enum SerError {
    Message(String),
    Compound,
}

impl fmt::Display for SerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SerError::Message(message) => f.write_str(message),
            SerError::Compound => f.write_str("a nested value stands where text is needed"),
        }
    }
}

impl std::error::Error for SerError {}

impl ser::Error for SerError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        SerError::Message(msg.to_string())
    }
}

fn not_a_map(what: &str) -> SerError {
    SerError::Message(format!(
        "expected a map or struct of named fields, found {what}"
    ))
}

/// Accepts only a map or struct; everything else is an error naming what was found.
struct TopSerializer;

macro_rules! refuse {
    ($($method:ident($($ty:ty),*) => $what:expr;)*) => {
        $(fn $method(self, $(_: $ty),*) -> Result<Self::Ok, SerError> {
            Err(self.refuse($what))
        })*
    };
}

impl TopSerializer {
    fn refuse(&self, what: &str) -> SerError {
        not_a_map(what)
    }
}

impl ser::Serializer for TopSerializer {
    type Ok = Fields;
    type Error = SerError;
    type SerializeSeq = Impossible<Fields, SerError>;
    type SerializeTuple = Impossible<Fields, SerError>;
    type SerializeTupleStruct = Impossible<Fields, SerError>;
    type SerializeTupleVariant = Impossible<Fields, SerError>;
    type SerializeMap = MapCollector;
    type SerializeStruct = MapCollector;
    type SerializeStructVariant = Impossible<Fields, SerError>;

    refuse! {
        serialize_bool(bool) => "a boolean";
        serialize_i8(i8) => "a number";
        serialize_i16(i16) => "a number";
        serialize_i32(i32) => "a number";
        serialize_i64(i64) => "a number";
        serialize_i128(i128) => "a number";
        serialize_u8(u8) => "a number";
        serialize_u16(u16) => "a number";
        serialize_u32(u32) => "a number";
        serialize_u64(u64) => "a number";
        serialize_u128(u128) => "a number";
        serialize_f32(f32) => "a number";
        serialize_f64(f64) => "a number";
        serialize_char(char) => "a character";
        serialize_str(&str) => "a string (give the fields, not an XML text)";
        serialize_bytes(&[u8]) => "bytes";
        serialize_none() => "null";
        serialize_unit() => "null";
        serialize_unit_struct(&'static str) => "a unit struct";
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Fields, SerError> {
        value.serialize(self)
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<Fields, SerError> {
        Err(not_a_map("an enum variant"))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Fields, SerError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Fields, SerError> {
        Err(not_a_map("an enum variant"))
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, SerError> {
        Err(not_a_map("an array"))
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, SerError> {
        Err(not_a_map("a tuple"))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, SerError> {
        Err(not_a_map("a tuple struct"))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, SerError> {
        Err(not_a_map("an enum variant"))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<MapCollector, SerError> {
        Ok(MapCollector::default())
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<MapCollector, SerError> {
        Ok(MapCollector::default())
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, SerError> {
        Err(not_a_map("an enum variant"))
    }
}

/// Collects the top-level fields in the order serde gives them.
#[derive(Default)]
struct MapCollector {
    fields: Fields,
    pending_key: Option<String>,
}

impl MapCollector {
    fn push<T: Serialize + ?Sized>(&mut self, name: String, value: &T) -> Result<(), SerError> {
        if self.fields.contains(&name) {
            return Err(SerError::Message(format!(
                "the field `{name}` appears twice"
            )));
        }
        if let Some(text) =
            field_text(value).map_err(|e| SerError::Message(format!("`{name}`: {e}")))?
        {
            self.fields.entries.push((name, text));
        }
        Ok(())
    }
}

impl ser::SerializeMap for MapCollector {
    type Ok = Fields;
    type Error = SerError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), SerError> {
        match classify(key)? {
            Scalar::Text(name) => {
                self.pending_key = Some(name);
                Ok(())
            }
            Scalar::Absent | Scalar::Compound => Err(SerError::Message(
                "a field name must be a string or a number".into(),
            )),
        }
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        let name = self
            .pending_key
            .take()
            .ok_or_else(|| SerError::Message("a map value came without its key".into()))?;
        self.push(name, value)
    }

    fn end(self) -> Result<Fields, SerError> {
        Ok(self.fields)
    }
}

impl ser::SerializeStruct for MapCollector {
    type Ok = Fields;
    type Error = SerError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        self.push(key.to_owned(), value)
    }

    fn end(self) -> Result<Fields, SerError> {
        Ok(self.fields)
    }
}

/// A field's text: `None` for null (the field is left out), compact JSON for a nested
/// object or array.
fn field_text<T: Serialize + ?Sized>(value: &T) -> Result<Option<String>, SerError> {
    match classify(value)? {
        Scalar::Text(text) => Ok(Some(text)),
        Scalar::Absent => Ok(None),
        Scalar::Compound => serde_json::to_string(value)
            .map(Some)
            .map_err(|e| SerError::Message(format!("cannot encode the nested value as JSON: {e}"))),
    }
}

/// What one value is: text, absent (null), or compound (to be JSON-encoded).
enum Scalar {
    Text(String),
    Absent,
    Compound,
}

/// Turns a scalar into its text and reports compound values without serializing them.
struct ScalarSerializer;

impl ser::Serializer for ScalarSerializer {
    type Ok = Scalar;
    type Error = SerError;
    type SerializeSeq = Impossible<Scalar, SerError>;
    type SerializeTuple = Impossible<Scalar, SerError>;
    type SerializeTupleStruct = Impossible<Scalar, SerError>;
    type SerializeTupleVariant = Impossible<Scalar, SerError>;
    type SerializeMap = Impossible<Scalar, SerError>;
    type SerializeStruct = Impossible<Scalar, SerError>;
    type SerializeStructVariant = Impossible<Scalar, SerError>;

    fn serialize_bool(self, v: bool) -> Result<Scalar, SerError> {
        Ok(Scalar::Text(v.to_string()))
    }
    fn serialize_i8(self, v: i8) -> Result<Scalar, SerError> {
        Ok(Scalar::Text(v.to_string()))
    }
    fn serialize_i16(self, v: i16) -> Result<Scalar, SerError> {
        Ok(Scalar::Text(v.to_string()))
    }
    fn serialize_i32(self, v: i32) -> Result<Scalar, SerError> {
        Ok(Scalar::Text(v.to_string()))
    }
    fn serialize_i64(self, v: i64) -> Result<Scalar, SerError> {
        Ok(Scalar::Text(v.to_string()))
    }
    fn serialize_i128(self, v: i128) -> Result<Scalar, SerError> {
        Ok(Scalar::Text(v.to_string()))
    }
    fn serialize_u8(self, v: u8) -> Result<Scalar, SerError> {
        Ok(Scalar::Text(v.to_string()))
    }
    fn serialize_u16(self, v: u16) -> Result<Scalar, SerError> {
        Ok(Scalar::Text(v.to_string()))
    }
    fn serialize_u32(self, v: u32) -> Result<Scalar, SerError> {
        Ok(Scalar::Text(v.to_string()))
    }
    fn serialize_u64(self, v: u64) -> Result<Scalar, SerError> {
        Ok(Scalar::Text(v.to_string()))
    }
    fn serialize_u128(self, v: u128) -> Result<Scalar, SerError> {
        Ok(Scalar::Text(v.to_string()))
    }
    fn serialize_f32(self, v: f32) -> Result<Scalar, SerError> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<Scalar, SerError> {
        if v.is_finite() {
            // Rust's `Display` writes 100.0 as `100` and 0.1 as `0.1`, as JavaScript does.
            Ok(Scalar::Text(v.to_string()))
        } else {
            Err(SerError::Message(format!(
                "{v} is not a number XML can carry"
            )))
        }
    }
    fn serialize_char(self, v: char) -> Result<Scalar, SerError> {
        Ok(Scalar::Text(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Scalar, SerError> {
        Ok(Scalar::Text(v.to_owned()))
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<Scalar, SerError> {
        Err(SerError::Message(
            "bytes have no text form; encode them (e.g. base64) first".into(),
        ))
    }
    fn serialize_none(self) -> Result<Scalar, SerError> {
        Ok(Scalar::Absent)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Scalar, SerError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Scalar, SerError> {
        Ok(Scalar::Absent)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Scalar, SerError> {
        Ok(Scalar::Absent)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Scalar, SerError> {
        Ok(Scalar::Text(variant.to_owned()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Scalar, SerError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Scalar, SerError> {
        Err(compound())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, SerError> {
        Err(compound())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, SerError> {
        Err(compound())
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, SerError> {
        Err(compound())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, SerError> {
        Err(compound())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, SerError> {
        Err(compound())
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, SerError> {
        Err(compound())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, SerError> {
        Err(compound())
    }
}

fn compound() -> SerError {
    SerError::Compound
}

/// What `value` is, without serializing a nested value.
fn classify<T: Serialize + ?Sized>(value: &T) -> Result<Scalar, SerError> {
    match value.serialize(ScalarSerializer) {
        Err(SerError::Compound) => Ok(Scalar::Compound),
        other => other,
    }
}
