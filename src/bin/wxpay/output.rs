//! How requests and answers are written out.

use std::io::{self, Write};

use http::{HeaderMap, Request, StatusCode};

use crate::json;

/// How to show an answer's body.
#[derive(Debug, Clone, Copy)]
pub struct Show {
    /// The status line and headers first.
    pub include: bool,
    /// The body bytes unchanged, JSON or not.
    pub raw: bool,
}

/// A signed request as text: the request line with the absolute URI, one header per line,
/// a blank line, the body.
pub fn request(out: &mut impl Write, request: &Request<Vec<u8>>) -> io::Result<()> {
    writeln!(out, "{} {}", request.method(), request.uri())?;
    headers(out, request.headers())?;
    writeln!(out)?;
    out.write_all(request.body())?;
    if !request.body().is_empty() {
        writeln!(out)?;
    }
    Ok(())
}

/// An answer: with `include`, the status line and headers; then the body (JSON
/// pretty-printed unless `raw`; nothing for an empty body).
pub fn answer(
    out: &mut impl Write,
    status: StatusCode,
    header_map: &HeaderMap,
    body: &[u8],
    show: Show,
) -> io::Result<()> {
    if show.include {
        writeln!(
            out,
            "HTTP/1.1 {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or_default()
        )?;
        headers(out, header_map)?;
        writeln!(out)?;
    }
    if show.raw {
        return out.write_all(body);
    }
    match std::str::from_utf8(body) {
        Ok(text) if json::check(body).is_ok() => writeln!(out, "{}", json::pretty(text)),
        _ => out.write_all(body),
    }
}

fn headers(out: &mut impl Write, headers: &HeaderMap) -> io::Result<()> {
    for (name, value) in headers {
        writeln!(out, "{name}: {}", String::from_utf8_lossy(value.as_bytes()))?;
    }
    Ok(())
}
