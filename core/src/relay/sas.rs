//! Shared Access Signature (SAS) tokens: create, parse and validate (spec §2).
//!
//! A token looks like
//! `SharedAccessSignature sr=<urlenc(resource)>&sig=<urlenc(b64(hmac))>&se=<unix-sec>&skn=<rule>`,
//! where `hmac = HMAC-SHA256(key bytes as written, urlenc(resource) + "\n" + se)`.
//!
//! - Clients call [`create_token`] with an audience built by [`node_style_audience`],
//!   [`dotnet_style_audience`] or [`crate::relay::address::Endpoint::audience`].
//! - The relay validates tokens through the pluggable [`TokenValidator`] trait; [`SasValidator`]
//!   is the SAS implementation (a JWT validator can be plugged in the same way).
//!
//! Not here: reading tokens out of headers or queries (the gateway does that), anonymous-sender
//! policy (`RequiresClientAuthorization=false` is the gateway's decision), and any clock — the
//! current time is always an argument.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::Sha256;

use crate::time::UnixTime;

/// The bytes JavaScript's `encodeURIComponent` escapes: everything except
/// `A-Z a-z 0-9 - _ . ! ~ * ' ( )`. Used for `sr`, `sig`, `skn` and every query value we emit.
pub const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// Percent-encodes `s` byte-for-byte like JavaScript's `encodeURIComponent` (UTF-8, upper-case hex).
pub fn encode_uri_component(s: &str) -> String {
    utf8_percent_encode(s, URI_COMPONENT).to_string()
}

/// The prefix every SAS token carries.
pub const SAS_PREFIX: &str = "SharedAccessSignature";

/// How long after `se` a token is still accepted unless configured otherwise (clients renew at
/// expiry, not before; spec §7).
pub const DEFAULT_EXPIRY_GRACE_SECS: u64 = 300;

type HmacSha256 = Hmac<Sha256>;

/// Rights a SAS rule grants. Manage implies Listen and Send.
///
/// This is a small bit set; it does not know which operation needs which right (the gateway
/// asks for [`Rights::LISTEN`] on listen and [`Rights::SEND`] on connect or HTTP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rights(u8);

impl Rights {
    /// May open a listener control channel.
    pub const LISTEN: Rights = Rights(1);
    /// May connect as a sender (WebSocket or HTTP).
    pub const SEND: Rights = Rights(2);
    /// Management right; implies Listen and Send.
    pub const MANAGE: Rights = Rights(4);
    /// Listen, Send and Manage.
    pub const ALL: Rights = Rights(7);
    /// No rights at all.
    pub const NONE: Rights = Rights(0);

    /// True when `self` grants everything in `required`, counting Manage as Listen + Send.
    pub fn allows(self, required: Rights) -> bool {
        let mut effective = self.0;
        if effective & Self::MANAGE.0 != 0 {
            effective |= Self::LISTEN.0 | Self::SEND.0;
        }
        required.0 & !effective == 0
    }

    /// The rights in either set.
    pub fn union(self, o: Rights) -> Rights {
        Rights(self.0 | o.0)
    }

    /// Parses a list such as `"listen,send"`, `"Manage"` or `"Listen Send"`: case-insensitive,
    /// separated by commas, semicolons, `|` or whitespace. An empty list is [`Rights::NONE`].
    pub fn parse_list(s: &str) -> Result<Rights, SasError> {
        let mut rights = Rights::NONE;
        for word in s
            .split([',', ';', '|', ' ', '\t'])
            .filter(|w| !w.is_empty())
        {
            rights = rights.union(match word.to_ascii_lowercase().as_str() {
                "listen" => Rights::LISTEN,
                "send" => Rights::SEND,
                "manage" => Rights::MANAGE,
                _ => return Err(SasError::UnknownRight(word.to_string())),
            });
        }
        Ok(rights)
    }
}

impl std::ops::BitOr for Rights {
    type Output = Rights;
    fn bitor(self, o: Rights) -> Rights {
        self.union(o)
    }
}

impl fmt::Display for Rights {
    /// Lower-case names joined by commas (`"listen,send"`); empty for [`Rights::NONE`], so the
    /// output always parses back with [`Rights::parse_list`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Self::LISTEN, "listen"),
            (Self::SEND, "send"),
            (Self::MANAGE, "manage"),
        ];
        let mut first = true;
        for (bit, name) in names {
            if self.0 & bit.0 != 0 {
                if !first {
                    f.write_str(",")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

/// A named key with its rights, as configured on a namespace or hybrid connection.
///
/// Several rules may share a name (e.g. primary and secondary key); the validator accepts a
/// signature made with any of them. `Debug` never prints the key.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedAccessRule {
    /// The rule name, matched against the token's `skn`.
    pub name: String,
    /// The key string; its UTF-8 bytes are the HMAC key (it is not base64-decoded).
    pub key: String,
    /// What a token signed with this key may do.
    pub rights: Rights,
}

impl SharedAccessRule {
    /// Convenience constructor.
    pub fn new(name: impl Into<String>, key: impl Into<String>, rights: Rights) -> Self {
        SharedAccessRule {
            name: name.into(),
            key: key.into(),
            rights,
        }
    }
}

impl fmt::Debug for SharedAccessRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedAccessRule")
            .field("name", &self.name)
            .field("key", &"<redacted>")
            .field("rights", &self.rights)
            .finish()
    }
}

/// Parsed `SharedAccessSignature sr=…&sig=…&se=…&skn=…` (fields in any order, unknown fields
/// ignored). Parsing checks the syntax only; it does not verify the signature or expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SasToken {
    /// `sr` exactly as written (still URL-encoded); the signature is computed over this text.
    pub resource_raw: String,
    /// `sig`, percent-decoded, with `+` kept as `+` (it is base64).
    pub signature: String,
    /// `se`: expiry in Unix seconds.
    pub expiry: u64,
    /// `skn`: the rule name, percent-decoded.
    pub key_name: String,
}

impl SasToken {
    /// Parses a token in header form. Call [`normalize_token`] first if the text may have been
    /// URL-encoded once more (the validator does).
    pub fn parse(token: &str) -> Result<SasToken, SasError> {
        let token = token.trim();
        let rest = strip_prefix_ignore_case(token, SAS_PREFIX).ok_or(SasError::MissingPrefix)?;
        if !rest.starts_with([' ', '\t']) {
            return Err(SasError::MissingPrefix);
        }
        let (mut sr, mut sig, mut se, mut skn) = (None, None, None, None);
        for part in rest.trim_start().split('&').filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| SasError::BadField(part.into()))?;
            let slot = match key.to_ascii_lowercase().as_str() {
                "sr" => &mut sr,
                "sig" => &mut sig,
                "se" => &mut se,
                "skn" => &mut skn,
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return Err(SasError::DuplicateField(key.to_string()));
            }
        }
        let sr = sr.ok_or(SasError::MissingField("sr"))?;
        let sig = sig.ok_or(SasError::MissingField("sig"))?;
        let se = se.ok_or(SasError::MissingField("se"))?;
        let skn = skn.ok_or(SasError::MissingField("skn"))?;
        if se.is_empty() || !se.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SasError::BadExpiry(se.to_string()));
        }
        let expiry = se
            .parse()
            .map_err(|_| SasError::BadExpiry(se.to_string()))?;
        let decode = |field: &'static str, v: &str| {
            percent_decode_str(v)
                .decode_utf8()
                .map(Cow::into_owned)
                .map_err(|_| SasError::BadEncoding(field))
        };
        if sr.is_empty() {
            return Err(SasError::MissingField("sr"));
        }
        Ok(SasToken {
            resource_raw: sr.to_string(),
            signature: decode("sig", sig)?,
            expiry,
            key_name: decode("skn", skn)?,
        })
    }

    /// The percent-decoded `sr` (invalid UTF-8 replaced), i.e. the audience URI the token was made for.
    pub fn resource(&self) -> String {
        percent_decode_str(&self.resource_raw)
            .decode_utf8_lossy()
            .into_owned()
    }
}

/// Undoes one extra layer of URL encoding: `SharedAccessSignature%20sr%3D…` (or the form-encoded
/// `SharedAccessSignature+sr%3D…`) becomes `SharedAccessSignature sr=…`. Anything else is
/// returned trimmed and unchanged. It does not check that the result is a valid token.
pub fn normalize_token(raw: &str) -> Cow<'_, str> {
    let raw = raw.trim();
    let Some(rest) = strip_prefix_ignore_case(raw, SAS_PREFIX) else {
        return Cow::Borrowed(raw);
    };
    let body = if let Some(b) = strip_prefix_ignore_case(rest, "%20") {
        b
    } else if let Some(b) = rest.strip_prefix('+') {
        b
    } else {
        return Cow::Borrowed(raw);
    };
    let decoded = percent_decode_str(body).decode_utf8_lossy();
    Cow::Owned(format!("{} {}", &raw[..SAS_PREFIX.len()], decoded))
}

/// Creates a token: `sig = base64(HMAC-SHA256(key bytes as written, urlenc(resource) + "\n" + expiry))`,
/// with `sr`, `sig` and `skn` encoded like `encodeURIComponent` (matching Node's hyco helpers).
/// The resource is signed as given; build it with one of the audience helpers.
pub fn create_token(resource: &str, key_name: &str, key: &str, expiry: UnixTime) -> String {
    let sr = encode_uri_component(resource);
    let sig = BASE64.encode(signer(key, &sr, expiry.0).finalize().into_bytes());
    format!(
        "{SAS_PREFIX} sr={sr}&sig={}&se={}&skn={}",
        encode_uri_component(&sig),
        expiry.0,
        encode_uri_component(key_name)
    )
}

/// What a relay checks a token for when a client addresses `uri`: the host (no port, no
/// brackets) and the percent-decoded entity path, as [`Audience`] wants them. Accepts any of
/// the URI forms clients use (`ws://h:1/$hc/hc1?…`, `https://h/hc1/x`, `sb://h/hc1`).
pub fn audience_of_uri(uri: &str) -> (String, String) {
    let normalized = node_style_audience(uri);
    let rest = normalized.strip_prefix("http://").unwrap_or(&normalized);
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = match authority.strip_prefix('[') {
        Some(inner) => inner.split(']').next().unwrap_or(inner),
        None => authority.split(':').next().unwrap_or(authority),
    };
    let path = percent_decode_str(path.trim_matches('/')).decode_utf8_lossy();
    (host.to_string(), path.into_owned())
}

/// The audience Node's hyco `createRelayToken` would sign for a URI: scheme forced to `http`,
/// query and fragment removed, the first `$hc/` removed, port kept, host lower-cased (user info
/// dropped). `ws://127.0.0.1:9555/$hc/hc1?sb-hc-action=listen` → `http://127.0.0.1:9555/hc1`.
pub fn node_style_audience(uri: &str) -> String {
    let parts = UriParts::split(uri);
    let path = parts.path.replacen("$hc/", "", 1);
    let path = if path.is_empty() {
        "/".to_string()
    } else {
        path
    };
    format!("http://{}{}", parts.authority.to_lowercase(), path)
}

/// The audience the .NET SDK signs: `http://host[:port]/path/` — scheme forced to `http`, the
/// port dropped when it is the input scheme's default (80 for ws/http, 443 otherwise), query
/// and fragment removed, a leading `$hc` segment removed, and a trailing slash added.
pub fn dotnet_style_audience(uri: &str) -> String {
    let parts = UriParts::split(uri);
    let default_port = match parts.scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => 80,
        _ => 443,
    };
    let mut authority = parts.host.to_lowercase();
    if authority.contains(':') {
        authority = format!("[{authority}]");
    }
    if let Some(port) = parts
        .port
        .filter(|p| p.parse::<u16>().ok() != Some(default_port))
    {
        authority = format!("{authority}:{port}");
    }
    let mut path = parts.path.to_string();
    if path == "/$hc" || path.starts_with("/$hc/") {
        path.replace_range(..4, "");
    }
    if !path.ends_with('/') {
        path.push('/');
    }
    format!("http://{authority}{path}")
}

/// What the relay is checking a token for: host (no scheme; a port, if present, is ignored) and
/// entity path (e.g. `"hc1/suffix"`, percent-decoded, no leading slash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Audience<'a> {
    /// The namespace host the request arrived for.
    pub host: &'a str,
    /// The entity path the request addresses.
    pub path: &'a str,
}

/// What a successful validation yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedToken {
    /// The rule (`skn`) that signed the token.
    pub key_name: String,
    /// The rights of that rule.
    pub rights: Rights,
    /// The token's `se`, so the caller can schedule the 1008 close when it runs out.
    pub expiry: u64,
}

/// Pluggable token validation used by the relay; SAS is [`SasValidator`], JWT can plug in later.
pub trait TokenValidator: Send + Sync + 'static {
    /// Checks `token` (header form, possibly URL-encoded once more) for `audience`, demanding
    /// `required` rights at wall-clock time `now`.
    fn validate(
        &self,
        token: &str,
        audience: &Audience<'_>,
        required: Rights,
        now: UnixTime,
    ) -> Result<ValidatedToken, AuthError>;
}

impl<T: TokenValidator + ?Sized> TokenValidator for std::sync::Arc<T> {
    fn validate(
        &self,
        token: &str,
        audience: &Audience<'_>,
        required: Rights,
        now: UnixTime,
    ) -> Result<ValidatedToken, AuthError> {
        (**self).validate(token, audience, required, now)
    }
}

/// Validates SAS tokens against a set of rules.
///
/// Checks, in order: present → parses → `skn` known → signature (constant time, over the raw
/// `sr`) → expiry (`now > se + grace` fails) → audience (scheme and port ignored,
/// case-insensitive, trailing slash normalised, prefix match on whole path segments) → rights.
#[derive(Clone)]
pub struct SasValidator {
    rules: Vec<SharedAccessRule>,
    grace_secs: u64,
    host_check: bool,
}

impl SasValidator {
    /// A validator for `rules`, with a 300 s expiry grace and the host check on.
    pub fn new(rules: Vec<SharedAccessRule>) -> Self {
        SasValidator {
            rules,
            grace_secs: DEFAULT_EXPIRY_GRACE_SECS,
            host_check: true,
        }
    }

    /// Accept tokens up to `grace_secs` after their `se` (default 300 s).
    pub fn with_expiry_grace(mut self, grace_secs: u64) -> Self {
        self.grace_secs = grace_secs;
        self
    }

    /// Whether the token's host must equal `audience.host` (case-insensitive, port ignored).
    /// Default true; turn off for a relay reachable under several names.
    pub fn with_host_check(mut self, check: bool) -> Self {
        self.host_check = check;
        self
    }

    /// The configured rules.
    pub fn rules(&self) -> &[SharedAccessRule] {
        &self.rules
    }
}

impl fmt::Debug for SasValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SasValidator")
            .field("rules", &self.rules)
            .field("grace_secs", &self.grace_secs)
            .field("host_check", &self.host_check)
            .finish()
    }
}

impl TokenValidator for SasValidator {
    fn validate(
        &self,
        token: &str,
        audience: &Audience<'_>,
        required: Rights,
        now: UnixTime,
    ) -> Result<ValidatedToken, AuthError> {
        let token = normalize_token(token);
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        let parsed = SasToken::parse(&token).map_err(|_| AuthError::Malformed)?;
        let mut candidates = self
            .rules
            .iter()
            .filter(|r| r.name == parsed.key_name)
            .peekable();
        if candidates.peek().is_none() {
            return Err(AuthError::UnknownKeyName);
        }
        let sig = BASE64
            .decode(parsed.signature.as_bytes())
            .map_err(|_| AuthError::BadSignature)?;
        let rule = candidates
            .find(|r| {
                signer(&r.key, &parsed.resource_raw, parsed.expiry)
                    .verify_slice(&sig)
                    .is_ok()
            })
            .ok_or(AuthError::BadSignature)?;
        if now.0 > parsed.expiry.saturating_add(self.grace_secs) {
            return Err(AuthError::Expired);
        }
        if !audience_matches(&parsed.resource(), audience, self.host_check) {
            return Err(AuthError::InvalidAudience);
        }
        if !rule.rights.allows(required) {
            return Err(AuthError::InsufficientRights);
        }
        Ok(ValidatedToken {
            key_name: rule.name.clone(),
            rights: rule.rights,
            expiry: parsed.expiry,
        })
    }
}

/// Why a token was refused. Each variant carries the HTTP status and description the relay
/// answers with; on an established channel any of them closes it with 1008.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No token at all (401).
    #[error("{}", self.description())]
    Missing,
    /// The token text does not parse (401).
    #[error("{}", self.description())]
    Malformed,
    /// No rule has the token's `skn` (401).
    #[error("{}", self.description())]
    UnknownKeyName,
    /// The signature does not match any key of the named rule (401).
    #[error("{}", self.description())]
    BadSignature,
    /// `now` is past `se` plus the grace period (401; 1008 on an established channel).
    #[error("{}", self.description())]
    Expired,
    /// The token was made for another host or entity (401).
    #[error("{}", self.description())]
    InvalidAudience,
    /// A valid token whose rule lacks the right the operation needs (403).
    #[error("{}", self.description())]
    InsufficientRights,
}

impl AuthError {
    /// The HTTP status the relay answers a handshake or request with.
    pub fn http_status(&self) -> u16 {
        match self {
            AuthError::InsufficientRights => 403,
            _ => 401,
        }
    }

    /// The WebSocket close code for an established channel whose token fails (policy violation).
    pub fn close_code(&self) -> u16 {
        1008
    }

    /// The status description text the relay sends with [`AuthError::http_status`].
    pub fn description(&self) -> &'static str {
        match self {
            AuthError::Missing => {
                "TokenMissingOrInvalid: The request carries no authorization token."
            }
            AuthError::Malformed => "TokenMissingOrInvalid: The authorization token is malformed.",
            AuthError::UnknownKeyName => {
                "TokenMissingOrInvalid: The authorization token names an unknown key (skn)."
            }
            AuthError::BadSignature => {
                "TokenMissingOrInvalid: The authorization token has an invalid signature."
            }
            AuthError::Expired => "TokenMissingOrInvalid: The authorization token has expired.",
            AuthError::InvalidAudience => {
                "InvalidAudience: The authorization header contains a token with a wrong audience."
            }
            AuthError::InsufficientRights => {
                "Unauthorized: The token does not grant the rights this operation requires."
            }
        }
    }
}

/// Why a SAS token or rights list did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SasError {
    /// The text does not start with `SharedAccessSignature `.
    #[error("token does not start with \"SharedAccessSignature \"")]
    MissingPrefix,
    /// A required field (`sr`, `sig`, `se`, `skn`) is absent or empty.
    #[error("token has no `{0}` field")]
    MissingField(&'static str),
    /// A field appears twice.
    #[error("token field `{0}` appears twice")]
    DuplicateField(String),
    /// A `&`-separated part has no `=`.
    #[error("token part `{0}` is not key=value")]
    BadField(String),
    /// `se` is not a decimal number of seconds.
    #[error("token expiry `{0}` is not a number")]
    BadExpiry(String),
    /// A field does not percent-decode to UTF-8.
    #[error("token field `{0}` is not valid percent-encoded UTF-8")]
    BadEncoding(&'static str),
    /// A rights list names something other than listen, send or manage.
    #[error("unknown right `{0}` (expected listen, send or manage)")]
    UnknownRight(String),
}

fn signer(key: &str, encoded_resource: &str, expiry: u64) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(encoded_resource.as_bytes());
    mac.update(b"\n");
    mac.update(expiry.to_string().as_bytes());
    mac
}

/// `s` without `prefix`, compared ASCII case-insensitively.
pub(crate) fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// A URI cut into the pieces the audience rules need (no validation, no decoding).
struct UriParts<'a> {
    scheme: &'a str,
    /// host[:port] without user info.
    authority: &'a str,
    /// Host without brackets or port.
    host: &'a str,
    port: Option<&'a str>,
    /// Path without query or fragment (may be empty).
    path: &'a str,
}

impl<'a> UriParts<'a> {
    fn split(uri: &'a str) -> Self {
        let uri = uri.trim();
        let (scheme, rest) = match uri.split_once("://") {
            Some((s, r))
                if !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
            {
                (s, r)
            }
            _ => ("", uri),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..end];
        let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
        let after = &rest[end..];
        let path = &after[..after.find(['?', '#']).unwrap_or(after.len())];
        let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
            match inner.split_once(']') {
                Some((h, p)) => (h, p.strip_prefix(':')),
                None => (inner, None),
            }
        } else {
            match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        UriParts {
            scheme,
            authority,
            host,
            port,
            path,
        }
    }
}

/// Whether a token made for `resource` (decoded `sr`) covers `audience`.
fn audience_matches(resource: &str, audience: &Audience<'_>, host_check: bool) -> bool {
    let token = UriParts::split(resource);
    if host_check {
        let wanted = UriParts::split(audience.host).host;
        if token.host.to_lowercase() != wanted.to_lowercase() {
            return false;
        }
    }
    // The token's path is still URL-encoded; the audience path arrives decoded.
    let token_path = percent_decode_str(token.path)
        .decode_utf8_lossy()
        .trim_matches('/')
        .to_lowercase();
    let wanted = audience.path.trim_matches('/').to_lowercase();
    token_path.is_empty()
        || wanted == token_path
        || (wanted.starts_with(&token_path) && wanted.as_bytes()[token_path.len()] == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;
    use AuthError::*;
    use proptest::prelude::*;

    const VECTOR_RESOURCE: &str = "http://contoso.servicebus.windows.net/hyco/";
    const VECTOR_TOKEN: &str = "SharedAccessSignature \
        sr=http%3A%2F%2Fcontoso.servicebus.windows.net%2Fhyco%2F\
        &sig=Sac1n1QBEa7E6Gr99cFOu8c5kPgp%2BvK0eoGCgX3tULs%3D&se=1700000000&skn=root";
    const L: Rights = Rights::LISTEN;
    const S: Rights = Rights::SEND;

    fn validator() -> SasValidator {
        SasValidator::new(vec![
            SharedAccessRule::new("root", "secretkey", Rights::MANAGE),
            SharedAccessRule::new("listener", "lkey", L),
            SharedAccessRule::new("sender", "skey", S),
        ])
    }

    /// Validates `token` for `at` = "host/entity/path" with the default validator.
    fn check(token: &str, at: &str, required: Rights, now: u64) -> Result<String, AuthError> {
        check_with(&validator(), token, at, required, now)
    }

    fn check_with(
        v: &SasValidator,
        token: &str,
        at: &str,
        req: Rights,
        now: u64,
    ) -> Result<String, AuthError> {
        let (host, path) = at.split_once('/').unwrap_or((at, ""));
        let aud = Audience { host, path };
        v.validate(token, &aud, req, UnixTime(now))
            .map(|t| t.key_name)
    }

    type AudienceFn = fn(&str) -> String;

    fn token(resource: &str, name: &str, key: &str, se: u64) -> String {
        create_token(resource, name, key, UnixTime(se))
    }

    #[test]
    fn golden_vector_is_byte_exact_and_validates() {
        let t = token(VECTOR_RESOURCE, "root", "secretkey", 1_700_000_000);
        assert_eq!(t, VECTOR_TOKEN);
        let parsed = SasToken::parse(&t).unwrap();
        assert_eq!(
            parsed.signature,
            "Sac1n1QBEa7E6Gr99cFOu8c5kPgp+vK0eoGCgX3tULs="
        );
        assert_eq!(parsed.resource(), VECTOR_RESOURCE);
        assert_eq!(
            parsed.resource_raw,
            "http%3A%2F%2Fcontoso.servicebus.windows.net%2Fhyco%2F"
        );
        assert_eq!(
            (parsed.expiry, parsed.key_name.as_str()),
            (1_700_000_000, "root")
        );
        let aud = Audience {
            host: "contoso.servicebus.windows.net",
            path: "hyco",
        };
        let ok = validator()
            .validate(&t, &aud, L, UnixTime(1_699_999_000))
            .unwrap();
        let want = ValidatedToken {
            key_name: "root".into(),
            rights: Rights::MANAGE,
            expiry: 1_700_000_000,
        };
        assert_eq!(ok, want);
    }

    #[test]
    fn encode_uri_component_matches_javascript() {
        assert_eq!(encode_uri_component("AZaz09-_.!~*'()"), "AZaz09-_.!~*'()");
        let reserved = encode_uri_component(" +/=?&#:@$,;");
        assert_eq!(reserved, "%20%2B%2F%3D%3F%26%23%3A%40%24%2C%3B");
        assert_eq!(encode_uri_component("é€"), "%C3%A9%E2%82%AC");
    }

    #[test]
    fn parse_accepts_any_field_order_and_keeps_plus() {
        let text = "SharedAccessSignature skn=r&se=5&sig=a+b%2Bc%3D&sr=http%3a%2F%2Fh%2F&x=y";
        let t = SasToken::parse(text).unwrap();
        assert_eq!(t.signature, "a+b+c=");
        assert_eq!(
            (t.resource_raw.as_str(), t.resource()),
            ("http%3a%2F%2Fh%2F", "http://h/".into())
        );
        assert_eq!((t.expiry, t.key_name.as_str()), (5, "r"));
    }

    #[test]
    fn parse_errors() {
        #[rustfmt::skip]
        let cases = [
            ("sr=a&sig=b&se=1&skn=c", SasError::MissingPrefix),
            ("SharedAccessSignaturesr=a&sig=b&se=1&skn=c", SasError::MissingPrefix),
            (" sig=b&se=1&skn=c", SasError::MissingField("sr")),
            (" sr=&sig=b&se=1&skn=c", SasError::MissingField("sr")),
            (" sr=a&se=1&skn=c", SasError::MissingField("sig")),
            (" sr=a&sig=b&skn=c", SasError::MissingField("se")),
            (" sr=a&sig=b&se=1", SasError::MissingField("skn")),
            (" sr=a&sig=b&se=+1&skn=c", SasError::BadExpiry("+1".into())),
            (" sr=a&sig=b&se=99999999999999999999&skn=c", SasError::BadExpiry("99999999999999999999".into())),
            (" sr=a&sig=b&se=1&skn=c&se=2", SasError::DuplicateField("se".into())),
            (" sr=a&sig&se=1&skn=c", SasError::BadField("sig".into())),
            (" sr=a&sig=%FF&se=1&skn=c", SasError::BadEncoding("sig")),
        ];
        for (text, want) in cases {
            let text = text.replacen(
                ' ',
                "SharedAccessSignature ",
                usize::from(text.starts_with(' ')),
            );
            assert_eq!(SasToken::parse(&text), Err(want), "{text}");
        }
    }

    #[test]
    fn normalize_undoes_one_extra_encoding() {
        let once_more = encode_uri_component(VECTOR_TOKEN);
        assert!(once_more.starts_with("SharedAccessSignature%20sr%3Dhttp%253A"));
        assert_eq!(normalize_token(&once_more), VECTOR_TOKEN);
        assert_eq!(
            normalize_token(&once_more.replacen("%20", "+", 1)),
            VECTOR_TOKEN
        );
        let padded = format!("  {VECTOR_TOKEN} ");
        assert!(matches!(normalize_token(&padded), Cow::Borrowed(t) if t == VECTOR_TOKEN));
        let at = "contoso.servicebus.windows.net/hyco";
        assert_eq!(check(&once_more, at, S, 0), Ok("root".into()));
    }

    #[test]
    fn audience_helpers_golden() {
        #[rustfmt::skip]
        let cases: [(AudienceFn, &str, &str); 10] = [
            (node_style_audience, "ws://127.0.0.1:9555/$hc/hc1?sb-hc-action=listen", "http://127.0.0.1:9555/hc1"),
            (node_style_audience, "wss://NS.example:443/$hc/a/b?x#f", "http://ns.example:443/a/b"),
            (node_style_audience, "https://ns/hc1/$hc/x", "http://ns/hc1/x"),
            (node_style_audience, "sb://ns", "http://ns/"),
            (dotnet_style_audience, "sb://contoso.servicebus.windows.net/hyco", VECTOR_RESOURCE),
            (dotnet_style_audience, "wss://contoso.servicebus.windows.net:443/$hc/hyco?a", VECTOR_RESOURCE),
            (dotnet_style_audience, "ws://h:80/hc/", "http://h/hc/"),
            (dotnet_style_audience, "sb://h:9090/hc", "http://h:9090/hc/"),
            (dotnet_style_audience, "sb://[::1]:9090", "http://[::1]:9090/"),
            (dotnet_style_audience, "http://h:443/$hc", "http://h:443/"),
        ];
        for (f, uri, want) in cases {
            assert_eq!(f(uri), want, "{uri}");
        }
    }

    #[test]
    fn audiences_from_each_client_are_accepted() {
        for resource in [
            dotnet_style_audience("sb://127.0.0.1:9555/hc1"),
            node_style_audience("ws://127.0.0.1:9555/$hc/hc1?sb-hc-action=listen"),
            "HTTPS://127.0.0.1:1/HC1".to_string(),
            "sb://127.0.0.1/".to_string(),
            "127.0.0.1/hc1".to_string(),
        ] {
            let t = token(&resource, "listener", "lkey", 2_000);
            assert!(
                check(&t, "127.0.0.1:9555/hc1", L, 1_000).is_ok(),
                "{resource}"
            );
            assert!(
                check(&t, "127.0.0.1/hc1/sfx", L, 1_000).is_ok(),
                "{resource}"
            );
        }
    }

    #[test]
    fn audience_prefix_is_on_whole_segments() {
        let t = token("http://h/hc1", "sender", "skey", 100);
        let cases = [
            ("h/hc1", Ok("sender".to_string())),
            ("H:80/HC1/a/b", Ok("sender".to_string())),
            ("h/hc10", Err(InvalidAudience)),
            ("h/hc", Err(InvalidAudience)),
            ("h/", Err(InvalidAudience)),
            ("other/hc1", Err(InvalidAudience)),
        ];
        for (at, want) in cases {
            assert_eq!(check(&t, at, S, 0), want, "{at}");
        }
        let no_host = validator().with_host_check(false);
        assert!(check_with(&no_host, &t, "other/hc1", S, 0).is_ok());
        let encoded = token("http://h/my%20hc", "sender", "skey", 100);
        assert!(check(&encoded, "h/my hc/x", S, 0).is_ok());
    }

    #[test]
    fn rejections() {
        let t = token("http://h/hc1", "sender", "skey", 100);
        let raw = "http%3a%2f%2fh%2fhc1";
        let sig = BASE64.encode(signer("skey", raw, 100).finalize().into_bytes());
        let lower = format!(
            "SharedAccessSignature sr={raw}&sig={}&se=100&skn=sender",
            encode_uri_component(&sig)
        );
        #[rustfmt::skip]
        let cases = [
            (t.replace("skn=sender", "skn=nobody"), S, Err(UnknownKeyName)),
            (token("http://h/hc1", "sender", "other", 100), S, Err(BadSignature)),
            (t.replace("se=100", "se=1000"), S, Err(BadSignature)),
            ("SharedAccessSignature sr=h&sig=!!&se=1&skn=sender".into(), S, Err(BadSignature)),
            (String::new(), S, Err(Missing)),
            ("  ".into(), S, Err(Missing)),
            ("Bearer abc".into(), S, Err(Malformed)),
            (t.clone(), L, Err(InsufficientRights)),
            (token("http://h/", "listener", "lkey", 10), S, Err(InsufficientRights)),
            (token("http://h/", "root", "secretkey", 10), L | S, Ok("root".into())),
            // The signature covers the raw `sr`: valid with its own escapes, not once they change case.
            (lower.clone(), S, Ok("sender".into())),
            (lower.replace(raw, "http%3A%2F%2Fh%2Fhc1"), S, Err(BadSignature)),
        ];
        for (i, (text, required, want)) in cases.into_iter().enumerate() {
            assert_eq!(check(&text, "h/hc1", required, 0), want, "case {i}: {text}");
        }
    }

    #[test]
    fn expiry_grace_is_inclusive_and_configurable() {
        let t = token("http://h/", "sender", "skey", 1_000);
        assert!(check(&t, "h/x", S, 1_300).is_ok());
        assert_eq!(check(&t, "h/x", S, 1_301), Err(Expired));
        let strict = validator().with_expiry_grace(0);
        assert!(check_with(&strict, &t, "h/x", S, 1_000).is_ok());
        assert_eq!(check_with(&strict, &t, "h/x", S, 1_001), Err(Expired));
        let far = token("http://h/", "sender", "skey", u64::MAX);
        assert!(check_with(&validator(), &far, "h/x", S, u64::MAX).is_ok());
    }

    #[test]
    fn rules_sharing_a_name_rotate_keys() {
        let v = SasValidator::new(vec![
            SharedAccessRule::new("r", "primary", S),
            SharedAccessRule::new("r", "secondary", S),
        ]);
        for key in ["primary", "secondary"] {
            assert!(
                check_with(&v, &token("http://h/", "r", key, 10), "h/hc", S, 0).is_ok(),
                "{key}"
            );
        }
        assert_eq!(
            check_with(&v, &token("http://h/", "r", "third", 10), "h/hc", S, 0),
            Err(BadSignature)
        );
        assert_eq!(v.rules().len(), 2);
    }

    #[test]
    fn rights_allow_matrix_parse_and_display() {
        assert!(Rights::MANAGE.allows(L | S) && Rights::MANAGE.allows(Rights::ALL));
        assert!(!L.allows(S) && !S.allows(L) && !(L | S).allows(Rights::MANAGE));
        assert!(Rights::NONE.allows(Rights::NONE) && !Rights::NONE.allows(L));
        assert_eq!(Rights::parse_list("Listen Send"), Ok(L | S));
        assert_eq!(Rights::parse_list("listen,send"), Ok(L.union(S)));
        assert_eq!(Rights::parse_list(" MANAGE "), Ok(Rights::MANAGE));
        assert_eq!(Rights::parse_list(""), Ok(Rights::NONE));
        assert_eq!(
            Rights::parse_list("listen,admin"),
            Err(SasError::UnknownRight("admin".into()))
        );
        assert_eq!(Rights::ALL.to_string(), "listen,send,manage");
        assert_eq!((S | L).to_string(), "listen,send");
        assert_eq!(Rights::NONE.to_string(), "");
    }

    #[test]
    fn auth_errors_map_to_status_and_text() {
        assert_eq!(InsufficientRights.http_status(), 403);
        assert_eq!(InvalidAudience.http_status(), 401);
        let text =
            "InvalidAudience: The authorization header contains a token with a wrong audience.";
        assert_eq!(InvalidAudience.to_string(), text);
        for e in [Missing, Malformed, UnknownKeyName, BadSignature, Expired] {
            assert_eq!((e.http_status(), e.close_code()), (401, 1008));
            assert!(e.to_string().starts_with("TokenMissingOrInvalid"), "{e:?}");
        }
    }

    #[test]
    fn debug_never_prints_keys() {
        let text = format!("{:?}", validator());
        assert!(text.contains("listener") && !text.contains("lkey") && !text.contains("secretkey"));
    }

    #[test]
    fn arc_validator_forwards() {
        let v: std::sync::Arc<dyn TokenValidator> = std::sync::Arc::new(validator());
        let t = token("http://h/", "sender", "skey", 10);
        let aud = Audience {
            host: "h",
            path: "a",
        };
        assert_eq!(
            v.validate(&t, &aud, S, UnixTime(0)).unwrap().key_name,
            "sender"
        );
        assert_eq!(
            v.validate(&t, &aud, L, UnixTime(0)),
            Err(InsufficientRights)
        );
    }

    proptest! {
        #[test]
        fn create_parse_round_trip(
            resource in "\\PC{1,60}",
            key_name in "\\PC{1,20}",
            key in "\\PC{0,40}",
            exp in any::<u64>(),
        ) {
            let t = token(&resource, &key_name, &key, exp);
            let parsed = SasToken::parse(&t).unwrap();
            prop_assert_eq!(parsed.resource(), resource);
            prop_assert_eq!(&parsed.key_name, &key_name);
            prop_assert_eq!(parsed.expiry, exp);
            let v = SasValidator::new(vec![SharedAccessRule::new(key_name, key, S)]).with_host_check(false);
            // Signature and expiry hold for any resource; only the audience may differ.
            let r = check_with(&v, &t, "", S, exp);
            prop_assert!(matches!(r, Ok(_) | Err(InvalidAudience)), "{:?}", r);
        }

        #[test]
        fn create_validate_round_trip(
            host in "[a-z0-9]{1,10}(\\.[a-z0-9]{1,10}){0,3}",
            port in proptest::option::of(1u16..),
            segs in proptest::collection::vec("[^/?#]{1,8}", 1..4),
            key_name in "[A-Za-z0-9._-]{1,16}",
            key in "\\PC{1,40}",
            exp in 0u64..u64::MAX / 2,
        ) {
            let path = segs.join("/");
            let ep = crate::relay::address::Endpoint::new(true, host.clone(), port);
            let t = token(&ep.audience(&path), &key_name, &key, exp);
            let v = SasValidator::new(vec![SharedAccessRule::new(key_name.clone(), key, L)]);
            prop_assert_eq!(check_with(&v, &t, &format!("{host}/{path}"), L, exp), Ok(key_name.clone()));
            prop_assert_eq!(check_with(&v, &t, &format!("{host}/{path}/more"), L, exp), Ok(key_name));
            prop_assert_eq!(check_with(&v, &t, &format!("{host}/{path}x"), L, exp), Err(InvalidAudience));
            prop_assert_eq!(check_with(&v, &t, &format!("{host}/{path}"), L, exp + 301), Err(Expired));
        }
    }

    #[test]
    fn audience_of_uri_forms() {
        assert_eq!(
            audience_of_uri("ws://127.0.0.1:9555/$hc/hc1?sb-hc-action=listen"),
            ("127.0.0.1".into(), "hc1".into())
        );
        assert_eq!(
            audience_of_uri("https://NS.example/hc%201/x/"),
            ("ns.example".into(), "hc 1/x".into())
        );
        assert_eq!(
            audience_of_uri("ws://[::1]:80/$hc/a"),
            ("::1".into(), "a".into())
        );
    }
}
