//! The YAML tree as a list of operations: everything the catalog keeps about each endpoint.
//!
//! Rules (they are the catalog's contract, repeated in `src/catalog/mod.rs`):
//! - template: the file's path under `docs/` without `.yaml`; `{empty}.yaml` is a trailing `/`;
//!   v2 templates keep their `v2/` folder (the wire path drops it), hk and global keep
//!   `hk/` and `global/` (they are paths from the host root, as `swagger.yaml` lists them).
//! - required body fields: JSON Pointers. A pointer is required wherever its parent exists,
//!   so `/payer/openid` binds only when `/payer` is given, and `0` in `/goods/0/id` stands for
//!   every element of the array.
//! - the answer is signed (APIv3 `Wechatpay-Signature` over the body) unless the operation is
//!   APIv2 (signed inside the XML), or its success answer is a file: `produces:` lists no JSON
//!   type, or the 200 answer documents no schema at all (an image, a statement).
//! - examples: the documented examples, completed from the schema so that every required
//!   field is present (strings from the field's name or format, integers 1, booleans true);
//!   optional fields with no example anywhere below them are left out.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::json::J;
use super::yaml::{self, Node};

pub const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub required: bool,
    pub example: String,
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub template: String,
    pub method: String,
    pub summary: String,
    pub doc_url: Option<String>,
    pub path_params: Vec<Param>,
    pub query_params: Vec<Param>,
    pub body_required: Vec<String>,
    /// `Json`, `Multipart`, `Xml`, `Other`; None when the request has no body.
    pub request_type: Option<&'static str>,
    /// `Json`, `Xml`, `Other`; None when the answer has no body.
    pub answer_type: Option<&'static str>,
    pub answer_media_type: Option<String>,
    pub answer_status: u16,
    pub signed_answer: bool,
    pub example_request: Option<String>,
    pub example_answer: Option<String>,
    pub deprecated: bool,
    pub base_url: Option<String>,
}

/// A schema with `$ref` and `allOf` resolved.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    ty: Option<String>,
    format: Option<String>,
    properties: Vec<(String, Schema)>,
    required: Vec<String>,
    items: Option<Box<Schema>>,
    example: Option<Node>,
    enum_first: Option<Node>,
    default: Option<Node>,
    minimum: Option<String>,
}

pub struct Docs {
    root: PathBuf,
    cache: RefCell<HashMap<String, Rc<Node>>>,
}

impl Docs {
    pub fn new(root: &Path) -> Docs {
        Docs {
            root: root.to_owned(),
            cache: RefCell::new(HashMap::new()),
        }
    }

    /// Every operation file under v3, v2, hk and global, as paths relative to the root,
    /// sorted.
    pub fn operation_files(&self) -> Vec<String> {
        let mut files = Vec::new();
        for top in ["v3", "v2", "hk", "global"] {
            collect_yaml(&self.root, &self.root.join(top), &mut files);
        }
        files.sort();
        files
    }

    pub fn load(&self, rel: &str) -> Result<Rc<Node>, String> {
        if let Some(node) = self.cache.borrow().get(rel) {
            return Ok(Rc::clone(node));
        }
        let text =
            std::fs::read_to_string(self.root.join(rel)).map_err(|e| format!("{rel}: {e}"))?;
        let node = Rc::new(yaml::parse(&text).map_err(|e| format!("{rel}: {e}"))?);
        self.cache
            .borrow_mut()
            .insert(rel.to_owned(), Rc::clone(&node));
        Ok(node)
    }

    /// Follows `$ref: 'dir/file.yaml#Name'` (or `#/Name`, or `#Name` in the same file).
    fn resolve(&self, file: &str, reference: &str) -> Result<(String, Node), String> {
        let (path, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        let target = if path.is_empty() {
            file.to_owned()
        } else {
            join(file, path)
        };
        let mut node = (*self.load(&target)?).clone();
        for key in fragment.split('/').filter(|k| !k.is_empty()) {
            node = node
                .get(key)
                .cloned()
                .ok_or_else(|| format!("{file}: $ref {reference} names nothing"))?;
        }
        Ok((target, node))
    }

    pub fn operations(&self) -> Result<Vec<Operation>, String> {
        let mut ops = Vec::new();
        for file in self.operation_files() {
            let doc = self.load(&file)?;
            for (key, op) in doc.entries() {
                if METHODS.contains(&key.as_str()) {
                    ops.push(self.operation(&file, key, op)?);
                }
            }
        }
        ops.sort_by(|a, b| {
            (a.template.as_str(), method_rank(&a.method))
                .cmp(&(b.template.as_str(), method_rank(&b.method)))
        });
        Ok(ops)
    }

    fn operation(&self, file: &str, method: &str, op: &Node) -> Result<Operation, String> {
        let template = template_of(file);
        let v2 = template.starts_with("v2/");
        let summary = one_line(op.str("summary").unwrap_or_default());
        let doc_url = doc_url(op.str("description").unwrap_or_default());
        let consumes: Vec<&str> = op
            .get("consumes")
            .map(|c| c.items().iter().filter_map(Node::text).collect())
            .unwrap_or_default();
        let produces: Vec<&str> = op
            .get("produces")
            .map(|c| c.items().iter().filter_map(Node::text).collect())
            .unwrap_or_default();

        let mut path_params = Vec::new();
        let mut query_params = Vec::new();
        let mut body: Option<Schema> = None;
        let mut form_meta: Option<Schema> = None;
        let mut has_form = false;
        for param in op.get("parameters").map(Node::items).unwrap_or_default() {
            let (param_file, param) = match param.str("$ref") {
                Some(reference) => self.resolve(file, reference)?,
                None => (file.to_owned(), param.clone()),
            };
            let name = param.str("name").unwrap_or_default().to_owned();
            let required = param.get("required").is_some_and(Node::is_true);
            let example = || {
                let schema = self.schema(&param_file, &param, 0);
                let value = param
                    .get("example")
                    .map(|e| self.documented(e, &schema, &name))
                    .or_else(|| {
                        schema
                            .enum_first
                            .as_ref()
                            .map(|e| self.documented(e, &schema, &name))
                    })
                    .unwrap_or_else(|| synthesize(&schema, &name));
                match value {
                    J::Str(s) => s,
                    other => other.to_json(),
                }
            };
            match param.str("in") {
                Some("path") => path_params.push(Param {
                    name: name.clone(),
                    required: true,
                    example: example(),
                }),
                Some("query") => query_params.push(Param {
                    name: name.clone(),
                    required,
                    example: example(),
                }),
                Some("body") => {
                    if let Some(schema) = param.get("schema") {
                        body = Some(self.schema(&param_file, schema, 0));
                    }
                }
                Some("formData") => {
                    has_form = true;
                    if let Some(schema) = param.get("schema") {
                        form_meta = Some(self.schema(&param_file, schema, 0));
                    }
                }
                _ => {}
            }
        }
        // The template is the authority on placeholders; the parameter list supplies examples.
        let mut ordered = Vec::new();
        for name in placeholders(&template) {
            let param = path_params
                .iter()
                .find(|p| p.name == name)
                .cloned()
                .unwrap_or_else(|| Param {
                    example: synthesize_string(&name, None),
                    name: name.clone(),
                    required: true,
                });
            ordered.push(param);
        }

        let request_type = if has_form || consumes.contains(&"multipart/form-data") {
            Some("Multipart")
        } else if body.is_none() {
            None
        } else if v2 || consumes.contains(&"application/xml") {
            Some("Xml")
        } else {
            Some("Json")
        };
        let request_schema = if request_type == Some("Multipart") {
            form_meta
        } else {
            body
        };
        let body_required = request_schema
            .as_ref()
            .map(|s| {
                let mut out = Vec::new();
                required_pointers(s, "", &mut out);
                out
            })
            .unwrap_or_default();
        let example_request = request_schema
            .as_ref()
            .and_then(|s| self.example(s, "", true))
            .map(|j| j.to_json());

        // The success answer: the lowest 2xx (or, failing that, the first) response.
        let responses = op.get("responses").map(Node::entries).unwrap_or_default();
        let success = responses
            .iter()
            .filter(|(code, _)| code.starts_with('2'))
            .min_by_key(|(code, _)| code.clone())
            .or_else(|| responses.first());
        let answer_status: u16 = success
            .and_then(|(code, _)| code.parse().ok())
            .unwrap_or(200);
        let answer_schema = success
            .and_then(|(_, r)| r.get("schema"))
            .filter(|s| !s.entries().is_empty())
            .map(|s| self.schema(file, s, 0));
        let json_answer = produces.is_empty()
            || produces
                .iter()
                .any(|p| p.contains("json") || (v2 && p.contains("xml")));
        let (answer_type, answer_media_type) = if !json_answer {
            (Some("Other"), produces.first().map(|s| (*s).to_owned()))
        } else if answer_schema.is_some() {
            (Some(if v2 { "Xml" } else { "Json" }), None)
        } else if answer_status == 200 && method == "get" && !v2 {
            // A 200 GET that documents no schema at all answers a file (an image, a statement).
            (Some("Other"), Some("application/octet-stream".to_owned()))
        } else {
            (None, None)
        };
        let signed_answer = !v2 && answer_type != Some("Other");
        let example_answer = match answer_type {
            Some("Json" | "Xml") => answer_schema
                .as_ref()
                .and_then(|s| self.example(s, "", true))
                .map(|j| j.to_json()),
            _ => None,
        };

        Ok(Operation {
            template,
            method: method.to_uppercase(),
            summary,
            doc_url,
            path_params: ordered,
            query_params,
            body_required,
            request_type,
            answer_type,
            answer_media_type,
            answer_status,
            signed_answer,
            example_request,
            example_answer,
            deprecated: op.get("deprecated").is_some_and(Node::is_true),
            base_url: op
                .str("x-base-uri")
                .or_else(|| op.str("x-baseuri"))
                .map(str::to_owned),
        })
    }

    /// Resolves `$ref` and `allOf` into one schema. `depth` stops reference cycles.
    fn schema(&self, file: &str, node: &Node, depth: usize) -> Schema {
        if depth > 24 {
            return Schema::default();
        }
        let mut out = Schema::default();
        if let Some(reference) = node.str("$ref") {
            if let Ok((target, resolved)) = self.resolve(file, reference) {
                out = self.schema(&target, &resolved, depth + 1);
            }
        }
        for part in node.get("allOf").map(Node::items).unwrap_or_default() {
            let part = self.schema(file, part, depth + 1);
            merge(&mut out, part);
        }
        let text = |key: &str| node.str(key).map(str::to_owned);
        if let Some(ty) = text("type") {
            out.ty = Some(ty.trim().to_owned());
        }
        out.format = text("format").or(out.format);
        if let Some(example) = node.get("example") {
            out.example = Some(example.clone());
        }
        if let Some(first) = node.get("enum").and_then(|e| e.items().first()) {
            out.enum_first = Some(first.clone());
        }
        if let Some(default) = node.get("default") {
            out.default = Some(default.clone());
        }
        out.minimum = text("minimum").or(out.minimum);
        for (name, prop) in node
            .get("properties")
            .map(Node::entries)
            .unwrap_or_default()
        {
            let schema = self.schema(file, prop, depth + 1);
            // `required: true` on a property (not Swagger, but written) means what it says.
            if prop.get("required").is_some_and(Node::is_true) && !out.required.contains(name) {
                out.required.push(name.clone());
            }
            upsert(&mut out.properties, name, schema);
        }
        for name in node.get("required").map(Node::items).unwrap_or_default() {
            if let Some(name) = name.text() {
                if !out.required.iter().any(|r| r == name) {
                    out.required.push(name.to_owned());
                }
            }
        }
        if let Some(items) = node.get("items") {
            out.items = Some(Box::new(self.schema(file, items, depth + 1)));
        }
        if out.ty.is_none() {
            if !out.properties.is_empty() {
                out.ty = Some("object".into());
            } else if out.items.is_some() {
                out.ty = Some("array".into());
            }
        }
        out
    }

    /// An example value for `schema`; None when it should be left out (not `force`d, i.e.
    /// not required, and no example anywhere below it).
    fn example(&self, schema: &Schema, name: &str, force: bool) -> Option<J> {
        if let Some(example) = &schema.example {
            return Some(self.documented(example, schema, name));
        }
        match schema.ty.as_deref() {
            Some("object") => {
                let mut fields = Vec::new();
                for (prop, prop_schema) in &schema.properties {
                    let required = schema.required.contains(prop);
                    if let Some(value) = self.example(prop_schema, prop, required) {
                        fields.push((prop.clone(), value));
                    }
                }
                for required in &schema.required {
                    if !fields.iter().any(|(k, _)| k == required) {
                        fields.push((required.clone(), J::Str(synthesize_string(required, None))));
                    }
                }
                (force || !fields.is_empty()).then_some(J::Obj(fields))
            }
            Some("array") => {
                let item = schema
                    .items
                    .as_deref()
                    .and_then(|items| self.example(items, name, force));
                match item {
                    Some(item) => Some(J::Arr(vec![item])),
                    None => force.then(|| J::Arr(Vec::new())),
                }
            }
            _ => {
                if let Some(value) = schema.enum_first.as_ref().or(schema.default.as_ref()) {
                    Some(self.documented(value, schema, name))
                } else {
                    force.then(|| synthesize(schema, name))
                }
            }
        }
    }

    /// A documented example, typed by its schema, with any required field it lacks added.
    fn documented(&self, node: &Node, schema: &Schema, name: &str) -> J {
        match node {
            Node::Scalar { .. } => {
                let Some(text) = node.text() else {
                    return synthesize(schema, name);
                };
                match schema.ty.as_deref() {
                    Some("string") => J::Str(text.to_owned()),
                    Some("integer" | "number") => {
                        number(text).unwrap_or_else(|| synthesize(schema, name))
                    }
                    Some("boolean") => match text.to_ascii_lowercase().as_str() {
                        "false" => J::Bool(false),
                        _ => J::Bool(true),
                    },
                    Some("object" | "array") => {
                        // A scalar example for a structure: build it from the schema instead.
                        let mut plain = schema.clone();
                        plain.example = None;
                        self.example(&plain, name, true).unwrap_or(J::Null)
                    }
                    _ => generic_scalar(node),
                }
            }
            Node::Map(entries) => {
                if schema.properties.is_empty() {
                    return generic(node);
                }
                let mut fields = Vec::new();
                for (key, value) in entries {
                    let converted = match schema.properties.iter().find(|(p, _)| p == key) {
                        Some((_, prop)) => self.documented(value, prop, key),
                        None => generic(value),
                    };
                    fields.push((key.clone(), converted));
                }
                for required in &schema.required {
                    if !fields.iter().any(|(k, _)| k == required) {
                        let prop = schema
                            .properties
                            .iter()
                            .find(|(p, _)| p == required)
                            .map(|(_, s)| s.clone())
                            .unwrap_or_default();
                        let value = self
                            .example(&prop, required, true)
                            .unwrap_or_else(|| J::Str(synthesize_string(required, None)));
                        fields.push((required.clone(), value));
                    }
                }
                J::Obj(fields)
            }
            Node::Seq(items) => match &schema.items {
                Some(item_schema) => J::Arr(
                    items
                        .iter()
                        .map(|i| self.documented(i, item_schema, name))
                        .collect(),
                ),
                None => generic(node),
            },
        }
    }
}

fn method_rank(method: &str) -> usize {
    METHODS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(method))
        .unwrap_or(METHODS.len())
}

fn collect_yaml(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_yaml(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            if let Ok(rel) = path.strip_prefix(root) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
}

/// `a/b/c.yaml` + `../../d/e.yaml` = `d/e.yaml`.
fn join(file: &str, reference: &str) -> String {
    let mut parts: Vec<&str> = file.split('/').collect();
    parts.pop();
    for piece in reference.split('/') {
        match piece {
            "." | "" => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

pub fn template_of(file: &str) -> String {
    let path = file.strip_suffix(".yaml").unwrap_or(file);
    match path.strip_suffix("{empty}") {
        Some(dir) => dir.to_owned(),
        None => path.to_owned(),
    }
}

pub fn placeholders(template: &str) -> Vec<String> {
    template
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(str::to_owned)
        .collect()
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The documentation link: the first `[..](https://pay.weixin.qq.com/..)`, else the first link.
fn doc_url(description: &str) -> Option<String> {
    let mut links = Vec::new();
    let mut rest = description;
    while let Some(start) = rest.find("](") {
        let after = &rest[start + 2..];
        let Some(end) = after.find(')') else { break };
        let url = after[..end].trim();
        if url.starts_with("http") {
            links.push(url.to_owned());
        }
        rest = &after[end..];
    }
    links
        .iter()
        .find(|l| l.starts_with("https://pay.weixin.qq.com"))
        .or(links.first())
        .cloned()
}

fn merge(into: &mut Schema, part: Schema) {
    if into.ty.is_none() {
        into.ty = part.ty;
    }
    if into.format.is_none() {
        into.format = part.format;
    }
    if into.example.is_none() {
        into.example = part.example;
    }
    if into.enum_first.is_none() {
        into.enum_first = part.enum_first;
    }
    for (name, schema) in part.properties {
        upsert(&mut into.properties, &name, schema);
    }
    for name in part.required {
        if !into.required.contains(&name) {
            into.required.push(name);
        }
    }
    if into.items.is_none() {
        into.items = part.items;
    }
}

fn upsert(properties: &mut Vec<(String, Schema)>, name: &str, schema: Schema) {
    match properties.iter_mut().find(|(n, _)| n == name) {
        Some((_, existing)) => {
            let mut merged = schema;
            merge(&mut merged, existing.clone());
            *existing = merged;
        }
        None => properties.push((name.to_owned(), schema)),
    }
}

/// Every required field as a JSON Pointer, parents before children, in document order.
fn required_pointers(schema: &Schema, prefix: &str, out: &mut Vec<String>) {
    if out.len() > 2000 {
        return;
    }
    for (name, prop) in &schema.properties {
        let pointer = format!("{prefix}/{}", escape_pointer(name));
        if schema.required.contains(name) {
            out.push(pointer.clone());
        }
        match prop.ty.as_deref() {
            Some("object") => required_pointers(prop, &pointer, out),
            Some("array") => {
                if let Some(items) = prop.items.as_deref() {
                    required_pointers(items, &format!("{pointer}/0"), out);
                }
            }
            _ => {}
        }
    }
    for name in &schema.required {
        if !schema.properties.iter().any(|(n, _)| n == name) {
            out.push(format!("{prefix}/{}", escape_pointer(name)));
        }
    }
}

fn escape_pointer(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// A value for a field with no example: from its type, format and name.
fn synthesize(schema: &Schema, name: &str) -> J {
    match schema.ty.as_deref() {
        Some("integer") => J::Num(
            schema
                .minimum
                .as_deref()
                .and_then(|m| m.parse::<i64>().ok())
                .filter(|m| *m > 1)
                .unwrap_or(1)
                .to_string(),
        ),
        Some("number") => J::Num("1".into()),
        Some("boolean") => J::Bool(true),
        Some("object") => J::Obj(Vec::new()),
        Some("array") => J::Arr(Vec::new()),
        _ => J::Str(synthesize_string(name, schema.format.as_deref())),
    }
}

pub fn synthesize_string(name: &str, format: Option<&str>) -> String {
    let by_format = match format {
        Some("rfc3339") => Some("2018-06-08T10:34:56+08:00"),
        Some("date") => Some("2018-06-08"),
        Some("yyyyMMddHHmmss") => Some("20180608103456"),
        Some("url" | "MediaUrl") => Some("https://www.weixin.qq.com/wxpay/pay.php"),
        Some("base64") => Some("ZXhhbXBsZQ=="),
        Some("MediaId") => Some("6uqyGjGrCf2GtyXP8bxrbuH9-aAoTjH-rKeSl3Lf4_So6kdkQu4w8BYVP3bzLtvR38lxt4PjtCDXsQpzqge_hQEovHzOhsLleGFQVRF-U_0"),
        Some("jsonObjectLike") => Some("{}"),
        Some("jsonArrayLike") => Some("[]"),
        _ => None,
    };
    if let Some(value) = by_format {
        return value.to_owned();
    }
    let n = name.to_ascii_lowercase();
    let value = if n.ends_with("mchid") || n == "mch_id" {
        "1900000109"
    } else if n.ends_with("appid") {
        "wxd678efh567hg6787"
    } else if n.ends_with("openid") {
        "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
    } else if n.ends_with("_time") {
        "2018-06-08T10:34:56+08:00"
    } else if n.ends_with("date") {
        "2018-06-08"
    } else if n.ends_with("url") {
        "https://www.weixin.qq.com/wxpay/pay.php"
    } else if n.ends_with("_no") || n.ends_with("_id") || n == "id" {
        "1217752501201407033233368018"
    } else if n == "currency" {
        "CNY"
    } else if n.is_empty() {
        "example"
    } else {
        return name.to_owned();
    };
    value.to_owned()
}

/// A YAML number as JSON number text, if it is one.
fn number(text: &str) -> Option<J> {
    let text = text.trim();
    if is_json_number(text) {
        return Some(J::Num(text.to_owned()));
    }
    if let Ok(i) = text.parse::<i64>() {
        return Some(J::Num(i.to_string()));
    }
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => Some(J::Num(f.to_string())),
        _ => None,
    }
}

fn is_json_number(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    let int_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let int_len = i - int_start;
    if int_len == 0 || (int_len > 1 && b[int_start] == b'0') {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

/// A scalar under YAML 1.2's core schema, for examples with no schema to guide them.
fn generic_scalar(node: &Node) -> J {
    let Node::Scalar { text, quoted } = node else {
        return generic(node);
    };
    if *quoted {
        return J::Str(text.clone());
    }
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => J::Null,
        "true" | "True" | "TRUE" => J::Bool(true),
        "false" | "False" | "FALSE" => J::Bool(false),
        t if is_json_number(t) => J::Num(t.to_owned()),
        t => J::Str(t.to_owned()),
    }
}

fn generic(node: &Node) -> J {
    match node {
        Node::Scalar { .. } => generic_scalar(node),
        Node::Map(entries) => J::Obj(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), generic(v)))
                .collect(),
        ),
        Node::Seq(items) => J::Arr(items.iter().map(generic).collect()),
    }
}
