//! `wxpay list` and `wxpay describe`: the endpoint catalog from a shell.

use std::io::{self, Write};

use http::Method;
use wechatpay::catalog::{self, ContentType, Endpoint};

use crate::cli::{DescribeArgs, ListArgs};
use crate::failure::Failure;

/// `wxpay list [FILTER]`: one line per endpoint, `METHOD template  summary`.
///
/// # Errors
///
/// A usage failure when nothing matches the filter (naming it); an output failure if stdout
/// is closed.
pub fn list(args: ListArgs) -> Result<(), Failure> {
    let filter = args.filter.join(" ");
    let found: Vec<&Endpoint> = if filter.trim().is_empty() {
        catalog::endpoints().iter().collect()
    } else {
        catalog::search(&filter).collect()
    };
    if found.is_empty() {
        return Err(Failure::usage(format!(
            "no endpoint of the catalog matches `{filter}` (words of the path or the summary, e.g. `refund` or `退款`)"
        )));
    }
    let width = found
        .iter()
        .map(|e| e.method().as_str().len() + 1 + e.template().len())
        .max()
        .unwrap_or(0);
    let mut out = io::stdout().lock();
    for endpoint in found {
        let name = format!("{} {}", endpoint.method(), endpoint.template());
        let deprecated = if endpoint.deprecated() {
            " (deprecated)"
        } else {
            ""
        };
        writeln!(out, "{name:width$}  {}{deprecated}", endpoint.summary())
            .map_err(crate::call::stdout_failure)?;
    }
    out.flush().map_err(crate::call::stdout_failure)
}

/// `wxpay describe URI`: every method of the endpoint, with its parameters, required
/// fields, an example body ready for `-d`, and the documentation link.
///
/// # Errors
///
/// A usage failure for a URI that names no catalog endpoint (with the closest ones); an
/// output failure if stdout is closed.
pub fn describe(args: DescribeArgs) -> Result<(), Failure> {
    let found = resolve(&args.uri);
    if found.is_empty() {
        return Err(unknown(&args.uri));
    }
    let mut out = io::stdout().lock();
    for (i, endpoint) in found.iter().enumerate() {
        if i > 0 {
            writeln!(out).map_err(crate::call::stdout_failure)?;
        }
        write_endpoint(&mut out, endpoint).map_err(crate::call::stdout_failure)?;
    }
    out.flush().map_err(crate::call::stdout_failure)
}

/// The endpoints a URI names: a template (placeholder names may differ), a dotted chain,
/// or a concrete path, under any method.
fn resolve(uri: &str) -> Vec<&'static Endpoint> {
    let uri = uri.trim().trim_start_matches('/');
    let by_template: Vec<&'static Endpoint> = catalog::find_all(uri).collect();
    if !by_template.is_empty() {
        return by_template;
    }
    let methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    let mut found: Vec<&'static Endpoint> = Vec::new();
    for method in &methods {
        let endpoint = if uri.contains('/') {
            catalog::find(method, uri)
                .or_else(|| catalog::find_path(method, uri).map(|m| m.endpoint()))
        } else {
            catalog::find_chain(method, uri)
        };
        if let Some(endpoint) = endpoint {
            if !found.iter().any(|e| std::ptr::eq(*e, endpoint)) {
                found.push(endpoint);
            }
        }
    }
    found
}

/// A usage failure for a URI that is not in the catalog, naming the closest templates.
pub fn unknown(uri: &str) -> Failure {
    let path = if uri.contains('/') || uri.contains('{') {
        uri.to_owned()
    } else {
        uri.split('.')
            .map(wechatpay::normalize_segment)
            .collect::<Vec<_>>()
            .join("/")
    };
    let near: Vec<String> = catalog::suggestions_for(&path)
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut message = format!("`{uri}` is not in the endpoint catalog");
    if !near.is_empty() {
        message.push_str(&format!("; closest: {}", near.join(", ")));
    }
    message.push_str(" (wxpay list FILTER searches it)");
    Failure::usage(message)
}

fn write_endpoint(out: &mut impl Write, endpoint: &Endpoint) -> io::Result<()> {
    writeln!(out, "{} {}", endpoint.method(), endpoint.template())?;
    writeln!(out, "  {}", endpoint.summary())?;
    if endpoint.deprecated() {
        writeln!(out, "  deprecated")?;
    }
    writeln!(out, "  chain: {}", endpoint.chain_text())?;
    for param in endpoint.path_params() {
        writeln!(
            out,
            "  -p {}={}    (placeholder)",
            param.name(),
            param.example()
        )?;
    }
    for param in endpoint.query_params() {
        let required = if param.required() {
            "required"
        } else {
            "optional"
        };
        writeln!(
            out,
            "  -q {}={}    ({required} query)",
            param.name(),
            param.example()
        )?;
    }
    let kind = match endpoint.request_type() {
        None => "no body",
        Some(ContentType::Json) => "JSON body",
        Some(ContentType::Multipart) => "multipart upload (file and meta JSON)",
        Some(ContentType::Xml) => "APIv2 XML body",
        Some(_) => "file body",
    };
    writeln!(out, "  request: {kind}")?;
    if !endpoint.required_body_fields().is_empty() {
        writeln!(
            out,
            "  required fields: {}",
            endpoint.required_body_fields().join(" ")
        )?;
    }
    if let Some(example) = endpoint.example_request() {
        // One line, ready to paste after -d (single quotes around it in a POSIX shell).
        let compact = serde_json::from_str::<serde_json::Value>(example)
            .map(|v| v.to_string())
            .unwrap_or_else(|_| example.to_owned());
        writeln!(out, "  example: -d '{}'", compact.replace('\'', "'\\''"))?;
    }
    let answer = match (endpoint.answer_type(), endpoint.signed_answer()) {
        (None, _) => format!("{} no body", endpoint.answer_status()),
        (Some(ContentType::Other), _) => format!(
            "{} file ({}), unsigned",
            endpoint.answer_status(),
            endpoint
                .answer_media_type()
                .unwrap_or("application/octet-stream")
        ),
        (Some(_), true) => format!("{} JSON, signed", endpoint.answer_status()),
        (Some(_), false) => format!("{}, unsigned", endpoint.answer_status()),
    };
    writeln!(out, "  answer: {answer}")?;
    if let Some(url) = endpoint.doc_url() {
        writeln!(out, "  docs: {url}")?;
    }
    Ok(())
}
