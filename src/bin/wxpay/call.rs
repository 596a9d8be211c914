//! The default action: build one request from the command line, then print it
//! (`--dry-run`) or send it and print the verified answer.

use std::io::{self, Read, Write};

use http::Method;
use wechatpay::sandbox::{self, Sandbox};
use wechatpay::{Chain, Error, RequestBuilder, Response, Wechatpay};

use crate::cli::CallArgs;
use crate::credentials::{self, Credentials};
use crate::failure::{Exit, Failure};
use crate::json;
use crate::output::{self, Show};

/// Runs the request the command line describes.
///
/// # Errors
///
/// A [`Failure`] whose exit code says which stage went wrong.
pub async fn run(args: CallArgs) -> Result<(), Failure> {
    let uri = args.uri.as_deref().unwrap_or_default();
    check_uri(uri)?;
    let body = args.data.as_deref().map(read_data).transpose()?;
    if !args.form.is_empty() && args.method.as_ref().is_some_and(|m| *m != Method::POST) {
        return Err(Failure::usage("an upload (-F) is a POST; leave out -X"));
    }
    let template = endpoint(&sandbox::offline_client()?, uri)
        .template()
        .to_owned();
    let form = crate::upload::form(&template, &args.form).await?;
    let body = Body { json: body, form };
    let show = Show {
        include: args.include,
        raw: args.raw,
    };
    match credentials::resolve(&args.credentials)? {
        Credentials::Merchant(client) if args.dry_run => {
            print_request(&prepare(&client, uri, &args, body).build()?)
        }
        Credentials::Merchant(client) => {
            trust_downloaded_certificates(&client).await?;
            send(prepare(&client, uri, &args, body), show).await
        }
        Credentials::Sandbox => {
            // Signed with the sandbox keys for the production URL: the dry run's output, and
            // a check of placeholders and headers before a server is started for nothing.
            let offline = sandbox::offline_client_builder()?
                .merchant_identity(sandbox::merchant_identity()?)
                .build()?;
            let request = prepare(&offline, uri, &args, body.clone()).build()?;
            if args.dry_run {
                eprintln!(
                    "wxpay: no credentials given; signed with the embedded sandbox's test keys \
                     for {} (dry run: nothing is sent)",
                    offline.base_url()
                );
                return print_request(&request);
            }
            // Dropping the sandbox stops it: it lives until the answer is in. APIv2 calls
            // go over TLS, where the mutual-TLS ones present the merchant certificate.
            let sandbox = if is_apiv2(uri) {
                Sandbox::start_tls().await?
            } else {
                Sandbox::start().await?
            };
            eprintln!(
                "wxpay: no credentials given; using the embedded sandbox at {} (test keys)",
                sandbox.base_url()
            );
            send(prepare(&sandbox.client(), uri, &args, body), show).await
        }
    }
}

/// With the APIv3 key but no platform key, downloads the platform certificates (the
/// answer verified with the certificates it delivers) and trusts them for this call.
async fn trust_downloaded_certificates(client: &Wechatpay) -> Result<(), Failure> {
    if !client.verifier().ids().is_empty() {
        return Ok(());
    }
    for certificate in crate::crt::download(client).await? {
        client.verifier().add_certificate(certificate.certificate());
    }
    Ok(())
}

/// Sends, and prints the verified answer (or, with `-i`, the failed one on stderr).
async fn send(request: RequestBuilder, show: Show) -> Result<(), Failure> {
    match request.send().await {
        Ok(response) => print_answer(&response, show),
        Err(error) => {
            if show.include {
                show_failed_answer(&error, show);
            }
            Err(error.into())
        }
    }
}

/// Prints a signed request on stdout.
fn print_request(request: &http::Request<Vec<u8>>) -> Result<(), Failure> {
    let mut stdout = io::stdout().lock();
    output::request(&mut stdout, request)
        .and_then(|()| stdout.flush())
        .map_err(stdout_failure)
}

/// Refuses a URI that cannot name an endpoint, saying how to write it.
fn check_uri(uri: &str) -> Result<(), Failure> {
    if uri.trim().is_empty() {
        return Err(Failure::usage(
            "the URI is empty; name an endpoint, e.g. v3/certificates",
        ));
    }
    if uri.starts_with("http://") || uri.starts_with("https://") {
        return Err(Failure::usage(format!(
            "`{uri}` is a full URL; give only the path (e.g. v3/certificates) and the host with --base-url"
        )));
    }
    if !is_template(uri) && uri.split('.').any(str::is_empty) {
        return Err(Failure::usage(format!(
            "`{uri}` has an empty segment; write segments joined by single dots, e.g. v3.certificates"
        )));
    }
    Ok(())
}

/// Whether the URI names an APIv2 endpoint (a `v2` first segment).
fn is_apiv2(uri: &str) -> bool {
    let uri = uri.trim_start_matches('/');
    uri.starts_with("v2/") || uri.starts_with("v2.")
}

/// A URI with `/` or `{` is a template used literally; otherwise a dotted chain.
fn is_template(uri: &str) -> bool {
    uri.contains(['/', '{'])
}

/// The endpoint: a literal template, or dotted segments normalized like `chain!`.
fn endpoint(client: &Wechatpay, uri: &str) -> Chain {
    if is_template(uri) {
        client.chain(uri)
    } else {
        uri.split('.').fold(client.chain(""), Chain::seg)
    }
}

/// The request, unsigned: method, placeholders, query, headers, body, fixed signature inputs.
fn prepare(client: &Wechatpay, uri: &str, args: &CallArgs, body: Body) -> RequestBuilder {
    let Body { json: body, form } = body;
    let method = args.method.clone().unwrap_or(if body.is_some() {
        Method::POST
    } else {
        Method::GET
    });
    let mut request = match form {
        Some(form) => endpoint(client, uri).upload_multipart(form),
        None => endpoint(client, uri).request(method),
    };
    for pair in &args.params {
        request = request.param(pair.name.as_str(), pair.value.as_str());
    }
    for pair in &args.query {
        request = request.query(pair.name.as_str(), &pair.value);
    }
    for pair in &args.headers {
        request = request.header(&pair.name, &pair.value);
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    if let Some(timestamp) = args.timestamp {
        request = request.timestamp(timestamp);
    }
    if let Some(nonce) = &args.nonce {
        request = request.nonce(nonce.as_str());
    }
    // The catalog check runs with --check only, whatever the client's default.
    if args.check {
        request.check()
    } else {
        request.skip_check()
    }
}

/// What the request carries: a JSON body (`-d`) or an upload's form (`-F`).
#[derive(Clone)]
struct Body {
    json: Option<Vec<u8>>,
    form: Option<wechatpay::multipart::Multipart>,
}

/// The `-d` argument as the compact JSON bytes to send: the text itself, `@FILE`, or `-`
/// for standard input.
fn read_data(data: &str) -> Result<Vec<u8>, Failure> {
    let (text, origin) = match data {
        "-" => {
            let mut text = Vec::new();
            io::stdin().read_to_end(&mut text).map_err(|e| {
                Failure::usage(format!("cannot read the -d body from standard input: {e}"))
            })?;
            (text, "the -d body from standard input".to_owned())
        }
        _ => match data.strip_prefix('@') {
            Some(path) => {
                let text = std::fs::read(path).map_err(|e| {
                    Failure::usage(format!("cannot read the -d file `{path}`: {e}"))
                })?;
                (text, format!("the -d file `{path}`"))
            }
            None => (data.as_bytes().to_vec(), "the -d body".to_owned()),
        },
    };
    json::check(&text).map_err(|invalid| {
        Failure::usage(format!(
            "{origin} is not valid JSON at line {}, column {}: {}",
            invalid.line, invalid.column, invalid.message
        ))
    })?;
    // Checked JSON is UTF-8 (serde_json rejects anything else).
    let text = String::from_utf8_lossy(&text);
    Ok(json::compact(&text).into_bytes())
}

/// Prints a verified answer on stdout: an APIv2 answer's fields as JSON, unless `--raw`
/// asks for the XML as received.
fn print_answer(response: &Response, show: Show) -> Result<(), Failure> {
    let mut stdout = io::stdout().lock();
    output::answer(
        &mut stdout,
        response.status(),
        response.headers(),
        if show.raw {
            response.bytes()
        } else {
            response.json_bytes()
        },
        show,
    )
    .and_then(|()| stdout.flush())
    .map_err(stdout_failure)
}

/// With `-i`, the answer behind an API or verification error, on stderr only: stdout
/// never holds an answer that is not a verified success.
fn show_failed_answer(error: &Error, show: Show) {
    let (label, response) = match error {
        Error::Api(api) => ("the error answer", &api.response),
        Error::Verification {
            response: Some(response),
            ..
        } => (
            "UNVERIFIED answer (its signature failed)",
            response.as_ref(),
        ),
        _ => return,
    };
    let mut stderr = io::stderr().lock();
    let _ = writeln!(stderr, "wxpay: {label}:");
    let _ = output::answer(
        &mut stderr,
        response.status(),
        response.headers(),
        response.bytes(),
        show,
    );
    let _ = stderr.flush();
}

pub fn stdout_failure(error: io::Error) -> Failure {
    Failure::new(
        Exit::Other,
        format!("cannot write to standard output: {error}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_chains_normalize_and_templates_stay_literal() {
        let client = sandbox::offline_client().unwrap();
        let dotted = endpoint(&client, "v3.payscore.payafterOrders._out_order_no_.sync");
        assert_eq!(
            dotted.template(),
            "v3/payscore/payafter-orders/{out_order_no}/sync"
        );
        let literal = endpoint(&client, "/secapi/mch/addInstitutionsub");
        assert_eq!(literal.template(), "secapi/mch/addInstitutionsub");
    }

    #[test]
    fn uris_that_cannot_work_are_refused() {
        assert!(check_uri("").is_err());
        assert!(check_uri("https://api.mch.weixin.qq.com/v3/certificates").is_err());
        assert!(check_uri("v3..certificates").is_err());
        assert!(check_uri("v3.certificates").is_ok());
        assert!(check_uri("v3/bill/tradebill{?bill_date}").is_ok());
    }
}
