//! The retry loop: sign, send, classify, decide, wait, sign again. Each attempt is signed
//! on the signing pool with a fresh timestamp and nonce; the total timeout covers every
//! attempt and every wait; the decision is [`crate::retry::decide`]; the client's retry
//! budget has the last word. One `tracing` span covers the whole request.

use std::sync::Arc;

use tracing::field::Empty;
use tracing::Instrument as _;

use super::RequestBuilder;
use crate::error::{Error, TransportErrorKind};
use crate::retry::{self, Attempt, Decision, Outcome, Stop};
use crate::transport::{Limit, RawResponse};
use tokio::time::Instant;

impl RequestBuilder {
    /// Sends with retries; `finish` turns each raw answer into the result (verification
    /// and classification for [`send`](Self::send)).
    pub(crate) async fn execute<T, F>(self, finish: F) -> Result<T, Error>
    where
        F: Fn(RawResponse, &str) -> Result<T, Error>,
    {
        // The template, never its values: placeholder values may be personal data.
        let span = tracing::info_span!(
            "wechatpay.request",
            method = %self.method,
            template = %self.template,
            host = Empty,
            attempt = Empty,
            status = Empty,
            request_id = Empty,
            latency_ms = Empty,
        );
        self.run(finish, span.clone()).instrument(span).await
    }

    async fn run<T, F>(self, finish: F, span: tracing::Span) -> Result<T, Error>
    where
        F: Fn(RawResponse, &str) -> Result<T, Error>,
    {
        let pipeline = Arc::clone(&self.pipeline);
        let transport = &pipeline.transport;
        let policy = self.retry.unwrap_or(pipeline.retry);
        let idempotent = self.idempotent
            || matches!(
                self.method,
                http::Method::GET | http::Method::HEAD | http::Method::OPTIONS
            );

        let _slot = transport.slot().await;
        let started = Instant::now();
        let total = transport.timeouts().total;
        let deadline = started + total;
        // RSA off the executor threads (see `crypto::off_executor`).
        let (prepared, mut request) = crate::crypto::off_executor(move || {
            let prepared = self.prepare()?;
            let request = prepared.sign(true)?;
            Ok::<_, Error>((Arc::new(prepared), request))
        })
        .await??;
        pipeline.budget.deposit(started);

        let mut number = 1;
        loop {
            span.record("attempt", number);
            let limit = match policy.attempt_timeout {
                Some(each) if Instant::now() + each < deadline => Limit {
                    at: Instant::now() + each,
                    after: each,
                    per_attempt: true,
                },
                _ => Limit {
                    at: deadline,
                    after: total,
                    per_attempt: false,
                },
            };
            let sent = transport.send(request, limit).await;
            let host = match &sent {
                Ok(raw) => Some(raw.host.as_str()),
                Err(Error::Transport { host, .. }) => host.as_deref(),
                Err(_) => None,
            };
            if let Some(host) = host {
                span.record("host", host);
            }
            if let Ok(raw) = &sent {
                span.record("status", raw.status.as_u16());
                if let Some(id) = raw.headers.get("Request-ID").and_then(|v| v.to_str().ok()) {
                    span.record("request_id", id);
                }
            }
            let result = sent.and_then(|raw| finish(raw, &prepared.path));
            let now = Instant::now();
            let attempt = Attempt {
                number,
                idempotent,
                remaining: deadline.saturating_duration_since(now),
            };
            let outcome = outcome_of(&result, pipeline.clock().now());
            let wait = match retry::decide(&policy, &attempt, &outcome, jitter()) {
                Decision::Stop(stop) => {
                    finished(&span, started, &result, number, stop);
                    return result;
                }
                Decision::Retry(wait) => wait,
            };
            if !pipeline.budget.withdraw(now) {
                tracing::warn!(
                    attempt = number,
                    "wechatpay: not retrying: the client's retry budget is spent (an outage?)"
                );
                finished(&span, started, &result, number, Stop::Final);
                return result;
            }
            if let Err(error) = &result {
                tracing::info!(
                    attempt = number,
                    wait_ms = wait.as_millis() as u64,
                    error = %error,
                    "wechatpay: retrying after {wait:?}"
                );
            }
            pipeline.sleep(wait).await;
            number += 1;
            let again = Arc::clone(&prepared);
            request = crate::crypto::off_executor(move || again.sign(false)).await??;
        }
    }
}

/// What an attempt's result means for retrying. `now` reads `Retry-After` dates.
fn outcome_of<T>(result: &Result<T, Error>, now: std::time::SystemTime) -> Outcome {
    let Err(error) = result else {
        return Outcome::Final;
    };
    match error {
        Error::Transport { kind, .. } => match kind {
            TransportErrorKind::Connect => Outcome::NotSent,
            TransportErrorKind::Io | TransportErrorKind::AttemptTimeout { .. } => Outcome::Unknown,
            _ => Outcome::Final,
        },
        Error::Api(api) => Outcome::Answer {
            status: api.status,
            code: api.code.clone(),
            retry_after: api
                .response
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|value| retry::parse_retry_after(value, now)),
        },
        _ => Outcome::Final,
    }
}

/// A number in `[0, 1)` for the backoff's jitter.
fn jitter() -> f64 {
    let mut bytes = [0u8; 8];
    // The system's CSPRNG: a retry is rare enough for it. Should it fail, no jitter.
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).is_err() {
        return 1.0;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// Records the request's latency and ends with an event for `log` users and subscribers.
fn finished<T>(
    span: &tracing::Span,
    started: Instant,
    result: &Result<T, Error>,
    attempts: u32,
    stop: Stop,
) {
    let latency_ms = started.elapsed().as_millis() as u64;
    span.record("latency_ms", latency_ms);
    match result {
        Ok(_) => tracing::debug!(attempts, latency_ms, "wechatpay: request done"),
        Err(error) => tracing::debug!(
            attempts,
            latency_ms,
            error = %error,
            stopped = %stop,
            "wechatpay: request failed"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_in_the_unit_interval() {
        for _ in 0..1000 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }
}
