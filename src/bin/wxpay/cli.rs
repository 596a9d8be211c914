//! The command line: options, their parsers, and the help text.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{Args, Parser, Subcommand, ValueEnum};
use http::Method;

use crate::failure::Exit;

const ABOUT: &str =
    "Call any WeChat Pay endpoint (APIv3 or APIv2) from a shell, signed and verified";

const LONG_ABOUT: &str = "\
Call any WeChat Pay endpoint from a shell. The request is signed with the merchant key,
the answer's signature is verified with the platform key, and only then is the body printed.
APIv2 endpoints (a `v2` first segment) are signed with the APIv2 key, their answers' sign
checked with it, and the mutual-TLS ones present the merchant certificate.

With no credentials at all, wxpay talks to the embedded sandbox (a platform double on
127.0.0.1 with published test keys), so the examples below work out of the box.";

const AFTER_HELP: &str =
    "See 'wxpay --help' for examples, credentials, the config file and exit codes.";

const AFTER_LONG_HELP: &str = r#"Examples:
  # The payscore sync of the seed pages, as a dotted chain (like the JS SDK):
  wxpay v3.payscore.serviceorder._out_order_no_.sync -p out_order_no=1234323JKHDFE1243252 \
    -d '{"appid":"wxd678efh567hg6787","service_id":"500001","type":"Order_Paid","detail":{"paid_time":"20091225091210"}}'

  # The same endpoint as a URI template (like the PHP SDK), the body read from a file:
  wxpay 'v3/payscore/serviceorder/{out_order_no}/sync' -p out_order_no=1234323JKHDFE1243252 -d @sync.json

  # A GET with a query string, showing the status line and headers:
  wxpay -i v3/bill/tradebill -q bill_date=2019-06-11 -q bill_type=ALL

  # Print the signed request instead of sending it:
  wxpay --dry-run v3.payscore.payafterOrders._out_order_no_.sync -p out_order_no=1234 -d @sync.json

  # Serve the sandbox for other tools; paste its `export` lines into another shell:
  wxpay sandbox --port 8080

  # Download the platform certificates into ./certs (wechatpay_<SERIAL>.pem):
  wxpay crt -o certs

  # Find an endpoint in the built-in catalog, then see how to call it:
  wxpay list 退款
  wxpay describe v3/refund/domestic/refunds

  # Refuse a typo or a missing required field before anything is signed or sent:
  wxpay --check v3/payscore/serviceorders/1234/sync -d '{}'

  # Upload an image (the signature covers the form's meta JSON, built from the file):
  wxpay v3/merchant/media/upload -F file=@logo.png

  # Download a bill, decompressed and checked against the platform's SHA-1:
  wxpay bill tradebill --date 2026-11-29 --type ALL --gzip -o tradebill.csv

  # APIv2: the same syntax, a `v2` first segment; the fields as JSON, sent as signed XML,
  # the answer's XML shown as JSON once its sign holds (--raw: the XML as received):
  wxpay v2.pay.micropay -d '{"appid":"wx2421b1c4370ec43b","mch_id":"1900000001","body":"image",
    "out_trade_no":"1415757673","total_fee":1,"spbill_create_ip":"14.17.22.52","auth_code":"120061098828009406"}'

URI forms:
  A URI containing `/` or `{` is a URI template, used literally (RFC 6570; `<name>` is an
  alias of `{name}`). Otherwise it is a dotted chain whose segments are normalized like the
  chain! macro: `payafterOrders` -> `payafter-orders`, `_out_order_no_` -> `{out_order_no}`.
  Give every placeholder a value with -p NAME=VALUE; values are percent-encoded.

Credentials (a flag beats the environment, which beats the config file):
  --mchid         WECHATPAY_MCHID          merchant id (商户号)
  --serial        WECHATPAY_SERIAL         merchant API certificate serial
  --private-key   WECHATPAY_PRIVATE_KEY    merchant private key file (apiclient_key.pem)
  --platform-key  WECHATPAY_PLATFORM_KEYS  ID=PATH: a platform certificate serial or a
                                           PUB_KEY_ID_..., and its public key or certificate
                                           PEM file; repeatable (comma-separated in the variable)
  --apiv3-key-file WECHATPAY_APIV3_KEY_FILE a file holding the APIv3 key; with it,
                                           --platform-key may be left out: the platform
                                           certificates are downloaded and trusted first
  --apiv2-key-file WECHATPAY_APIV2_KEY_FILE a file holding the APIv2 key, for v2/... calls
  --merchant-cert WECHATPAY_MERCHANT_CERT  apiclient_cert.pem, presented over mutual TLS by
                                           the v2 calls that need it (secapi/pay/refund, ...)
  --merchant-key  WECHATPAY_MERCHANT_KEY   its key; default: the --private-key file
  --merchant-p12  WECHATPAY_MERCHANT_P12   apiclient_cert.p12 instead (password: the merchant
                                           id; needs a wxpay built with --features pkcs12)
  --base-url      WECHATPAY_BASE_URL       default https://api.mch.weixin.qq.com/
  --config        WECHATPAY_CONFIG         a config file: TOML if it ends in .toml, JSON if
                                           .json, else whichever parses. Relative paths are
                                           resolved against the file's directory:

      mchid = "1900000001"
      serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
      private_key = "apiclient_key.pem"
      apiv3_key_file = "apiv3_key.txt"                  # optional
      apiv2_key_file = "apiv2_key.txt"                  # optional, for v2/... calls
      merchant_cert = "apiclient_cert.pem"              # optional, for mutual TLS
      base_url = "https://api.mch.weixin.qq.com/"      # optional
      [platform_keys]
      PUB_KEY_ID_0119000000012026112200000000000001 = "pub_key.pem"

  Give none of them to use the embedded sandbox; with --dry-run the sandbox's test keys sign
  a request for the production URL and nothing is sent. Giving some but not all of the
  merchant id, serial, private key and platform key is an error, never a silent fallback.

Output:
  stdout only ever holds a verified answer: a JSON body pretty-printed (key order kept), any
  other body as is, nothing for 204. -i adds the status line and headers; --raw prints the
  body bytes unchanged. Errors are one line on stderr starting with `wxpay: `; with -i the
  failing answer is shown on stderr too (labelled UNVERIFIED if its signature failed).

Exit codes:
  0  success: a 2xx answer whose signature holds (or --dry-run)
  1  any other failure (e.g. stdout closed)
  2  usage: unknown option, malformed -p/-q/-H, invalid JSON in -d, unreadable -d @file,
     a placeholder without value, a request --check refuses, an unknown URI to describe
  3  configuration: missing or bad key file, bad config file, incomplete credentials
  4  transport: connect, TLS, timeout, response too large, port in use
  5  API error: the platform answered non-2xx (status, code, message and Request-ID shown)
  6  verification: the answer's signature failed a check (which one, and the Request-ID),
     or a downloaded file's digest is not the one the platform announced

A download that fails (exit 4 for a file cut short, stalled, over the limit or with bad gzip;
6 for a digest mismatch) leaves no file at the -o path."#;

/// `wxpay`: the request by default, or a subcommand.
#[derive(Debug, Parser)]
#[command(
    name = "wxpay",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    after_long_help = AFTER_LONG_HELP,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// Something other than a request.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The request (when no subcommand is given).
    #[command(flatten)]
    pub call: CallArgs,
}

/// The subcommands. The request itself is the default action, so a subcommand name
/// (`sandbox`) cannot be used as a one-segment URI.
#[derive(Debug, Subcommand)]
// `Crt` holds the credentials (a dozen paths): one value, parsed once per run.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Serve the embedded sandbox platform on 127.0.0.1 for other tools
    ///
    /// Writes the sandbox's test keys to a fresh temporary directory and prints the base
    /// URL, the key paths and `export WECHATPAY_...` lines to paste into another shell, then
    /// serves until interrupted (Ctrl-C) or, with --until-eof, until standard input closes.
    Sandbox(SandboxArgs),
    /// Download the platform certificates and write them as wechatpay_<SERIAL>.pem
    ///
    /// Calls GET v3/certificates, decrypts each certificate with the APIv3 key, verifies
    /// the answer with the trusted keys plus the certificates just delivered, writes one
    /// PEM file per certificate into DIR, and prints serial, validity and path. Without
    /// credentials it downloads the embedded sandbox's certificate.
    Crt(CrtArgs),
    /// List the endpoints of the built-in catalog: METHOD template and summary
    ///
    /// With FILTER, only those whose path or summary contain every word of it (Chinese
    /// included), e.g. `wxpay list refund` or `wxpay list 退款`.
    List(ListArgs),
    /// Describe an endpoint: methods, placeholders, query parameters, required fields, an
    /// example -d body ready to paste, and the documentation link
    ///
    /// URI is a template, a dotted chain or a concrete path, e.g.
    /// `wxpay describe v3/pay/transactions/id/4200000001`.
    Describe(DescribeArgs),
    /// Download a bill, decompressed and checked against the platform's digest
    ///
    /// Calls the bill endpoint (GET v3/bill/tradebill, v3/bill/fundflowbill,
    /// v3/profitsharing/bills), then fetches the file from its download_url, streaming it
    /// through a temporary file that is renamed to FILE only once its digest matches. With
    /// --url, fetches a download_url you already have. A progress line is shown on a
    /// terminal. Prints the file, its size and the digest that matched.
    Bill(BillArgs),
}

/// The bills `wxpay bill` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BillName {
    /// GET v3/bill/tradebill (--type ALL, SUCCESS or REFUND)
    Tradebill,
    /// GET v3/bill/fundflowbill (--account-type BASIC, OPERATION or FEES)
    Fundflowbill,
    /// GET v3/bill/sub-merchant-fundflowbill (--sub-mchid; its files are encrypted by the
    /// platform, which this client does not decrypt yet: it says so)
    SubMerchantFundflowbill,
    /// GET v3/profitsharing/bills
    Profitsharing,
}

/// `wxpay bill` options.
#[derive(Debug, Args)]
pub struct BillArgs {
    /// Which bill (leave out with --url)
    #[arg(value_enum, value_name = "BILL")]
    pub bill: Option<BillName>,

    /// The bill's date
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<String>,

    /// tradebill: ALL, SUCCESS or REFUND
    #[arg(long = "type", value_name = "TYPE")]
    pub bill_type: Option<String>,

    /// fundflowbill: BASIC, OPERATION or FEES
    #[arg(long, value_name = "TYPE")]
    pub account_type: Option<String>,

    /// A sub-merchant's bill (service providers)
    #[arg(long, value_name = "ID")]
    pub sub_mchid: Option<String>,

    /// Ask for the file gzip-compressed (it is decompressed on the fly)
    #[arg(long)]
    pub gzip: bool,

    /// A download_url you already have, instead of a bill (with --hash-value)
    #[arg(long, value_name = "URL", conflicts_with_all = ["bill", "date", "bill_type", "account_type", "sub_mchid", "gzip"])]
    pub url: Option<String>,

    /// With --url: the digest's algorithm, SHA1, SHA256 or SM3
    #[arg(
        long,
        value_name = "ALGORITHM",
        default_value = "SHA1",
        requires = "url"
    )]
    pub hash_type: String,

    /// With --url: the digest the platform announced with it, in hex
    #[arg(long, value_name = "HEX", requires = "url")]
    pub hash_value: Option<String>,

    /// Where to write the file; it appears there only once its digest matches
    #[arg(short = 'o', long, value_name = "FILE", required = true)]
    pub output: PathBuf,

    /// Who signs and whom to trust.
    #[command(flatten)]
    pub credentials: CredentialArgs,
}

/// `wxpay list` options.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Words to look for in the path or the summary
    #[arg(value_name = "FILTER")]
    pub filter: Vec<String>,
}

/// `wxpay describe` options.
#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// The endpoint: a template, a dotted chain or a concrete path
    #[arg(value_name = "URI")]
    pub uri: String,
}

/// `wxpay crt` options.
#[derive(Debug, Args)]
pub struct CrtArgs {
    /// The directory to write the certificates into (created if needed)
    #[arg(short = 'o', long, value_name = "DIR", default_value = ".")]
    pub output: PathBuf,

    /// Who signs and whom to trust (a platform key is optional here).
    #[command(flatten)]
    pub credentials: CredentialArgs,
}

/// `wxpay sandbox` options.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// The port to listen on (0 picks a free one)
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub port: u16,

    /// Stop when standard input closes, removing the key directory (for scripts and tests
    /// that own the sandbox's lifetime)
    #[arg(long)]
    pub until_eof: bool,
}

/// One request: the endpoint, its inputs, and how to show the answer.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// The endpoint: a dotted chain (v3.payscore.serviceorder._out_order_no_.sync) or a URI
    /// template (v3/payscore/serviceorder/{out_order_no}/sync)
    #[arg(value_name = "URI", required = true)]
    pub uri: Option<String>,

    /// The HTTP method [default: GET, or POST with -d]
    #[arg(short = 'X', long, value_name = "METHOD", value_parser = parse_method)]
    pub method: Option<Method>,

    /// A placeholder value, e.g. -p out_order_no=1234 (repeatable)
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE", value_parser = parse_pair)]
    pub params: Vec<Pair>,

    /// A query parameter, appended percent-encoded (repeatable, order kept)
    #[arg(short = 'q', long = "query", value_name = "NAME=VALUE", value_parser = parse_pair)]
    pub query: Vec<Pair>,

    /// The JSON body: the text itself, @FILE to read a file, or - to read standard input
    #[arg(short = 'd', long, value_name = "JSON|@FILE|-")]
    pub data: Option<String>,

    /// An upload's form, as curl writes it: -F file=@PATH for the file, -F NAME=VALUE for
    /// a meta field (or a plain form field the endpoint takes) (repeatable; implies POST)
    #[arg(short = 'F', long = "form", value_name = "NAME=VALUE|NAME=@PATH", value_parser = parse_pair, conflicts_with = "data")]
    pub form: Vec<Pair>,

    /// An extra request header, e.g. -H 'Wechatpay-Serial: PUB_KEY_ID_...' (repeatable)
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = parse_header)]
    pub headers: Vec<Pair>,

    /// Print the signed request (request line, headers, body) and send nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Check the request against the built-in endpoint catalog before signing it: an unknown
    /// endpoint (with the closest ones), a missing placeholder, query parameter or required
    /// body field is a usage error (exit 2) and nothing is sent
    #[arg(long)]
    pub check: bool,

    /// Print the status line and the response headers before the body
    #[arg(short = 'i', long)]
    pub include: bool,

    /// Print the body bytes unchanged instead of pretty-printing JSON
    #[arg(long)]
    pub raw: bool,

    /// Fix the signature timestamp (Unix seconds), for snapshots and replays
    #[arg(long, hide = true, value_name = "UNIX_SECONDS")]
    pub timestamp: Option<u64>,

    /// Fix the signature nonce, for snapshots and replays
    #[arg(long, hide = true, value_name = "NONCE")]
    pub nonce: Option<String>,

    /// Who signs, and whom to trust.
    #[command(flatten)]
    pub credentials: CredentialArgs,
}

/// The merchant's credentials, each from a flag or the environment (the config file is
/// read later, for what these leave out).
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Credentials (none at all: the embedded sandbox)")]
pub struct CredentialArgs {
    /// Merchant id (商户号)
    #[arg(
        long,
        env = "WECHATPAY_MCHID",
        hide_env_values = true,
        value_name = "ID"
    )]
    pub mchid: Option<String>,

    /// Serial of the merchant API certificate
    #[arg(
        long,
        env = "WECHATPAY_SERIAL",
        hide_env_values = true,
        value_name = "HEX"
    )]
    pub serial: Option<String>,

    /// Merchant private key PEM file (apiclient_key.pem)
    #[arg(
        long,
        env = "WECHATPAY_PRIVATE_KEY",
        hide_env_values = true,
        value_name = "PATH"
    )]
    pub private_key: Option<PathBuf>,

    /// Trust a platform key: a certificate serial or PUB_KEY_ID_..., and its public key or
    /// certificate PEM file (repeatable; comma-separated in the variable)
    #[arg(
        long = "platform-key",
        env = "WECHATPAY_PLATFORM_KEYS",
        hide_env_values = true,
        value_name = "ID=PATH",
        value_delimiter = ',',
        value_parser = parse_pair
    )]
    pub platform_keys: Vec<Pair>,

    /// A file holding the 32-character APIv3 key: needed by `wxpay crt`, and lets a
    /// request without --platform-key download and trust the platform certificates first
    #[arg(
        long,
        env = "WECHATPAY_APIV3_KEY_FILE",
        hide_env_values = true,
        value_name = "PATH"
    )]
    pub apiv3_key_file: Option<PathBuf>,

    /// A file holding the 32-character APIv2 key: signs `v2/...` calls and checks their
    /// answers
    #[arg(
        long,
        env = "WECHATPAY_APIV2_KEY_FILE",
        hide_env_values = true,
        value_name = "PATH"
    )]
    pub apiv2_key_file: Option<PathBuf>,

    /// The merchant certificate PEM file (apiclient_cert.pem), presented over mutual TLS by
    /// the APIv2 calls that need it (secapi/pay/refund, red packets, transfers)
    #[arg(
        long,
        env = "WECHATPAY_MERCHANT_CERT",
        hide_env_values = true,
        value_name = "PATH"
    )]
    pub merchant_cert: Option<PathBuf>,

    /// The key of --merchant-cert [default: the --private-key file, which it is on the
    /// platform]
    #[arg(
        long,
        env = "WECHATPAY_MERCHANT_KEY",
        hide_env_values = true,
        value_name = "PATH"
    )]
    pub merchant_key: Option<PathBuf>,

    /// The merchant certificate and key as the platform's apiclient_cert.p12 (password: the
    /// merchant id), instead of --merchant-cert (a wxpay built with --features pkcs12)
    #[arg(
        long,
        env = "WECHATPAY_MERCHANT_P12",
        hide_env_values = true,
        value_name = "PATH",
        conflicts_with = "merchant_cert"
    )]
    pub merchant_p12: Option<PathBuf>,

    /// Where to send requests [default: https://api.mch.weixin.qq.com/]
    #[arg(
        long,
        env = "WECHATPAY_BASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub base_url: Option<String>,

    /// A TOML or JSON file with any of the above (see --help)
    #[arg(
        long,
        env = "WECHATPAY_CONFIG",
        hide_env_values = true,
        value_name = "PATH"
    )]
    pub config: Option<PathBuf>,
}

/// A `NAME=VALUE` (or `Name: value`) argument, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// The part before the separator.
    pub name: String,
    /// The part after it (may be empty, may contain the separator again).
    pub value: String,
}

/// Parses `NAME=VALUE` at the first `=`.
fn parse_pair(text: &str) -> Result<Pair, String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok(Pair {
            name: name.to_owned(),
            value: value.to_owned(),
        }),
        Some(_) => Err(format!("`{text}` has no name before `=`; write NAME=VALUE")),
        None => Err(format!("`{text}` has no `=`; write NAME=VALUE")),
    }
}

/// Parses `Name: value` and applies the library's rules for caller headers (a valid name,
/// printable ASCII, none of the headers that decide framing or identity), so a bad `-H`
/// is a usage error before anything is signed.
fn parse_header(text: &str) -> Result<Pair, String> {
    let Some((name, value)) = text.split_once(':') else {
        return Err(format!("`{text}` has no `:`; write 'Name: value'"));
    };
    let name = name.trim();
    let value = value.trim();
    if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(format!(
            "`{name}` is not a header name; write 'Name: value'"
        ));
    }
    wechatpay::RequestBuilder::check_header(name, value).map_err(|e| e.to_string())?;
    Ok(Pair {
        name: name.to_owned(),
        value: value.to_owned(),
    })
}

/// Parses an HTTP method, in any case.
fn parse_method(text: &str) -> Result<Method, String> {
    let upper = text.to_ascii_uppercase();
    match upper.as_str() {
        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" => {
            Method::from_bytes(upper.as_bytes()).map_err(|e| e.to_string())
        }
        _ => Err(format!("`{text}` is not GET, POST, PUT, PATCH or DELETE")),
    }
}

/// Parses the command line. On `--help`/`--version` prints them and returns the exit code
/// to end with; on a usage error prints one line and returns [`Exit::Usage`].
pub fn parse() -> Result<Cli, ExitCode> {
    Cli::try_parse().map_err(|error| match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = error.print();
            ExitCode::SUCCESS
        }
        // `wxpay` alone: the help is the most useful answer.
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = error.print();
            Exit::Usage.code()
        }
        _ => {
            eprintln!("wxpay: {}", one_line(&error));
            Exit::Usage.code()
        }
    })
}

/// Clap's several-line error as one line: the message, its tips, and where to read more.
fn one_line(error: &clap::Error) -> String {
    let rendered = error.render().to_string();
    let mut lines = rendered.lines().map(str::trim);
    let first = lines.next().unwrap_or_default();
    let message = first.strip_prefix("error: ").unwrap_or(first);
    let tips: Vec<&str> = lines.filter_map(|l| l.strip_prefix("tip: ")).collect();
    if tips.is_empty() {
        format!("{message}; see 'wxpay --help'")
    } else {
        format!("{message} ({}); see 'wxpay --help'", tips.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_split_at_the_first_equals_sign() {
        let pair = parse_pair("a=b=c").unwrap();
        assert_eq!((pair.name.as_str(), pair.value.as_str()), ("a", "b=c"));
        assert!(parse_pair("a").unwrap_err().contains("no `=`"));
        assert!(parse_pair("=b").unwrap_err().contains("no name"));
    }

    #[test]
    fn headers_need_a_colon_and_a_valid_name() {
        let pair = parse_header("Wechatpay-Serial:  PUB_KEY_ID_1 ").unwrap();
        assert_eq!(
            (pair.name.as_str(), pair.value.as_str()),
            ("Wechatpay-Serial", "PUB_KEY_ID_1")
        );
        assert!(parse_header("X-Foo").unwrap_err().contains("no `:`"));
        assert!(parse_header("X Foo: 1")
            .unwrap_err()
            .contains("not a header name"));
        for refused in ["Content-Length: 5", "Host: x", "transfer-encoding: chunked"] {
            assert!(parse_header(refused).unwrap_err().contains("cannot be set"));
        }
        assert!(parse_header("X-Note: caf\u{e9}")
            .unwrap_err()
            .contains("non-ASCII"));
    }

    #[test]
    fn methods_are_case_insensitive() {
        assert_eq!(parse_method("patch").unwrap(), Method::PATCH);
        assert!(parse_method("FETCH").is_err());
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
