//! Where requests go: the base URL, origins, and re-targeting a signed request to another
//! host.
//!
//! The APIv3 signature covers the method, the path and query, and the body, never the host,
//! so one signed request may be sent to the backup domain unchanged. Re-targeting replaces
//! the scheme and authority of the URI and nothing else.

use std::fmt;

use bytes::Bytes;
use http::uri::{Authority, Scheme};
use http::{Request, Uri};

use crate::error::Error;

/// The production API (the client's `DEFAULT_BASE_URL`).
pub(crate) const PRODUCTION_BASE_URL: &str = "https://api.mch.weixin.qq.com/";
/// The backup domain WeChat Pay documents (the client's `BACKUP_BASE_URL`).
pub(crate) const BACKUP_BASE_URL: &str = "https://api2.mch.weixin.qq.com/";

/// `scheme://host[:port]` of a host that serves the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    scheme: Scheme,
    authority: Authority,
}

impl Origin {
    /// Whether `uri` points at this origin.
    pub(crate) fn serves(&self, uri: &Uri) -> bool {
        uri.scheme() == Some(&self.scheme) && uri.authority() == Some(&self.authority)
    }

    /// The same request (method, path and query, headers, body, and so its signature),
    /// sent to this origin instead.
    pub(crate) fn retarget(&self, request: &Request<Bytes>) -> Result<Request<Bytes>, Error> {
        let mut parts = request.uri().clone().into_parts();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        let uri = Uri::from_parts(parts).map_err(|e| {
            Error::request_with(format!("cannot re-target the request to {self}"), e)
        })?;
        let mut retargeted = Request::new(request.body().clone());
        *retargeted.method_mut() = request.method().clone();
        *retargeted.uri_mut() = uri;
        *retargeted.version_mut() = request.version();
        *retargeted.headers_mut() = request.headers().clone();
        // The marks the stack acts on (mutual TLS) go along.
        *retargeted.extensions_mut() = request.extensions().clone();
        Ok(retargeted)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.authority)
    }
}

/// `host:port` of a URI (scheme default port added), or its text if it has no authority.
pub(crate) fn host_port_of(uri: &Uri) -> String {
    match (uri.scheme(), uri.authority()) {
        (Some(scheme), Some(authority)) => host_port(scheme, authority),
        _ => uri.to_string(),
    }
}

fn host_port(scheme: &Scheme, authority: &Authority) -> String {
    match authority.port_u16() {
        Some(_) => authority.to_string(),
        None if *scheme == Scheme::HTTP => format!("{}:80", authority.host()),
        None => format!("{}:443", authority.host()),
    }
}

/// The origin and base path of the API, e.g. `https://api.mch.weixin.qq.com` + `/`, or
/// `https://apihk.mch.weixin.qq.com` + `/hk/`: whatever path the base URL has is kept, and
/// signed, as part of every target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BaseUrl {
    pub(crate) origin: Origin,
    /// Starts and ends with `/`.
    pub(crate) path: String,
    /// The URL as given back by `Wechatpay::base_url()`: origin + path.
    text: String,
}

impl BaseUrl {
    /// Parses a base URL: `https://` anywhere, plain `http://` for loopback hosts only.
    pub(crate) fn parse(url: &str) -> Result<BaseUrl, Error> {
        let bad = |why: &str| Error::config(format!("base URL `{url}` {why}"));
        let uri: Uri = url
            .parse()
            .map_err(|_| bad("is not a URL (expected e.g. https://api.mch.weixin.qq.com/)"))?;
        let scheme = uri
            .scheme()
            .ok_or_else(|| bad("has no scheme (expected https://…)"))?;
        let authority = uri.authority().ok_or_else(|| bad("has no host"))?;
        let plain = *scheme == Scheme::HTTP;
        if plain && !is_loopback(authority.host()) {
            return Err(bad(
                "uses plain http:// to a non-loopback host; WeChat Pay requires https://",
            ));
        }
        if !plain && *scheme != Scheme::HTTPS {
            return Err(bad(&format!("has scheme `{scheme}`; expected https")));
        }
        if uri.query().is_some() {
            return Err(bad("has a query; give only scheme, host and base path"));
        }
        let mut path = uri.path().to_owned();
        if !path.ends_with('/') {
            path.push('/');
        }
        let origin = Origin {
            scheme: scheme.clone(),
            authority: authority.clone(),
        };
        let text = format!("{origin}{path}");
        Ok(BaseUrl { origin, path, text })
    }

    /// The URL: origin and base path, ending in `/`.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }
}

/// `localhost` or a loopback IP address (brackets of an IPv6 literal allowed).
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_keep_their_path_and_refuse_plain_http_off_loopback() {
        let base = BaseUrl::parse("https://api.mch.weixin.qq.com").unwrap();
        assert_eq!(base.origin.to_string(), "https://api.mch.weixin.qq.com");
        assert_eq!(base.path, "/");
        assert_eq!(base.as_str(), "https://api.mch.weixin.qq.com/");
        assert_eq!(
            host_port_of(&"https://api.mch.weixin.qq.com/v3".parse().unwrap()),
            "api.mch.weixin.qq.com:443"
        );
        assert_eq!(
            host_port_of(&"http://127.0.0.1:8080/".parse().unwrap()),
            "127.0.0.1:8080"
        );
        let hk = BaseUrl::parse("https://apihk.mch.weixin.qq.com/hk").unwrap();
        assert_eq!(hk.path, "/hk/");
        assert!(BaseUrl::parse("http://127.0.0.1:8080/").is_ok());
        assert!(BaseUrl::parse("http://[::1]:8080/").is_ok());
        assert!(BaseUrl::parse("http://localhost/").is_ok());
        assert!(BaseUrl::parse("http://api.mch.weixin.qq.com/").is_err());
        assert!(BaseUrl::parse("ftp://x/").is_err());
        assert!(BaseUrl::parse("not a url").is_err());
        assert!(BaseUrl::parse("https://x/?a=b").is_err());
    }

    #[test]
    fn retargeting_changes_the_host_and_nothing_else() {
        let request = Request::post("https://api.mch.weixin.qq.com/hk/v3/x/%2F?a=b%20c")
            .header("authorization", "signed")
            .body(Bytes::from_static(b"{}"))
            .unwrap();
        let backup = BaseUrl::parse("https://api2.mch.weixin.qq.com/")
            .unwrap()
            .origin;
        let moved = backup.retarget(&request).unwrap();
        assert_eq!(
            moved.uri(),
            "https://api2.mch.weixin.qq.com/hk/v3/x/%2F?a=b%20c"
        );
        assert_eq!(moved.method(), "POST");
        assert_eq!(moved.headers()["authorization"], "signed");
        assert_eq!(moved.body(), &Bytes::from_static(b"{}"));
        assert!(backup.serves(moved.uri()));
        // A host whose name contains the primary's is not mistaken for it.
        let tricky: Uri = "https://api.mch.weixin.qq.com.evil/v3".parse().unwrap();
        let primary = BaseUrl::parse("https://api.mch.weixin.qq.com/")
            .unwrap()
            .origin;
        assert!(!primary.serves(&tricky));
    }
}
