//! What every request of one client passes through: its signer, base URL, transport,
//! verifier and clock. Built once by the client builder and shared (`Arc`) by the client,
//! its chains and its requests.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use http::HeaderValue;

use std::time::Duration;

use crate::clock::Clock;
use crate::crypto::{PrivateKey, PublicKey};
use crate::error::Error;
use crate::retry::{Budget, RetryPolicy, Sleep};
use crate::template::UriTemplate;
use crate::transport::{BaseUrl, Transport};
use crate::verify::Verifier;

/// How many distinct templates a client keeps parsed. Real code names at most a few hundred
/// endpoints; past the cap, new templates are parsed per request instead of cached.
const TEMPLATE_CACHE: usize = 1024;

pub(crate) struct Pipeline {
    pub(crate) mchid: String,
    /// The merchant certificate serial requests are signed under.
    pub(crate) serial: String,
    pub(crate) key: PrivateKey,
    /// The trust store, with the client's one clock.
    pub(crate) verifier: Verifier,
    /// Sent as `Wechatpay-Serial` on every request, so the platform signs with that key.
    pub(crate) public_key_id: Option<String>,
    pub(crate) base: BaseUrl,
    pub(crate) transport: Transport,
    pub(crate) user_agent: HeaderValue,
    /// Check every request against the endpoint catalog before signing.
    pub(crate) strict: bool,
    /// The client's retry policy (a request may bring its own).
    pub(crate) retry: RetryPolicy,
    /// Retries allowed to this client and its clones, whatever the policy.
    pub(crate) budget: Budget,
    /// How to wait between attempts; `None` for `tokio::time::sleep`.
    pub(crate) sleep: Option<Sleep>,
    /// The APIv2 key and merchant certificate (set by the builder after `new`).
    #[cfg(feature = "apiv2")]
    pub(crate) apiv2: super::Apiv2Config,
    templates: RwLock<HashMap<Box<str>, Arc<UriTemplate>>>,
}

/// The retry settings of a client.
pub(crate) struct Retries {
    pub(crate) policy: RetryPolicy,
    pub(crate) budget: Budget,
    pub(crate) sleep: Option<Sleep>,
}

impl Pipeline {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        mchid: String,
        serial: String,
        key: PrivateKey,
        verifier: Verifier,
        public_key_id: Option<String>,
        base: BaseUrl,
        transport: Transport,
        user_agent: HeaderValue,
        strict: bool,
        retries: Retries,
    ) -> Pipeline {
        Pipeline {
            mchid,
            serial,
            key,
            verifier,
            public_key_id,
            base,
            transport,
            user_agent,
            strict,
            retry: retries.policy,
            budget: retries.budget,
            sleep: retries.sleep,
            #[cfg(feature = "apiv2")]
            apiv2: super::Apiv2Config::default(),
            templates: RwLock::default(),
        }
    }

    /// Waits `wait` between two attempts, with the injected sleep if there is one.
    pub(crate) async fn sleep(&self, wait: Duration) {
        match &self.sleep {
            Some(sleep) => sleep(wait).await,
            None => tokio::time::sleep(wait).await,
        }
    }

    /// The client's one clock.
    pub(crate) fn clock(&self) -> &Clock {
        self.verifier.clock()
    }

    /// The parsed template for `text`, parsed once per client and kept.
    pub(crate) fn template(&self, text: &str) -> Result<Arc<UriTemplate>, Error> {
        // A poisoned lock still holds a consistent map: every write is one insert.
        let cache = self.templates.read().unwrap_or_else(|e| e.into_inner());
        if let Some(template) = cache.get(text) {
            return Ok(Arc::clone(template));
        }
        drop(cache);
        let template = Arc::new(UriTemplate::parse(text)?);
        let mut cache = self.templates.write().unwrap_or_else(|e| e.into_inner());
        if cache.len() < TEMPLATE_CACHE {
            cache.insert(text.into(), Arc::clone(&template));
        }
        Ok(template)
    }

    /// The platform key that encrypts sensitive fields (see
    /// [`Wechatpay::encryption_key`](crate::Wechatpay::encryption_key)).
    pub(crate) fn encryption_key(&self) -> Result<(String, PublicKey), Error> {
        self.verifier.encryption_key(self.public_key_id.as_deref())
    }
}
