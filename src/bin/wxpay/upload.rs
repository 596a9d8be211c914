//! `-F`: an upload's form, as curl writes it. `-F NAME=@PATH` is the file (its part named
//! NAME, usually `file`); `-F NAME=VALUE` is a plain form field when the endpoint takes one
//! of that name (`item_id`, `manage_record_id`), else a field of the signed `meta` JSON
//! (`bank_type`, `transaction_id`; a number where the catalog's example has a number).

use http::Method;
use serde_json::Value;
use wechatpay::multipart::{Multipart, UploadForm, UploadRule};

use crate::cli::Pair;
use crate::failure::Failure;

/// The form the `-F` arguments describe for `template`, read from the file once; `None`
/// without `-F`.
///
/// # Errors
///
/// A usage failure for no file or two files, or a file the endpoint refuses (too large,
/// a kind it does not accept, a missing required field), naming what to fix.
pub async fn form(template: &str, fields: &[Pair]) -> Result<Option<Multipart>, Failure> {
    if fields.is_empty() {
        return Ok(None);
    }
    let files: Vec<&Pair> = fields.iter().filter(|p| p.value.starts_with('@')).collect();
    let [file] = files.as_slice() else {
        return Err(Failure::usage(format!(
            "an upload takes one file, given as -F NAME=@PATH (e.g. -F file=@a.png); {} given",
            files.len()
        )));
    };
    let path = &file.value[1..];
    let rule = UploadRule::find(template);
    let example = example_meta(template);
    let mut form = UploadForm::for_endpoint(template, "").file_field(&file.name);
    for pair in fields.iter().filter(|p| !p.value.starts_with('@')) {
        let plain = rule.is_some_and(|r| r.fields.contains(&pair.name.as_str()));
        if plain {
            form = form.field(&pair.name, &pair.value);
        } else {
            form = form.meta(&pair.name, typed(&pair.name, &pair.value, example.as_ref()));
        }
    }
    form.from_path(path)
        .await
        .map(Some)
        .map_err(|e| Failure::usage(format!("-F {}=@{path}: {}", file.name, with_sources(&e))))
}

/// The catalog's example `meta` of the endpoint, to type the values given.
fn example_meta(template: &str) -> Option<Value> {
    let endpoint = wechatpay::catalog::find(&Method::POST, template)?;
    serde_json::from_str(endpoint.example_request()?).ok()
}

/// A number where the endpoint's example has one (`region_id`, `item_id`), else text:
/// identifiers such as `transaction_id` are digits but stay strings.
fn typed(name: &str, value: &str, example: Option<&Value>) -> Value {
    let numeric = example
        .and_then(|e| e.get(name))
        .is_some_and(Value::is_number);
    if numeric {
        if let Ok(number) = value.parse::<serde_json::Number>() {
            return Value::Number(number);
        }
    }
    Value::String(value.to_owned())
}

fn with_sources(error: &wechatpay::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_numbers_only_where_the_catalog_example_has_numbers() {
        let example = example_meta("v3/taxi-invoice/cards/upload-file");
        assert_eq!(
            typed("region_id", "310100", example.as_ref()),
            Value::from(310100)
        );
        assert_eq!(
            typed("company_mchid", "1900000109", example.as_ref()),
            Value::from("1900000109")
        );
        let receipt = example_meta("v3/marketing/shopping-receipt/shoppingreceipts");
        assert_eq!(
            typed(
                "transaction_id",
                "1217752501201407033233368018",
                receipt.as_ref()
            ),
            Value::from("1217752501201407033233368018")
        );
    }
}
