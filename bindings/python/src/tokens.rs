//! SAS token helpers: `create_token` and `validate_token`, the same code the relay runs.

use std::time::{SystemTime, UNIX_EPOCH};

use interlink_core::relay::sas::{
    Audience, Rights, SasValidator, TokenValidator, audience_of_uri, create_token as core_create,
};
use interlink_core::time::UnixTime;
use pyo3::prelude::*;

use crate::errors;
use crate::gateway::rules_of;

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// What a valid token says.
#[pyclass(frozen, get_all, module = "interlink._interlink")]
pub struct TokenInfo {
    /// The rule (`skn`) that signed it.
    key_name: String,
    /// That rule's rights, e.g. `"Listen, Send"`.
    rights: String,
    /// The token's expiry (`se`, Unix seconds).
    expiry: u64,
}

#[pymethods]
impl TokenInfo {
    fn __repr__(&self) -> String {
        format!(
            "TokenInfo(key_name={:?}, rights={:?}, expiry={})",
            self.key_name, self.rights, self.expiry
        )
    }
}

/// A SAS token for `resource` (e.g. `http://host:port/hc1`), signed with rule `key_name`'s
/// `key`, expiring at `expiry` (Unix seconds) or `ttl` seconds from now. Byte-for-byte what
/// Node's hyco `createRelayToken` makes for the same inputs.
#[pyfunction]
#[pyo3(signature = (resource, key_name, key, *, expiry = None, ttl = 3600))]
pub fn create_token(
    resource: &str,
    key_name: &str,
    key: &str,
    expiry: Option<u64>,
    ttl: u64,
) -> String {
    let expiry = expiry.unwrap_or_else(|| unix_now() + ttl);
    core_create(resource, key_name, key, UnixTime(expiry))
}

/// Checks `token` like the relay does for an operation on `resource` (a URI such as
/// `http://host:port/hc1`, `sb://host/hc1` or `ws://host/$hc/hc1`) needing `required`
/// rights (`"listen"`, `"send"`, `"manage"`), against `rules` (`(name, key, rights)`
/// tuples). `now` is Unix seconds (default: the clock). Raises `AuthError` with the relay's
/// status (401, 403) and a code such as `token_expired` or `invalid_audience`.
#[pyfunction]
#[pyo3(signature = (token, resource, rules, *, required = "send", now = None, grace_secs = 300))]
pub fn validate_token(
    token: &str,
    resource: &str,
    rules: Vec<(String, String, String)>,
    required: &str,
    now: Option<u64>,
    grace_secs: u64,
) -> PyResult<TokenInfo> {
    let required = Rights::parse_list(required)
        .map_err(|e| errors::config("invalid_rights", e.to_string()))?;
    let validator = SasValidator::new(rules_of(rules)?).with_expiry_grace(grace_secs);
    let (host, path) = audience_of_uri(resource);
    let audience = Audience {
        host: &host,
        path: &path,
    };
    let now = UnixTime(now.unwrap_or_else(unix_now));
    let valid = validator
        .validate(token, &audience, required, now)
        .map_err(|e| errors::to_pyerr(errors::classify_auth(&e)))?;
    Ok(TokenInfo {
        key_name: valid.key_name,
        rights: valid.rights.to_string(),
        expiry: valid.expiry,
    })
}
