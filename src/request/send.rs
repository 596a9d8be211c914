//! The retry loop: sign, send, classify, decide, wait, sign again. Each attempt is signed
//! on the signing pool with a fresh timestamp and nonce; the total timeout covers every
//! attempt and every wait; the decision is [`crate::retry::decide`]; the client's retry
//! budget has the last word. One `tracing` span covers the whole request.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use tracing::field::Empty;
use tracing::Instrument as _;

use super::RequestBuilder;
use crate::error::{Error, TransportErrorKind};
use crate::retry::{self, Attempt, Decision, Outcome, Stop};
use crate::transport::{Limit, RawResponse, Transport};
use tokio::time::Instant;

/// One attempt's exchange: how a signed request is sent and its answer turned into the
/// result. [`Whole`] reads the whole answer (every JSON call); the file request of a
/// download streams its body to the destination (`super::download`).
pub(crate) trait Exchange {
    type Output;

    /// Sends `request` to `transport` within `limit` (`path`: the request's path and
    /// query after the base path) and records the answer's host, status and Request-ID on
    /// `span`.
    fn exchange<'a>(
        &'a mut self,
        transport: &'a Transport,
        request: Request<Bytes>,
        limit: Limit,
        path: &'a str,
        span: &'a tracing::Span,
    ) -> impl Future<Output = Result<Self::Output, Error>> + Send + 'a;
}

/// The exchange of every JSON call: the whole answer, then `finish` (verification and
/// classification).
pub(crate) struct Whole<F>(pub(crate) F);

impl<T, F> Exchange for Whole<F>
where
    F: Fn(RawResponse, &str) -> Result<T, Error> + Send + Sync,
{
    type Output = T;

    // Written out rather than `async fn`: that would require `T: 'a`, which callers'
    // result types need not meet (the result is made after the last borrow ends).
    #[allow(clippy::manual_async_fn)]
    fn exchange<'a>(
        &'a mut self,
        transport: &'a Transport,
        request: Request<Bytes>,
        limit: Limit,
        path: &'a str,
        span: &'a tracing::Span,
    ) -> impl Future<Output = Result<T, Error>> + Send + 'a {
        async move {
            let sent = transport.send(request, limit).await;
            match &sent {
                Ok(raw) => record(span, &raw.host, Some((raw.status, &raw.headers))),
                Err(Error::Transport {
                    host: Some(host), ..
                }) => record(span, host, None),
                Err(_) => {}
            }
            sent.and_then(|raw| (self.0)(raw, path))
        }
    }
}

/// Records the host that answered and, if an answer came, its status and Request-ID.
pub(crate) fn record(span: &tracing::Span, host: &str, answer: Option<(StatusCode, &HeaderMap)>) {
    span.record("host", host);
    if let Some((status, headers)) = answer {
        span.record("status", status.as_u16());
        if let Some(id) = headers.get("Request-ID").and_then(|v| v.to_str().ok()) {
            span.record("request_id", id);
        }
    }
}

impl RequestBuilder {
    /// Sends with retries; `finish` turns each raw answer into the result (verification
    /// and classification for [`send`](Self::send)).
    pub(crate) async fn execute<T, F>(self, finish: F) -> Result<T, Error>
    where
        F: Fn(RawResponse, &str) -> Result<T, Error> + Send + Sync,
    {
        self.execute_with(Whole(finish)).await
    }

    /// Sends with retries, each attempt by `exchange`.
    pub(crate) async fn execute_with<X: Exchange>(self, exchange: X) -> Result<X::Output, Error> {
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
        self.run(exchange, span.clone()).instrument(span).await
    }

    async fn run<X: Exchange>(
        self,
        mut exchange: X,
        span: tracing::Span,
    ) -> Result<X::Output, Error> {
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
            let result = exchange
                .exchange(transport, request, limit, &prepared.path, &span)
                .await;
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
        // A file request that failed on the connection before a byte was written.
        Error::Download(download) if download.retryable => Outcome::Unknown,
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
