//! HTTP proxies: which requests go through one (hyper-util's `Matcher`, curl's rules), and
//! the connector that reaches the platform through it: an HTTP CONNECT tunnel for
//! `https://` (hyper-util's `Tunnel`; the TLS session still runs end to end between the
//! client and the platform), absolute-form requests on the proxy connection for plain
//! `http://` (loopback only, e.g. the sandbox). Also the resolver that pins host names to
//! addresses ([`WechatpayBuilder::resolve`](crate::WechatpayBuilder::resolve)).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use base64::Engine as _;
use http::{HeaderValue, Uri};
use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

use super::hosts::is_loopback;
use crate::error::{BoxError, Error};

/// Which requests go through an HTTP proxy, and with which credentials.
///
/// The default ([`Proxy::from_env`]) reads `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and
/// `NO_PROXY` (or their lowercase forms) when the client is built, the way curl does;
/// loopback hosts (`localhost`, `127.0.0.1`, `::1`, such as the sandbox) never go through a
/// proxy taken from the environment. An explicit proxy ([`Proxy::all`]) applies to every
/// host except those of its [`no_proxy`](Self::no_proxy) list. `https://` requests go
/// through an HTTP CONNECT tunnel: the proxy sees the host name and port, never the
/// request, and TLS still ends at the client. Proxies must be `http://` URLs.
///
/// ```
/// use wechatpay::Proxy;
///
/// let egress = Proxy::all("http://proxy.internal:3128")?
///     .basic_auth("merchant", "s3cret")
///     .no_proxy("internal.example.com, 10.0.0.0/8");
/// let wxpay = wechatpay::sandbox::offline_client_builder()?.proxy(egress).build()?;
/// # let _ = wxpay;
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Clone)]
pub struct Proxy {
    rules: Arc<ProxyRules>,
}

impl Proxy {
    /// The proxies the environment names: `HTTPS_PROXY`/`https_proxy` for `https://`,
    /// `HTTP_PROXY`/`http_proxy` for `http://`, `ALL_PROXY`/`all_proxy` for both, minus the
    /// hosts of `NO_PROXY`/`no_proxy` (comma-separated names, which also cover their
    /// subdomains, IP addresses and CIDR ranges, or `*`). Loopback hosts are never proxied.
    /// In a CGI program (`REQUEST_METHOD` set) the environment is ignored, since a request
    /// header can set `HTTP_PROXY` there ("httpoxy").
    ///
    /// This is what a client uses unless told otherwise; the variables are read once, by
    /// [`WechatpayBuilder::build`](crate::WechatpayBuilder::build).
    pub fn from_env() -> Proxy {
        Proxy::from_vars(|name| std::env::var(name).ok())
    }

    /// As [`from_env`](Self::from_env), with the variables looked up by `vars` instead of
    /// the process environment (a configuration file, or a test).
    ///
    /// ```
    /// use wechatpay::Proxy;
    ///
    /// let proxy = Proxy::from_vars(|name| match name {
    ///     "HTTPS_PROXY" => Some("http://127.0.0.1:3128".to_owned()),
    ///     "NO_PROXY" => Some("api2.mch.weixin.qq.com".to_owned()),
    ///     _ => None,
    /// });
    /// assert_eq!(proxy.proxy_for("https://api.mch.weixin.qq.com/v3/certificates").as_deref(), Some("http://127.0.0.1:3128/"));
    /// assert_eq!(proxy.proxy_for("https://api2.mch.weixin.qq.com/v3/certificates"), None);
    /// assert_eq!(proxy.proxy_for("http://127.0.0.1:8080/v3/certificates"), None); // loopback
    /// ```
    pub fn from_vars(vars: impl Fn(&str) -> Option<String>) -> Proxy {
        let first = |names: [&str; 2]| names.iter().find_map(|name| vars(name)).unwrap_or_default();
        let settings = if vars("REQUEST_METHOD").is_some() {
            Settings::default()
        } else {
            Settings {
                all: first(["ALL_PROXY", "all_proxy"]),
                http: first(["HTTP_PROXY", "http_proxy"]),
                https: first(["HTTPS_PROXY", "https_proxy"]),
                no: first(["NO_PROXY", "no_proxy"]),
            }
        };
        Proxy::new(ProxyRules::new(settings, true))
    }

    /// One proxy for every request (unless [`no_proxy`](Self::no_proxy) exempts the
    /// host), loopback hosts included. Credentials in the URL
    /// (`http://user:password@proxy:3128`, percent-encoded) are sent as basic auth.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a URL that is not `http://host[:port]` (HTTPS and SOCKS
    /// proxies are not supported).
    ///
    /// ```
    /// use wechatpay::Proxy;
    ///
    /// let proxy = Proxy::all("http://127.0.0.1:3128")?;
    /// assert_eq!(proxy.proxy_for("http://127.0.0.1:8080/v3/certificates").as_deref(), Some("http://127.0.0.1:3128/"));
    /// assert!(Proxy::all("socks5://127.0.0.1:1080").is_err());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn all(url: impl AsRef<str>) -> Result<Proxy, Error> {
        let url = url.as_ref();
        let bad = |why: &str| Error::config(format!("proxy URL `{}` {why}", redact_userinfo(url)));
        let uri: Uri = url
            .parse()
            .map_err(|_| bad("is not a URL (expected e.g. http://proxy.internal:3128)"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                return Err(bad(&format!(
                    "has scheme `{other}`; only http:// proxies are supported (HTTPS requests \
                     still go through them in a CONNECT tunnel, encrypted end to end)"
                )))
            }
            None => return Err(bad("has no scheme; write it as http://host:port")),
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(bad("has no host"));
        }
        let settings = Settings {
            all: url.to_owned(),
            ..Settings::default()
        };
        Ok(Proxy::new(ProxyRules::new(settings, false)))
    }

    /// Sends these credentials to the proxy as HTTP basic authentication
    /// (`Proxy-Authorization`), replacing any from the URL or the environment. They are
    /// never printed.
    #[must_use = "basic_auth returns the changed proxy"]
    pub fn basic_auth(self, user: &str, password: &str) -> Proxy {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let auth = HeaderValue::from_str(&format!("Basic {token}"))
            .ok()
            .map(|mut value| {
                value.set_sensitive(true);
                value
            });
        self.with(|rules| rules.auth = auth)
    }

    /// Hosts that bypass the proxy, in `NO_PROXY` syntax: comma-separated host names
    /// (each also covering its subdomains), IP addresses, CIDR ranges, or `*`. Added to
    /// any list from the environment.
    #[must_use = "no_proxy returns the changed proxy"]
    pub fn no_proxy(self, hosts: &str) -> Proxy {
        self.with(|rules| {
            let no = &mut rules.settings.no;
            if !no.is_empty() {
                no.push(',');
            }
            no.push_str(hosts);
            rules.matcher = rules.settings.matcher();
        })
    }

    /// The proxy a request to `url` would go through (its URL without credentials), or
    /// `None` for a direct connection.
    pub fn proxy_for(&self, url: &str) -> Option<String> {
        let uri: Uri = url.parse().ok()?;
        self.rules
            .intercept(&uri)
            .map(|(proxy, _)| proxy.to_string())
    }

    fn new(rules: ProxyRules) -> Proxy {
        Proxy {
            rules: Arc::new(rules),
        }
    }

    fn with(self, change: impl FnOnce(&mut ProxyRules)) -> Proxy {
        let mut rules = Arc::unwrap_or_clone(self.rules);
        change(&mut rules);
        Proxy::new(rules)
    }

    pub(crate) fn rules(&self) -> Arc<ProxyRules> {
        Arc::clone(&self.rules)
    }
}

impl Default for Proxy {
    /// [`Proxy::from_env`].
    fn default() -> Self {
        Proxy::from_env()
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.rules.fmt(f)
    }
}

/// The `ALL_PROXY`, `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY` of a [`Proxy`], kept so the
/// matcher can be built again when [`Proxy::no_proxy`] adds exemptions.
#[derive(Clone, Default)]
struct Settings {
    all: String,
    http: String,
    https: String,
    no: String,
}

impl Settings {
    fn matcher(&self) -> Matcher {
        Matcher::builder()
            .all(self.all.clone())
            .http(self.http.clone())
            .https(self.https.clone())
            .no(self.no.clone())
            .build()
    }
}

/// The rules of a [`Proxy`], as the connector and the sender read them.
pub(crate) struct ProxyRules {
    settings: Settings,
    matcher: Matcher,
    /// Credentials given with [`Proxy::basic_auth`], over those of the URL.
    auth: Option<HeaderValue>,
    /// Whether the rules came from the environment (loopback hosts then go direct).
    from_env: bool,
}

impl Clone for ProxyRules {
    fn clone(&self) -> Self {
        ProxyRules {
            settings: self.settings.clone(),
            matcher: self.settings.matcher(),
            auth: self.auth.clone(),
            from_env: self.from_env,
        }
    }
}

impl ProxyRules {
    fn new(settings: Settings, from_env: bool) -> ProxyRules {
        ProxyRules {
            matcher: settings.matcher(),
            settings,
            auth: None,
            from_env,
        }
    }

    /// Whether no proxy is named at all (the environment sets none).
    pub(crate) fn is_empty(&self) -> bool {
        let Settings {
            all, http, https, ..
        } = &self.settings;
        all.is_empty() && http.is_empty() && https.is_empty()
    }

    /// The proxy for `dst` and the `Proxy-Authorization` to send it, if `dst` is proxied.
    pub(crate) fn intercept(&self, dst: &Uri) -> Option<(Uri, Option<HeaderValue>)> {
        let host = dst.host()?;
        if self.from_env && is_loopback(host) {
            return None;
        }
        let intercept = self.matcher.intercept(dst)?;
        let auth = self
            .auth
            .clone()
            .or_else(|| intercept.basic_auth().cloned());
        Some((intercept.uri().clone(), auth))
    }

    /// The credentials for a plain `http://` request forwarded by the proxy.
    pub(crate) fn forward_auth(&self, dst: &Uri) -> Option<HeaderValue> {
        if dst.scheme() != Some(&http::uri::Scheme::HTTP) {
            return None;
        }
        self.intercept(dst).and_then(|(_, auth)| auth)
    }
}

impl fmt::Debug for ProxyRules {
    /// The matcher's proxies without credentials (hyper-util's `Debug` leaves them out).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field(
                "from",
                &if self.from_env {
                    "environment"
                } else {
                    "explicit"
                },
            )
            .field("matcher", &self.matcher)
            .field("no_proxy", &self.settings.no)
            .field("basic_auth", &self.auth.as_ref().map(|_| ".."))
            .finish()
    }
}

/// `url` with any `user:password@` replaced, for error messages.
fn redact_userinfo(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://..@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// Host names pinned to addresses, ahead of the system resolver.
#[derive(Clone)]
pub(crate) struct Resolver {
    overrides: Arc<HashMap<String, Vec<SocketAddr>>>,
    system: GaiResolver,
}

impl Resolver {
    pub(crate) fn new(overrides: HashMap<String, Vec<SocketAddr>>) -> Resolver {
        Resolver {
            overrides: Arc::new(overrides),
            system: GaiResolver::new(),
        }
    }
}

impl Service<Name> for Resolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, io::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        self.system.poll_ready(cx)
    }

    fn call(&mut self, name: Name) -> Self::Future {
        if let Some(addrs) = self.overrides.get(&name.as_str().to_ascii_lowercase()) {
            let addrs = addrs.clone();
            return Box::pin(async move { Ok(addrs.into_iter()) });
        }
        let lookup = self.system.call(name);
        Box::pin(async move { Ok(lookup.await?.collect::<Vec<_>>().into_iter()) })
    }
}

/// Connects to the platform directly or through the proxy that the rules name.
#[derive(Clone)]
pub(crate) struct Connector {
    http: HttpConnector<Resolver>,
    proxy: Option<Arc<ProxyRules>>,
}

impl Connector {
    pub(crate) fn new(http: HttpConnector<Resolver>, proxy: Option<Arc<ProxyRules>>) -> Connector {
        Connector { http, proxy }
    }
}

/// A connection to the platform, or to a proxy that forwards plain-http requests.
pub(crate) struct Stream {
    io: TokioIo<TcpStream>,
    /// The connection is to a forwarding proxy: requests go in absolute form.
    forwarding: bool,
}

/// A failure to reach the platform through a proxy, naming the proxy (without credentials).
#[derive(Debug)]
struct ProxyError {
    proxy: Uri,
    source: BoxError,
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "through the proxy {}", self.proxy)
    }
}

impl std::error::Error for ProxyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

impl Service<Uri> for Connector {
    type Response = Stream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Stream, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let Some((proxy, auth)) = self
            .proxy
            .as_deref()
            .and_then(|rules| rules.intercept(&dst))
        else {
            let connecting = self.http.call(dst);
            return Box::pin(async move {
                let io = connecting.await?;
                Ok(Stream {
                    io,
                    forwarding: false,
                })
            });
        };
        let wrap = {
            let proxy = proxy.clone();
            move |source: BoxError| -> BoxError { Box::new(ProxyError { proxy, source }) }
        };
        if proxy.scheme_str() != Some("http") {
            let source: BoxError = format!(
                "the proxy scheme `{}` is not supported; use an http:// proxy",
                proxy.scheme_str().unwrap_or_default()
            )
            .into();
            return Box::pin(async move { Err(wrap(source)) });
        }
        if dst.scheme() == Some(&http::uri::Scheme::HTTP) {
            let connecting = self.http.call(proxy);
            return Box::pin(async move {
                let io = connecting.await.map_err(|e| wrap(e.into()))?;
                Ok(Stream {
                    io,
                    forwarding: true,
                })
            });
        }
        let mut tunnel = Tunnel::new(proxy, self.http.clone());
        if let Some(auth) = auth {
            tunnel = tunnel.with_auth(auth);
        }
        Box::pin(async move {
            let io = tunnel.call(dst).await.map_err(|e| wrap(e.into()))?;
            Ok(Stream {
                io,
                forwarding: false,
            })
        })
    }
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.forwarding)
    }
}

impl hyper::rt::Read for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_rules_follow_curl_and_leave_loopback_alone() {
        let proxy = Proxy::from_vars(|name| match name {
            "https_proxy" => Some("http://user:pa%40ss@10.0.0.1:3128".into()),
            "NO_PROXY" => Some("api2.mch.weixin.qq.com, 192.168.0.0/16".into()),
            _ => None,
        });
        let at = |url: &str| proxy.proxy_for(url);
        assert_eq!(
            at("https://api.mch.weixin.qq.com/").as_deref(),
            Some("http://10.0.0.1:3128/")
        );
        assert_eq!(at("https://api2.mch.weixin.qq.com/"), None);
        assert_eq!(
            at("https://x.api2.mch.weixin.qq.com/"),
            None,
            "subdomains too"
        );
        assert_eq!(at("https://192.168.3.4/"), None);
        assert_eq!(at("http://api.mch.weixin.qq.com/"), None, "no HTTP_PROXY");
        assert_eq!(at("https://localhost:8443/"), None);
        assert_eq!(at("https://127.0.0.1:8443/"), None);
        let (_, auth) = proxy
            .rules
            .intercept(&"https://api.mch.weixin.qq.com/".parse().unwrap())
            .unwrap();
        // "user:pa@ss"
        assert_eq!(auth.unwrap(), "Basic dXNlcjpwYUBzcw==");
        // No credentials in Debug.
        let shown = format!("{proxy:?}");
        assert!(
            !shown.contains("pa%40ss") && !shown.contains("dXNlcjpw"),
            "{shown}"
        );
    }

    #[test]
    fn cgi_programs_ignore_the_environment() {
        let proxy = Proxy::from_vars(|name| match name {
            "HTTPS_PROXY" => Some("http://10.0.0.1:3128".into()),
            "REQUEST_METHOD" => Some("GET".into()),
            _ => None,
        });
        assert_eq!(proxy.proxy_for("https://api.mch.weixin.qq.com/"), None);
    }

    #[test]
    fn an_explicit_proxy_covers_loopback_and_takes_extra_exemptions() {
        let proxy = Proxy::all("http://127.0.0.1:3128")
            .unwrap()
            .basic_auth("u", "p")
            .no_proxy("api2.mch.weixin.qq.com");
        assert!(proxy.proxy_for("http://127.0.0.1:8080/").is_some());
        assert!(proxy.proxy_for("https://api.mch.weixin.qq.com/").is_some());
        assert_eq!(proxy.proxy_for("https://api2.mch.weixin.qq.com/"), None);
        let forward = proxy
            .rules
            .forward_auth(&"http://127.0.0.1:8080/v3".parse().unwrap())
            .unwrap();
        assert_eq!(forward, "Basic dTpw");
        assert!(proxy
            .rules
            .forward_auth(&"https://api.mch.weixin.qq.com/v3".parse().unwrap())
            .is_none());
        // The environment's extra exemptions work too.
        let env = Proxy::from_vars(|n| (n == "HTTPS_PROXY").then(|| "http://10.0.0.1:1".into()))
            .no_proxy("api2.mch.weixin.qq.com");
        assert_eq!(env.proxy_for("https://api2.mch.weixin.qq.com/"), None);
        assert!(env.proxy_for("https://api.mch.weixin.qq.com/").is_some());
    }

    #[test]
    fn bad_proxy_urls_are_refused_without_printing_credentials() {
        for url in [
            "https://p:3128",
            "socks5://p:1080",
            "p:3128",
            "not a url",
            "http://",
        ] {
            assert!(Proxy::all(url).is_err(), "{url}");
        }
        let error = Proxy::all("ftp://user:secret@p:21").unwrap_err();
        assert!(!error.to_string().contains("secret"), "{error}");
    }
}
