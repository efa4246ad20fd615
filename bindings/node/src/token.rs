//! SAS token helpers: `createToken` (byte-compatible with hyco's `createRelayToken`) and
//! `validateToken` (the gateway's own check), both thin calls into `interlink_core::relay::sas`.

use std::time::{SystemTime, UNIX_EPOCH};

use interlink_core::relay::sas::{
    Audience, Rights, SasValidator, SharedAccessRule, TokenValidator, audience_of_uri,
    create_token, node_style_audience,
};
use interlink_core::time::UnixTime;
use napi::Env;
use napi_derive::napi;

use crate::error::{BindError, BindResult};

/// A named SAS key and what tokens signed with it may do.
#[napi(object)]
#[derive(Clone)]
pub struct SharedAccessKey {
    /// The rule name (`skn` of the tokens it signs).
    pub name: String,
    /// The key text (used as written, like Azure's keys).
    pub key: String,
    /// `"listen"`, `"send"`, `"manage"` or a comma-separated mix; default all three.
    pub rights: Option<String>,
}

/// When a token made by `createToken` expires.
#[napi(object)]
pub struct TokenOptions {
    /// Lifetime from now, in seconds (default 3600).
    pub ttl_seconds: Option<f64>,
    /// Absolute expiry in Unix seconds; wins over `ttlSeconds`.
    pub expires_at: Option<f64>,
}

/// What `validateToken` checks a token against.
#[napi(object)]
pub struct ValidateOptions {
    /// The URI the token is for (`ws://host:port/$hc/hc1?...`, `http://host/hc1/x`, ...); only
    /// its host and path count, the way the gateway compares them.
    pub audience: String,
    /// The keys that may have signed the token.
    pub keys: Vec<SharedAccessKey>,
    /// The rights the token must grant (`"listen"`, `"send"`, ...); default none.
    pub rights: Option<String>,
    /// The current time in Unix seconds (default: the system clock).
    pub now: Option<f64>,
    /// Seconds a token stays valid past its expiry (default 300, like the gateway).
    pub grace_seconds: Option<f64>,
}

/// A token that passed validation.
#[napi(object)]
pub struct ValidatedToken {
    /// The rule that signed it.
    pub key_name: String,
    /// That rule's rights, e.g. `"listen,send,manage"`.
    pub rights: String,
    /// The token's expiry (`se`), in Unix seconds.
    pub expiry: f64,
}

/// Parses a rights list; `None` means all rights.
pub fn parse_rights(rights: Option<&str>) -> BindResult<Rights> {
    match rights {
        None => Ok(Rights::ALL),
        Some(r) => Rights::parse_list(r).map_err(|e| BindError::invalid(e.to_string())),
    }
}

/// The core rules of JS key specs.
pub fn rules_of(keys: &[SharedAccessKey]) -> BindResult<Vec<SharedAccessRule>> {
    keys.iter()
        .map(|k| {
            Ok(SharedAccessRule::new(
                k.name.clone(),
                k.key.clone(),
                parse_rights(k.rights.as_deref())?,
            ))
        })
        .collect()
}

/// A non-negative whole number of seconds or milliseconds from a JS number.
pub fn whole(n: f64, what: &str) -> BindResult<u64> {
    if n.is_finite() && n >= 0.0 {
        Ok(n as u64)
    } else {
        Err(BindError::invalid(format!(
            "{what} must be a non-negative number, not {n}"
        )))
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// The expiry (Unix seconds) the token options ask for.
fn expiry_of(o: Option<&TokenOptions>) -> BindResult<u64> {
    if let Some(at) = o.and_then(|o| o.expires_at) {
        return whole(at, "expiresAt");
    }
    let ttl = whole(
        o.and_then(|o| o.ttl_seconds).unwrap_or(3600.0),
        "ttlSeconds",
    )?;
    Ok(unix_now() + ttl)
}

/// Creates a SAS token for `uri` exactly like hyco's `createRelayToken(uri, keyName, key)`:
/// the audience is `uri` with the scheme forced to `http`, the query and the `$hc/` segment
/// removed (port kept).
#[napi(js_name = "createToken")]
pub fn create_token_js(
    env: Env,
    uri: String,
    key_name: String,
    key: String,
    options: Option<TokenOptions>,
) -> napi::Result<String> {
    let expiry = expiry_of(options.as_ref()).map_err(|e| e.into_napi(&env))?;
    Ok(create_token(
        &node_style_audience(&uri),
        &key_name,
        &key,
        UnixTime(expiry),
    ))
}

/// Checks `token` the way the gateway does (signature, expiry with grace, audience, rights).
/// Throws `ERR_INTERLINK_UNAUTHORIZED` with `status` 401 (or 403 for missing rights) and a
/// `reason` such as `"expired"` or `"bad-signature"`.
#[napi(js_name = "validateToken")]
pub fn validate_token_js(
    env: Env,
    token: String,
    options: ValidateOptions,
) -> napi::Result<ValidatedToken> {
    validate(&token, &options).map_err(|e| e.into_napi(&env))
}

fn validate(token: &str, o: &ValidateOptions) -> BindResult<ValidatedToken> {
    let rules = rules_of(&o.keys)?;
    let required = match &o.rights {
        None => Rights::NONE,
        Some(r) => parse_rights(Some(r))?,
    };
    let now = match o.now {
        Some(n) => whole(n, "now")?,
        None => unix_now(),
    };
    let mut validator = SasValidator::new(rules);
    if let Some(g) = o.grace_seconds {
        validator = validator.with_expiry_grace(whole(g, "graceSeconds")?);
    }
    let (host, path) = audience_of_uri(&o.audience);
    let audience = Audience {
        host: &host,
        path: &path,
    };
    let ok = validator.validate(token, &audience, required, UnixTime(now))?;
    Ok(ValidatedToken {
        key_name: ok.key_name,
        rights: ok.rights.to_string(),
        expiry: ok.expiry as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audiences_drop_port_scheme_and_hc_segment() {
        assert_eq!(
            audience_of_uri("ws://127.0.0.1:9090/$hc/hc1?sb-hc-action=listen"),
            ("127.0.0.1".to_string(), "hc1".to_string())
        );
        assert_eq!(
            audience_of_uri("https://Example.net/a%20b/c"),
            ("example.net".to_string(), "a b/c".to_string())
        );
    }

    #[test]
    fn created_tokens_validate_and_expire() {
        let keys = vec![SharedAccessKey {
            name: "root".into(),
            key: "secret".into(),
            rights: Some("send".into()),
        }];
        let uri = "http://127.0.0.1:1/hc1";
        let token = create_token(&node_style_audience(uri), "root", "secret", UnixTime(1000));
        let opts = |rights: &str, now: f64| ValidateOptions {
            audience: "ws://127.0.0.1:2/$hc/hc1".into(),
            keys: keys.clone(),
            rights: Some(rights.into()),
            now: Some(now),
            grace_seconds: Some(0.0),
        };
        let ok = validate(&token, &opts("send", 999.0)).unwrap();
        assert_eq!((ok.key_name.as_str(), ok.rights.as_str()), ("root", "send"));
        let e = validate(&token, &opts("listen", 999.0)).err().unwrap();
        assert_eq!(e.status, Some(403));
        let e = validate(&token, &opts("send", 1001.0)).err().unwrap();
        assert_eq!(e.reason.as_deref(), Some("expired"));
        assert!(validate(&token, &opts("bogus", 999.0)).is_err());
    }
}
