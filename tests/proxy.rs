//! Proxies and TLS roots, against real local servers: the sandbox behind a TLS front that
//! presents a certificate for `api.mch.weixin.qq.com` (tests/fixtures/tls), reached through
//! the sandbox's CONNECT proxy. Nothing leaves 127.0.0.1: the proxy sends every tunnel to
//! the front, and `resolve` pins the host names that bypass it.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use wechatpay::sandbox::{Sandbox, TestProxy};
use wechatpay::{Error, Proxy, RetryPolicy, TransportErrorKind, Wechatpay, WechatpayBuilder};

const CA: &str = include_str!("fixtures/tls/ca.pem");
const SERVER_CERT: &str = include_str!("fixtures/tls/server.pem");
const SERVER_KEY: &str = include_str!("fixtures/tls/server_key.pem");

/// Terminates TLS with the test certificate and passes the plaintext on to `upstream`.
struct TlsFront {
    addr: SocketAddr,
    connections: Arc<AtomicU64>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn tls_front(upstream: SocketAddr) -> TlsFront {
    let certs = CertificateDer::pem_slice_iter(SERVER_CERT.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&connections);
    let server = tokio::spawn(async move {
        let mut tasks = tokio::task::JoinSet::new();
        // Bounded: these tests make a handful of connections.
        for _ in 0..64 {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            counted.fetch_add(1, Ordering::Relaxed);
            let acceptor = acceptor.clone();
            tasks.spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let Ok(mut plain) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    TlsFront {
        addr,
        connections,
        server,
    }
}

/// The sandbox's credentials aimed at `base_url`, trusting the test CA.
fn https_client(sandbox: &Sandbox, base_url: &str) -> WechatpayBuilder {
    sandbox
        .client_builder()
        .unwrap()
        .base_url(base_url)
        .add_root_certificate_pem(CA)
}

fn env_with(proxy: &TestProxy) -> impl Fn(&str) -> Option<String> + use<> {
    let url = proxy.url();
    move |name| match name {
        "HTTPS_PROXY" => Some(url.clone()),
        "NO_PROXY" => Some("api2.mch.weixin.qq.com".into()),
        _ => None,
    }
}

#[tokio::test]
async fn https_goes_through_the_proxy_that_https_proxy_names_and_no_proxy_hosts_go_direct() {
    let sandbox = Sandbox::start().await.unwrap();
    let front = tls_front(sandbox.addr()).await;
    let proxy = TestProxy::start_to(front.addr).await.unwrap();

    let wxpay = https_client(&sandbox, "https://api.mch.weixin.qq.com/")
        .proxy(Proxy::from_vars(env_with(&proxy)))
        .build()
        .unwrap();
    let answer = wxpay.chain("v3/certificates").get().await.unwrap();
    assert_eq!(answer.status(), 200); // verified: the sandbox answered through the tunnel
    let seen = proxy.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].method, "CONNECT");
    assert_eq!(seen[0].target, "api.mch.weixin.qq.com:443");
    assert!(
        seen[0].tls,
        "the proxy saw a TLS handshake, not the request"
    );
    assert_eq!(front.connections.load(Ordering::Relaxed), 1);
    assert_eq!(sandbox.requests()[0].target, "/v3/certificates");

    // A NO_PROXY host: straight to the front (pinned by resolve), not through the proxy.
    let direct = https_client(&sandbox, "https://api2.mch.weixin.qq.com/")
        .proxy(Proxy::from_vars(env_with(&proxy)))
        .resolve("api2.mch.weixin.qq.com", front.addr)
        .build()
        .unwrap();
    direct.chain("v3/certificates").get().await.unwrap();
    assert_eq!(proxy.requests().len(), 1, "bypassed");
    assert_eq!(front.connections.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn the_platform_certificate_is_checked_end_to_end_through_the_tunnel() {
    let sandbox = Sandbox::start().await.unwrap();
    let front = tls_front(sandbox.addr()).await;
    let proxy = TestProxy::start_to(front.addr).await.unwrap();
    // Without the test CA the client refuses the certificate the front presents, even
    // though the proxy let the tunnel through: TLS ends at the client.
    let untrusting = sandbox
        .client_builder()
        .unwrap()
        .base_url("https://api.mch.weixin.qq.com/")
        .no_backup()
        .proxy(Proxy::all(proxy.url()).unwrap())
        .build()
        .unwrap();
    let error = untrusting.chain("v3/certificates").get().await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Transport {
                kind: TransportErrorKind::Tls,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(sandbox.requests().is_empty());

    // A whole rustls configuration trusting the CA works as well as the extra root.
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(CA.as_bytes()) {
        roots.add(certificate.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let configured = sandbox
        .client_builder()
        .unwrap()
        .base_url("https://api.mch.weixin.qq.com/")
        .proxy(Proxy::all(proxy.url()).unwrap())
        .tls_config(config)
        .build()
        .unwrap();
    configured.chain("v3/certificates").get().await.unwrap();

    // The two cannot be combined.
    let error = https_client(&sandbox, "https://api.mch.weixin.qq.com/")
        .tls_config(
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
        )
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("tls_config"), "{error}");
}

#[tokio::test]
async fn an_explicit_proxy_sends_basic_auth_and_a_refusal_names_the_proxy() {
    let sandbox = Sandbox::start().await.unwrap();
    let front = tls_front(sandbox.addr()).await;
    let proxy = TestProxy::start_to(front.addr).await.unwrap();
    proxy.require_basic_auth("merchant", "s3cret");

    let authorized = https_client(&sandbox, "https://api.mch.weixin.qq.com/")
        .proxy(
            Proxy::all(proxy.url())
                .unwrap()
                .basic_auth("merchant", "s3cret"),
        )
        .build()
        .unwrap();
    authorized.chain("v3/certificates").get().await.unwrap();
    // Credentials in the URL work too.
    let in_url = proxy.url().replace("http://", "http://merchant:s3cret@");
    https_client(&sandbox, "https://api.mch.weixin.qq.com/")
        .proxy(Proxy::all(&in_url).unwrap())
        .build()
        .unwrap()
        .chain("v3/certificates")
        .get()
        .await
        .unwrap();
    assert!(proxy.requests().iter().all(|r| r.authorized));

    let refused = https_client(&sandbox, "https://api.mch.weixin.qq.com/")
        .no_backup()
        .retry(RetryPolicy::none())
        .proxy(
            Proxy::all(proxy.url())
                .unwrap()
                .basic_auth("merchant", "wrong-password"),
        )
        .build()
        .unwrap();
    let error = refused.chain("v3/certificates").get().await.unwrap_err();
    assert!(error.is_connect(), "the request never left: {error:?}");
    let chain = error_chain(&error);
    assert!(
        chain.contains(&format!("through the proxy {}/", proxy.url())),
        "{chain}"
    );
    assert!(chain.contains("proxy authorization required"), "{chain}");
    assert!(!chain.contains("wrong-password") && !format!("{error:?}").contains("wrong-password"));
    assert!(!proxy.requests().last().unwrap().authorized);
    assert_eq!(sandbox.requests().len(), 2);
}

#[tokio::test]
async fn plain_http_goes_through_an_explicit_proxy_in_absolute_form() {
    let sandbox = Sandbox::start().await.unwrap();
    let proxy = TestProxy::start().await.unwrap();
    proxy.require_basic_auth("u", "p");
    let wxpay = sandbox
        .client_builder()
        .unwrap()
        .proxy(Proxy::all(proxy.url()).unwrap().basic_auth("u", "p"))
        .build()
        .unwrap();
    wxpay
        .chain("v3/certificates")
        .get()
        .query("offset", 1)
        .await
        .unwrap();
    let seen = proxy.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(
        seen[0].target,
        format!("{}v3/certificates?offset=1", sandbox.base_url())
    );
    assert!(seen[0].authorized);
    // The proxy's credentials went to the proxy only.
    let received = &sandbox.requests()[0];
    assert!(!received.headers.contains_key("proxy-authorization"));
    assert_eq!(received.target, "/v3/certificates?offset=1");
}

#[tokio::test]
async fn environment_proxies_leave_loopback_alone_and_can_be_turned_off() {
    let sandbox = Sandbox::start().await.unwrap();
    let proxy = TestProxy::start().await.unwrap();
    let url = proxy.url();
    let everything = move |name: &str| (name == "ALL_PROXY").then(|| url.clone());
    let wxpay = sandbox
        .client_builder()
        .unwrap()
        .proxy(Proxy::from_vars(everything))
        .build()
        .unwrap();
    wxpay.chain("v3/certificates").get().await.unwrap();
    assert!(
        proxy.requests().is_empty(),
        "the sandbox on 127.0.0.1 is reached directly"
    );

    // An explicit proxy that is down: a connect error naming it.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let down = sandbox
        .client_builder()
        .unwrap()
        .retry(RetryPolicy::none())
        .proxy(Proxy::all(format!("http://{closed}")).unwrap())
        .build()
        .unwrap();
    let error = down.chain("v3/certificates").get().await.unwrap_err();
    assert!(error.is_connect(), "{error:?}");
    assert!(error_chain(&error).contains(&format!("through the proxy http://{closed}/")));
    // And no proxy at all.
    sandbox
        .client_builder()
        .unwrap()
        .no_proxy()
        .build()
        .unwrap()
        .chain("v3/certificates")
        .get()
        .await
        .unwrap();
}

/// The environment variables themselves, read by a client built with no proxy setting.
/// Environment variables are process-wide and tests run on parallel threads, so this test
/// runs its client in a child process (this test binary again) with the variables set.
#[test]
fn https_proxy_from_the_process_environment_is_used_by_default() {
    if std::env::var_os("WECHATPAY_PROXY_TEST_FRONT").is_some() {
        return child_uses_the_environment();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let sandbox = Sandbox::start().await.unwrap();
        let front = tls_front(sandbox.addr()).await;
        let proxy = TestProxy::start_to(front.addr).await.unwrap();
        let mut child = tokio::process::Command::new(std::env::current_exe().unwrap());
        child
            .args([
                "--exact",
                "https_proxy_from_the_process_environment_is_used_by_default",
                "--test-threads=1",
            ])
            .env("WECHATPAY_PROXY_TEST_FRONT", front.addr.to_string())
            .env("HTTPS_PROXY", proxy.url())
            .env("NO_PROXY", "api2.mch.weixin.qq.com")
            .env_remove("https_proxy")
            .env_remove("no_proxy")
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy")
            .env_remove("REQUEST_METHOD")
            .kill_on_drop(true);
        let output = tokio::time::timeout(Duration::from_secs(60), child.output())
            .await
            .expect("the child finishes")
            .unwrap();
        assert!(
            output.status.success(),
            "child: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let seen = proxy.requests();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].target, "api.mch.weixin.qq.com:443");
        assert_eq!(
            front.connections.load(Ordering::Relaxed),
            2,
            "one proxied, one direct"
        );
        assert_eq!(sandbox.requests().len(), 2);
    });
}

/// The child's half: clients built without any proxy setting.
fn child_uses_the_environment() {
    let front: SocketAddr = std::env::var("WECHATPAY_PROXY_TEST_FRONT")
        .unwrap()
        .parse()
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = |base: &str| -> Wechatpay {
            wechatpay::sandbox::offline_client_builder()
                .unwrap()
                .base_url(base)
                .add_root_certificate_pem(CA)
                .resolve("api2.mch.weixin.qq.com", front)
                .retry(RetryPolicy::none())
                .build()
                .unwrap()
        };
        client("https://api.mch.weixin.qq.com/")
            .chain("v3/certificates")
            .get()
            .await
            .unwrap();
        client("https://api2.mch.weixin.qq.com/")
            .chain("v3/certificates")
            .get()
            .await
            .unwrap();
    });
}

#[cfg(feature = "native-roots")]
#[test]
fn the_operating_system_roots_can_be_added() {
    let built = wechatpay::sandbox::offline_client_builder()
        .unwrap()
        .tls_native_roots(true)
        .build();
    // A machine without any system roots is told so, by name.
    if let Err(error) = &built {
        assert!(error.to_string().contains("tls_native_roots"), "{error}");
        assert!(!std::path::Path::new("/etc/ssl/certs/ca-certificates.crt").exists());
    }
}

/// The error and its sources, one per line.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut lines = Vec::new();
    let mut current = Some(error);
    while let Some(e) = current {
        lines.push(e.to_string());
        current = e.source();
        assert!(lines.len() < 16);
    }
    lines.join("\n")
}
