//! The client on an HTTP stack of the user's own ([`HttpSend`]): what the stack gets is
//! signed, what it returns is verified, and failover, retries and limits still apply.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::*;
use http::{Request, Response, StatusCode};
use wechatpay::sandbox::{Fault, Sandbox};
use wechatpay::transport::{BoxFuture, HttpSend, SendError};
use wechatpay::{Error, TransportErrorKind};

/// Answers every request with `answer()`, remembering the requests.
#[derive(Debug)]
struct Double {
    seen: Mutex<Vec<Request<Bytes>>>,
    answer: fn(&Request<Bytes>) -> Result<Response<Bytes>, SendError>,
}

impl HttpSend for Double {
    fn send(&self, request: Request<Bytes>) -> BoxFuture<'_, Result<Response<Bytes>, SendError>> {
        let answer = (self.answer)(&request);
        self.seen.lock().unwrap().push(request);
        Box::pin(async move { answer })
    }
}

fn double(answer: fn(&Request<Bytes>) -> Result<Response<Bytes>, SendError>) -> Arc<Double> {
    Arc::new(Double {
        seen: Mutex::new(Vec::new()),
        answer,
    })
}

#[tokio::test]
async fn a_transport_gets_signed_requests_and_cannot_skip_verification() {
    let forger = double(|_| {
        Ok(Response::builder()
            .status(200)
            .header("Wechatpay-Timestamp", "1554208460")
            .header("Wechatpay-Nonce", "n")
            .header("Wechatpay-Serial", wechatpay::sandbox::PLATFORM_SERIAL)
            .header("Wechatpay-Signature", "Zm9yZ2Vk")
            .body(Bytes::from_static(br#"{"trade_state":"SUCCESS"}"#))
            .unwrap())
    });
    let wxpay = wechatpay::sandbox::offline_client_builder()
        .unwrap()
        .http_sender(Arc::clone(&forger))
        .build()
        .unwrap();
    let seed = &seeds()[2];
    let error = wxpay
        .chain(seed.template)
        .post(&seed.body)
        .param("out_order_no", OUT_ORDER_NO)
        .await
        .unwrap_err();
    assert!(error.is_verification(), "{error:?}");
    let seen = forger.seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let sent = &seen[0];
    assert_eq!(
        sent.uri(),
        &*format!("https://api.mch.weixin.qq.com/v3/payscore/payafter-orders/{OUT_ORDER_NO}/sync")
    );
    // Signed over exactly what the transport got.
    let header = sent.headers()["authorization"].to_str().unwrap();
    let auth = wechatpay::sign::Authorization::parse(header).unwrap();
    let message = wechatpay::sign::message(
        "POST",
        sent.uri().path(),
        auth.timestamp,
        &auth.nonce_str,
        sent.body(),
    );
    let signature =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &auth.signature)
            .unwrap();
    let key =
        wechatpay::PrivateKey::from_pem(wechatpay::sandbox::MERCHANT_PRIVATE_KEY_PEM).unwrap();
    assert!(key.public_key().verify(&message, &signature));
}

/// Refuses one host as a connect failure and sends everything else on with the default stack.
#[derive(Debug)]
struct RefuseOne {
    refused: String,
    inner: Arc<dyn HttpSend>,
    refusals: Arc<AtomicU64>,
}

impl HttpSend for RefuseOne {
    fn send(&self, request: Request<Bytes>) -> BoxFuture<'_, Result<Response<Bytes>, SendError>> {
        if request.uri().authority().map(|a| a.as_str()) == Some(self.refused.as_str()) {
            self.refusals.fetch_add(1, Ordering::Relaxed);
            return Box::pin(async { Err(SendError::connect("refused by the test double")) });
        }
        self.inner.send(request)
    }
}

#[tokio::test]
async fn a_connect_error_of_a_transport_fails_over() {
    let sandbox = Sandbox::start().await.unwrap();
    let refusals = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&refusals);
    let primary = "127.0.0.1:9"; // never contacted: the double refuses it
    let wxpay = sandbox
        .client_builder()
        .unwrap()
        .base_url(format!("http://{primary}/"))
        .backup_base_url(sandbox.base_url())
        .wrap_http_sender(move |inner| RefuseOne {
            refused: primary.to_owned(),
            inner,
            refusals: counted,
        })
        .build()
        .unwrap();
    let seed = &seeds()[2];
    wxpay
        .chain(seed.template)
        .post(&seed.body)
        .param("out_order_no", OUT_ORDER_NO)
        .await
        .unwrap();
    assert_eq!(refusals.load(Ordering::Relaxed), 1);
    assert_eq!(
        sandbox.requests().len(),
        1,
        "the POST reached the backup once"
    );
}

#[tokio::test]
async fn limits_apply_to_a_transport_of_the_users_own() {
    let huge = double(|_| Ok(Response::new(Bytes::from(vec![b'x'; 2048]))));
    let wxpay = wechatpay::sandbox::offline_client_builder()
        .unwrap()
        .max_response_size(1024)
        .http_sender(Arc::clone(&huge))
        .build()
        .unwrap();
    let error = wxpay.chain("v3/certificates").get().await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Transport {
                kind: TransportErrorKind::BodyTooLarge { limit: 1024 },
                ..
            }
        ),
        "{error:?}"
    );

    // An I/O failure of a GET is retried, each attempt signed again.
    let broken = double(|_| Err(SendError::io("connection reset by the test double")));
    let wxpay = wechatpay::sandbox::offline_client_builder()
        .unwrap()
        .no_backup()
        .retry_sleep(|_| async {})
        .http_sender(Arc::clone(&broken))
        .build()
        .unwrap();
    let error = wxpay.chain("v3/certificates").get().await.unwrap_err();
    assert!(matches!(
        error,
        Error::Transport {
            kind: TransportErrorKind::Io,
            ..
        }
    ));
    let seen = broken.seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    assert_ne!(
        seen[0].headers()["authorization"],
        seen[1].headers()["authorization"]
    );
    // The source is kept.
    let source = std::error::Error::source(&error).unwrap().to_string();
    assert!(source.contains("test double"), "{source}");

    // The HTTP stack's own settings cannot be combined with a replacement stack.
    let error = wechatpay::sandbox::offline_client_builder()
        .unwrap()
        .proxy(wechatpay::Proxy::all("http://127.0.0.1:3128").unwrap())
        .http_sender(double(|_| Err(SendError::connect("x"))))
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("http_sender"), "{error}");
}

#[tokio::test]
async fn middleware_wraps_the_default_stack() {
    let sandbox = Sandbox::start().await.unwrap();
    #[derive(Debug)]
    struct Statuses(Arc<dyn HttpSend>, Arc<Mutex<Vec<StatusCode>>>);
    impl HttpSend for Statuses {
        fn send(
            &self,
            request: Request<Bytes>,
        ) -> BoxFuture<'_, Result<Response<Bytes>, SendError>> {
            Box::pin(async move {
                let answer = self.0.send(request).await;
                if let Ok(response) = &answer {
                    self.1.lock().unwrap().push(response.status());
                }
                answer
            })
        }
    }
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let shared = Arc::clone(&statuses);
    let wxpay = sandbox
        .client_builder()
        .unwrap()
        .retry_sleep(|_| async {})
        .wrap_http_sender(move |inner| Statuses(inner, shared))
        .build()
        .unwrap();
    sandbox.fault(Fault::FailTimes {
        status: StatusCode::BAD_GATEWAY,
        times: 1,
    });
    wxpay.chain("v3/certificates").get().await.unwrap();
    assert_eq!(
        *statuses.lock().unwrap(),
        [StatusCode::BAD_GATEWAY, StatusCode::OK]
    );
}
