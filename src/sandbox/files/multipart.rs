//! The sandbox's own reader of `multipart/form-data` bodies (RFC 7578 over RFC 2046),
//! written apart from the crate's builder ([`crate::multipart`]) so that the two check
//! each other: what the client builds, the platform double reads independently.

use http::header::CONTENT_TYPE;
use http::HeaderMap;

/// At most this many parts (an upload has two or three).
const MAX_PARTS: usize = 32;
/// At most this many bytes of headers per part.
const MAX_HEADER_BYTES: usize = 8 << 10;

/// One part of a form.
#[derive(Debug)]
pub(crate) struct Part<'a> {
    /// `name` of its `Content-Disposition`.
    pub(crate) name: String,
    /// `filename` of its `Content-Disposition`, for a file.
    pub(crate) filename: Option<String>,
    /// Its `Content-Type`, if given.
    pub(crate) content_type: Option<String>,
    /// The content, exactly.
    pub(crate) data: &'a [u8],
}

/// A parsed form.
#[derive(Debug)]
pub(crate) struct Form<'a> {
    pub(crate) parts: Vec<Part<'a>>,
}

impl<'a> Form<'a> {
    /// The first part called `name`.
    pub(crate) fn part(&self, name: &str) -> Option<&Part<'a>> {
        self.parts.iter().find(|p| p.name == name)
    }
}

/// Parses `body` by the boundary of the `Content-Type` in `headers`.
pub(crate) fn parse<'a>(headers: &HeaderMap, body: &'a [u8]) -> Result<Form<'a>, String> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or("no Content-Type")?;
    let boundary = parameter(content_type, "boundary").ok_or("the Content-Type has no boundary")?;
    if boundary.is_empty() || boundary.len() > 70 {
        return Err("the boundary is not 1-70 characters".into());
    }
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    // The first delimiter may follow a preamble; the others follow a CRLF.
    let start = find(body, delimiter).ok_or("the boundary does not occur in the body")?;
    let mut rest = &body[start + delimiter.len()..];
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Ok(Form { parts });
        }
        rest = rest
            .strip_prefix(b"\r\n")
            .ok_or("a delimiter is not followed by CRLF")?;
        if parts.len() == MAX_PARTS {
            return Err(format!("more than {MAX_PARTS} parts"));
        }
        let head_end = find(rest, b"\r\n\r\n").ok_or("a part's headers do not end")?;
        if head_end > MAX_HEADER_BYTES {
            return Err("a part's headers are too long".into());
        }
        let head =
            std::str::from_utf8(&rest[..head_end]).map_err(|_| "a part's headers are not UTF-8")?;
        let content = &rest[head_end + 4..];
        let mut close = b"\r\n".to_vec();
        close.extend_from_slice(delimiter);
        let end = find(content, &close).ok_or("a part is not closed by the boundary")?;
        parts.push(part(head, &content[..end])?);
        rest = &content[end + close.len()..];
    }
}

fn part<'a>(head: &str, data: &'a [u8]) -> Result<Part<'a>, String> {
    let mut name = None;
    let mut filename = None;
    let mut content_type = None;
    for line in head.split("\r\n") {
        let (field, value) = line
            .split_once(':')
            .ok_or_else(|| format!("`{line}` is not a header"))?;
        let value = value.trim();
        match field.trim().to_ascii_lowercase().as_str() {
            "content-disposition" => {
                if !value.to_ascii_lowercase().starts_with("form-data") {
                    return Err(format!("Content-Disposition `{value}` is not form-data"));
                }
                name = parameter(value, "name");
                filename = parameter(value, "filename");
            }
            "content-type" => content_type = Some(value.to_owned()),
            _ => {}
        }
    }
    Ok(Part {
        name: name.ok_or("a part has no name")?,
        filename,
        content_type,
        data,
    })
}

/// The value of `name=value` or `name="value"` among `;`-separated parameters.
fn parameter(header: &str, name: &str) -> Option<String> {
    let mut rest = header;
    while let Some(semicolon) = rest.find(';') {
        rest = rest[semicolon + 1..].trim_start();
        let Some((key, value)) = rest.split_once('=') else {
            continue;
        };
        let quoted = value.strip_prefix('"');
        let text = match quoted {
            Some(inner) => inner.split('"').next().unwrap_or_default(),
            None => value.split(';').next().unwrap_or_default().trim(),
        };
        if key.trim().eq_ignore_ascii_case(name) {
            return Some(text.to_owned());
        }
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, content_type.parse().unwrap());
        headers
    }

    #[test]
    fn reads_a_form_as_curl_writes_it() {
        let body = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n{\"a\":1}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a b.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--X\r\n--XyZ--\r\n";
        let form = parse(&headers("multipart/form-data; boundary=XyZ"), body).unwrap();
        assert_eq!(form.parts.len(), 2);
        assert_eq!(form.part("meta").unwrap().data, b"{\"a\":1}");
        let file = form.part("file").unwrap();
        assert_eq!(file.filename.as_deref(), Some("a b.png"));
        assert_eq!(file.content_type.as_deref(), Some("image/png"));
        assert_eq!(file.data, b"\x89PNG\r\n--X");
        let quoted = parse(&headers("multipart/form-data; boundary=\"XyZ\""), body).unwrap();
        assert_eq!(quoted.parts.len(), 2);
    }

    #[test]
    fn malformed_forms_are_refused_with_a_reason() {
        let h = headers("multipart/form-data; boundary=B");
        assert!(parse(&headers("multipart/form-data"), b"").is_err());
        assert!(parse(&h, b"no boundary here").is_err());
        assert!(parse(
            &h,
            b"--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunclosed"
        )
        .is_err());
        assert!(parse(&h, b"--B\r\nX-No-Name: 1\r\n\r\nv\r\n--B--").is_err());
        let empty = parse(&h, b"--B--\r\n").unwrap();
        assert!(empty.parts.is_empty());
    }
}
