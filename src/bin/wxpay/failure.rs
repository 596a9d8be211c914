//! Why `wxpay` stopped: a one-line message and a documented exit code.

use std::fmt;
use std::process::ExitCode;

use wechatpay::download::DownloadErrorKind;
use wechatpay::{Error, TemplateErrorKind};

/// The exit codes, one per kind of failure (documented in `--help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Anything not covered below.
    Other = 1,
    /// The command line is wrong: options, -p/-q/-H syntax, -d JSON, placeholders.
    Usage = 2,
    /// Credentials or keys: missing or bad files, an incomplete set, a bad config file.
    Config = 3,
    /// The exchange did not complete: connect, TLS, timeout, oversized answer.
    Transport = 4,
    /// The platform answered non-2xx.
    Api = 5,
    /// The answer's signature failed a check.
    Verification = 6,
}

impl Exit {
    /// As a process exit code.
    pub fn code(self) -> ExitCode {
        ExitCode::from(self as u8)
    }
}

/// A failure to report: printed as `wxpay: <message>` on one line of stderr.
#[derive(Debug)]
pub struct Failure {
    exit: Exit,
    message: String,
}

impl Failure {
    /// A failure of the given kind.
    pub fn new(exit: Exit, message: impl Into<String>) -> Failure {
        Failure {
            exit,
            message: message.into(),
        }
    }

    /// The command line is wrong.
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::new(Exit::Usage, message)
    }

    /// The credentials or their files are wrong.
    pub fn config(message: impl Into<String>) -> Failure {
        Failure::new(Exit::Config, message)
    }

    /// Prints the message on stderr and gives the exit code.
    pub fn report(self) -> ExitCode {
        eprintln!("wxpay: {self}");
        self.exit.code()
    }
}

impl fmt::Display for Failure {
    /// The message on one line, whatever the sources put in it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lines = self
            .message
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty());
        if let Some(first) = lines.next() {
            f.write_str(first)?;
        }
        for line in lines {
            write!(f, " {line}")?;
        }
        Ok(())
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        match &error {
            Error::Template {
                template,
                kind: TemplateErrorKind::MissingVariable { name },
            } => Failure::usage(format!(
                "placeholder `{name}` of `{template}` has no value; give it with -p {name}=VALUE"
            )),
            Error::Template { .. } | Error::Request { .. } => Failure::usage(with_sources(&error)),
            Error::Config { .. } | Error::Key { .. } => Failure::config(with_sources(&error)),
            Error::Transport { .. } => Failure::new(Exit::Transport, with_sources(&error)),
            Error::Api(api) => {
                let mut message = api_message(
                    api.status.as_u16(),
                    api.code.as_deref().unwrap_or_default(),
                    &api.message,
                    api.detail.as_ref(),
                    api.request_id.as_deref(),
                );
                // For a 404, the catalog's closest templates (the sandbox names them itself).
                if let Some(first) = api.suggestions.first() {
                    if !api.message.contains(first.as_str()) {
                        message.push_str(&format!(
                            "; closest in the catalog: {}",
                            api.suggestions.join(", ")
                        ));
                    }
                }
                Failure::new(Exit::Api, message)
            }
            Error::Verification { failure, response } => {
                let status = response.as_ref().map(|r| r.status().as_u16());
                let request_id = response.as_ref().and_then(|r| r.request_id());
                let mut message = match status {
                    Some(status) => format!("the {status} answer failed verification: {failure}"),
                    None => format!("the answer failed verification: {failure}"),
                };
                message.push_str(&format!(
                    " (Request-ID {}); its body is untrusted and was not printed",
                    request_id.unwrap_or("-")
                ));
                Failure::new(Exit::Verification, message)
            }
            // A file whose digest does not match is untrusted like a bad signature; one
            // that did not arrive whole is the transport's failure.
            Error::Download(download) => {
                let exit = match download.kind() {
                    DownloadErrorKind::DigestMismatch { .. } => Exit::Verification,
                    DownloadErrorKind::Write => Exit::Other,
                    _ => Exit::Transport,
                };
                let mut message = with_sources(&error);
                message.push_str("; nothing was written to the output file");
                Failure::new(exit, message)
            }
            _ => Failure::new(Exit::Other, with_sources(&error)),
        }
    }
}

/// `404 NOT_FOUND: message; detail: {...} (Request-ID ...)`.
fn api_message(
    status: u16,
    code: &str,
    message: &str,
    detail: Option<&serde_json::Value>,
    request_id: Option<&str>,
) -> String {
    let mut text = status.to_string();
    if !code.is_empty() {
        text.push(' ');
        text.push_str(code);
    }
    if !message.is_empty() {
        text.push_str(": ");
        text.push_str(message);
    }
    if let Some(detail) = detail {
        text.push_str(&format!("; detail: {detail}"));
    }
    text.push_str(&format!(" (Request-ID {})", request_id.unwrap_or("-")));
    text
}

/// The error's message followed by each source that it does not already quote.
fn with_sources(error: &Error) -> String {
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
