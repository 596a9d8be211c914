//! The background certificate refresher: its lifecycle belongs to the client.
//!
//! It starts lazily (building a client is synchronous and may happen outside a runtime),
//! with the first chain or notification handled inside a Tokio runtime, holds only a `Weak`
//! to the client between rounds, and ends with the last clone of the client.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::Inner;
use crate::certificates;

/// The refresher's settings and whether it is running.
pub(crate) struct Refresher {
    /// How often to download the platform certificates; `None` when not configured.
    interval: Option<Duration>,
    started: AtomicBool,
}

impl Refresher {
    pub(crate) fn new(interval: Option<Duration>) -> Refresher {
        Refresher {
            interval,
            started: AtomicBool::new(false),
        }
    }

    /// Spawns the refresher once, if configured and inside a Tokio runtime.
    pub(crate) fn ensure_started(&self, inner: &Arc<Inner>) {
        let Some(interval) = self.interval else {
            return;
        };
        if self.started.load(Ordering::Acquire) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return; // tried again by the next chain or notification
        };
        if self.started.swap(true, Ordering::AcqRel) {
            return;
        }
        runtime.spawn(refresh_loop(Arc::downgrade(inner), interval));
    }
}

/// Holds only a `Weak` between rounds, so the task ends with the last client clone.
async fn refresh_loop(inner: Weak<Inner>, interval: Duration) {
    loop {
        match inner.upgrade() {
            Some(inner) => refresh_once(&inner, interval).await,
            None => return,
        }
        tokio::time::sleep(interval).await;
    }
}

async fn refresh_once(inner: &Inner, interval: Duration) {
    let Some(key) = &inner.apiv3_key else {
        return; // the builder refuses a refresher without the key
    };
    let verifier = &inner.pipeline.verifier;
    match certificates::download(&inner.pipeline, key).await {
        Ok(certificates) => {
            // Certificate expiry is judged by the client's one clock.
            let now = verifier.now();
            for certificate in certificates {
                let known = verifier.key(certificate.serial()).is_some();
                if !known && certificate.not_after() >= now {
                    tracing::info!(
                        serial = certificate.serial(),
                        expires = certificate.expire_time(),
                        "wechatpay: trusting platform certificate {} (valid until {})",
                        certificate.serial(),
                        certificate.expire_time()
                    );
                    verifier.add_certificate(certificate.certificate());
                }
            }
            for serial in verifier.prune_expired(now) {
                tracing::info!(
                    serial = serial.as_str(),
                    "wechatpay: dropped expired platform certificate {serial}"
                );
            }
        }
        Err(e) if e.status() == Some(http::StatusCode::NOT_FOUND) => tracing::warn!(
            "wechatpay: v3/certificates answered 404 (a merchant in public-key mode has no \
             platform certificates); trying again in {interval:?}"
        ),
        Err(e) => tracing::warn!(
            error = %e,
            "wechatpay: refreshing the platform certificates failed: {e}; trying again in {interval:?}"
        ),
    }
}
