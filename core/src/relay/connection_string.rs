//! Azure Relay connection strings (spec §7 addressing):
//! `Endpoint=sb://host[:port]/;SharedAccessKeyName=…;SharedAccessKey=…;EntityPath=…`.
//!
//! Parsing and printing only; this module opens nothing and reads no clock (token expiry is an
//! argument of [`ConnectionString::token_for`]). Managed-identity / AAD authentication is
//! recorded ([`ConnectionString::authentication`]) but not implemented here.

use std::fmt;
use std::str::FromStr;

use crate::relay::address::Endpoint;
use crate::relay::listener::TokenSource;
use crate::relay::sas::create_token;
use crate::time::UnixTime;

/// A parsed Azure Relay connection string.
///
/// Syntax: `key=value` pairs separated by `;` (a trailing `;` is fine); keys are
/// case-insensitive and may come in any order; values may contain `=` but not `;`, and are
/// trimmed. Unknown keys are ignored. An empty value counts as absent.
///
/// TLS choice for [`ConnectionString::endpoint`]: an explicit `UseTls=true|false` key wins;
/// otherwise the scheme decides — `ws`/`http` → plain, `wss`/`https` → TLS, and `sb` → TLS when
/// the port is absent or 443, plain otherwise (so `Endpoint=sb://127.0.0.1:9090/` reaches a
/// local plaintext gateway). A path in `Endpoint` is ignored; use `EntityPath`.
///
/// `Display` prints a string that parses back to an equal value — including the secrets, so
/// treat it like the key itself. `Debug` redacts the key and the signature.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionString {
    /// Where to connect (`Endpoint`, with the TLS choice above applied).
    pub endpoint: Endpoint,
    /// `SharedAccessKeyName`: the SAS rule name.
    pub shared_access_key_name: Option<String>,
    /// `SharedAccessKey`: the SAS key, used as written.
    pub shared_access_key: Option<String>,
    /// `SharedAccessSignature`: a ready-made token, used instead of a key.
    pub shared_access_signature: Option<String>,
    /// `EntityPath`: the hybrid connection name.
    pub entity_path: Option<String>,
    /// `OperationTimeout`, in seconds (written as a .NET TimeSpan `hh:mm:ss` or plain seconds).
    pub operation_timeout_secs: Option<u64>,
    /// `Authentication`, e.g. `Managed Identity` (recorded, not acted on).
    pub authentication: Option<String>,
}

/// Why a connection string did not parse, or could not produce a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionStringError {
    /// There is no `Endpoint` key.
    #[error("the connection string has no Endpoint")]
    MissingEndpoint,
    /// `Endpoint` is not `scheme://host[:port][/…]`, or the host is empty.
    #[error("Endpoint `{0}` is not scheme://host[:port]/")]
    BadEndpoint(String),
    /// The scheme is not sb, ws, wss, http or https.
    #[error("Endpoint scheme `{0}` is not sb, ws, wss, http or https")]
    BadScheme(String),
    /// The port is not a number in 1–65535.
    #[error("Endpoint port `{0}` is not a number in 1-65535")]
    BadPort(String),
    /// `UseTls` is not true or false.
    #[error("UseTls `{0}` is not true or false")]
    BadUseTls(String),
    /// `OperationTimeout` is neither seconds nor `[d.]hh:mm:ss`.
    #[error("OperationTimeout `{0}` is neither seconds nor [d.]hh:mm:ss")]
    BadOperationTimeout(String),
    /// A `;`-separated part has no `=`.
    #[error("connection string part `{0}` is not key=value")]
    MalformedPart(String),
    /// A known key appears twice.
    #[error("connection string key `{0}` appears twice")]
    DuplicateKey(String),
    /// [`ConnectionString::token_for`] needs a SharedAccessSignature or a key name and key.
    #[error(
        "the connection string has neither SharedAccessSignature nor SharedAccessKeyName and SharedAccessKey"
    )]
    MissingCredentials,
    /// `Authentication=…` (e.g. Managed Identity) without a SAS: not supported yet.
    #[error(
        "Authentication `{0}` is not supported; use a SharedAccessKey or SharedAccessSignature"
    )]
    UnsupportedAuthentication(String),
    /// Neither the caller nor `EntityPath` names a hybrid connection.
    #[error("no hybrid connection named: pass one or put EntityPath in the connection string")]
    MissingEntityPath,
}

impl ConnectionString {
    /// A connection string for `endpoint` with nothing else set.
    pub fn new(endpoint: Endpoint) -> Self {
        ConnectionString {
            endpoint,
            shared_access_key_name: None,
            shared_access_key: None,
            shared_access_signature: None,
            entity_path: None,
            operation_timeout_secs: None,
            authentication: None,
        }
    }

    /// Where this connection string's tokens come from: its `SharedAccessSignature` (fixed),
    /// or its key name and key (tokens created and renewed). `Authentication=…` without a SAS
    /// is [`ConnectionStringError::UnsupportedAuthentication`].
    pub fn token_source(&self) -> Result<TokenSource, ConnectionStringError> {
        if let Some(sig) = &self.shared_access_signature {
            return Ok(TokenSource::Fixed(sig.clone()));
        }
        match (&self.shared_access_key_name, &self.shared_access_key) {
            (Some(name), Some(key)) => Ok(TokenSource::SharedKey {
                key_name: name.clone(),
                key: key.clone(),
            }),
            _ => match &self.authentication {
                Some(a) => Err(ConnectionStringError::UnsupportedAuthentication(a.clone())),
                None => Err(ConnectionStringError::MissingCredentials),
            },
        }
    }

    /// The hybrid connection to use: `entity_path` (slashes trimmed) when not empty, else
    /// `EntityPath`.
    pub fn entity(&self, entity_path: &str) -> Result<String, ConnectionStringError> {
        let given = entity_path.trim_matches('/');
        let e = if given.is_empty() {
            self.entity_path.as_deref().unwrap_or("").trim_matches('/')
        } else {
            given
        };
        if e.is_empty() {
            return Err(ConnectionStringError::MissingEntityPath);
        }
        Ok(e.to_string())
    }

    /// A token for `entity_path` valid until `expiry`: the SharedAccessSignature as given (then
    /// `expiry` is not used and nothing is checked), or one created from key name + key for
    /// [`Endpoint::audience`].
    pub fn token_for(
        &self,
        entity_path: &str,
        expiry: UnixTime,
    ) -> Result<String, ConnectionStringError> {
        match self.token_source()? {
            TokenSource::Fixed(sig) => Ok(sig),
            TokenSource::SharedKey { key_name, key } => Ok(create_token(
                &self.endpoint.audience(entity_path),
                &key_name,
                &key,
                expiry,
            )),
        }
    }
}

impl fmt::Debug for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("ConnectionString")
            .field("endpoint", &self.endpoint)
            .field("shared_access_key_name", &self.shared_access_key_name)
            .field("shared_access_key", &redact(&self.shared_access_key))
            .field(
                "shared_access_signature",
                &redact(&self.shared_access_signature),
            )
            .field("entity_path", &self.entity_path)
            .field("operation_timeout_secs", &self.operation_timeout_secs)
            .field("authentication", &self.authentication)
            .finish()
    }
}

impl FromStr for ConnectionString {
    type Err = ConnectionStringError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const KEYS: [&str; 8] = [
            "Endpoint",
            "SharedAccessKeyName",
            "SharedAccessKey",
            "SharedAccessSignature",
            "EntityPath",
            "OperationTimeout",
            "Authentication",
            "UseTls",
        ];
        let mut values: [Option<&str>; 8] = [None; 8];
        for part in s.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| ConnectionStringError::MalformedPart(part.to_string()))?;
            let key = key.trim();
            let Some(i) = KEYS.iter().position(|k| k.eq_ignore_ascii_case(key)) else {
                continue;
            };
            if values[i].is_some() {
                return Err(ConnectionStringError::DuplicateKey(KEYS[i].to_string()));
            }
            values[i] = Some(value.trim());
        }
        let [
            endpoint,
            key_name,
            key,
            signature,
            entity,
            timeout,
            auth,
            use_tls,
        ] = values.map(|v| v.filter(|v| !v.is_empty()));
        let use_tls = match use_tls {
            None => None,
            Some(v) if v.eq_ignore_ascii_case("true") => Some(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Some(false),
            Some(v) => return Err(ConnectionStringError::BadUseTls(v.to_string())),
        };
        let endpoint = parse_endpoint_uri(
            endpoint.ok_or(ConnectionStringError::MissingEndpoint)?,
            use_tls,
        )?;
        let owned = |v: Option<&str>| v.map(str::to_string);
        Ok(ConnectionString {
            endpoint,
            shared_access_key_name: owned(key_name),
            shared_access_key: owned(key),
            shared_access_signature: owned(signature),
            entity_path: owned(entity),
            operation_timeout_secs: timeout.map(parse_timeout).transpose()?,
            authentication: owned(auth),
        })
    }
}

impl fmt::Display for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ep = &self.endpoint;
        let default_tls = matches!(ep.port, None | Some(443));
        write!(f, "Endpoint=sb://{}/", ep.authority())?;
        let pairs = [
            ("SharedAccessKeyName", &self.shared_access_key_name),
            ("SharedAccessKey", &self.shared_access_key),
            ("SharedAccessSignature", &self.shared_access_signature),
            ("EntityPath", &self.entity_path),
        ];
        for (k, v) in pairs {
            if let Some(v) = v {
                write!(f, ";{k}={v}")?;
            }
        }
        if let Some(secs) = self.operation_timeout_secs {
            write!(f, ";OperationTimeout={}", format_timespan(secs))?;
        }
        if let Some(a) = &self.authentication {
            write!(f, ";Authentication={a}")?;
        }
        if ep.secure != default_tls {
            write!(f, ";UseTls={}", ep.secure)?;
        }
        Ok(())
    }
}

/// Parses `scheme://host[:port][/…]` into an [`Endpoint`], applying the TLS rules documented on
/// [`ConnectionString`]; `use_tls` (the `UseTls` key) overrides the scheme when given.
pub fn parse_endpoint_uri(
    uri: &str,
    use_tls: Option<bool>,
) -> Result<Endpoint, ConnectionStringError> {
    let bad = || ConnectionStringError::BadEndpoint(uri.to_string());
    let (scheme, rest) = uri.trim().split_once("://").ok_or_else(bad)?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let (h, after) = inner.split_once(']').ok_or_else(bad)?;
        match after {
            "" => (h, None),
            p => (h, Some(p.strip_prefix(':').ok_or_else(bad)?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host.contains(['@', ' ']) {
        return Err(bad());
    }
    let port = port
        .map(|p| {
            p.parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| ConnectionStringError::BadPort(p.into()))
        })
        .transpose()?;
    let scheme_tls = match scheme.to_ascii_lowercase().as_str() {
        "ws" | "http" => false,
        "wss" | "https" => true,
        "sb" => matches!(port, None | Some(443)),
        _ => return Err(ConnectionStringError::BadScheme(scheme.to_string())),
    };
    Ok(Endpoint::new(use_tls.unwrap_or(scheme_tls), host, port))
}

fn parse_timeout(v: &str) -> Result<u64, ConnectionStringError> {
    let bad = || ConnectionStringError::BadOperationTimeout(v.to_string());
    let num = |s: &str| -> Result<u64, ConnectionStringError> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse().map_err(|_| bad())
    };
    let fields: Vec<&str> = v.split(':').collect();
    let secs = match fields.as_slice() {
        [s] => num(s)?,
        [h, m, s] => {
            let (days, hours) = match h.split_once('.') {
                Some((d, h)) => (num(d)?, num(h)?),
                None => (0, num(h)?),
            };
            let secs = num(s.split_once('.').map_or(*s, |(whole, _)| whole))?;
            let (minutes, secs) = (num(m)?, secs);
            if minutes > 59 || secs > 59 || (days > 0 && hours > 23) {
                return Err(bad());
            }
            days.checked_mul(86_400)
                .and_then(|d| d.checked_add(hours.checked_mul(3_600)?))
                .and_then(|t| t.checked_add(minutes * 60 + secs))
                .ok_or_else(bad)?
        }
        _ => return Err(bad()),
    };
    Ok(secs)
}

fn format_timespan(secs: u64) -> String {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let hms = format!("{:02}:{:02}:{:02}", rem / 3_600, rem % 3_600 / 60, rem % 60);
    if days > 0 {
        format!("{days}.{hms}")
    } else {
        hms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::sas::{Audience, Rights, SasValidator, SharedAccessRule, TokenValidator};
    use proptest::prelude::*;

    type E = ConnectionStringError;

    fn cs(s: &str) -> Result<ConnectionString, E> {
        s.parse()
    }

    #[test]
    fn parses_the_azure_form() {
        let c = cs("Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;\
                    SharedAccessKey=abc+/def==;EntityPath=hyco")
            .unwrap();
        assert_eq!(
            c.endpoint,
            Endpoint::new(true, "contoso.servicebus.windows.net", None)
        );
        assert_eq!(
            c.shared_access_key_name.as_deref(),
            Some("RootManageSharedAccessKey")
        );
        assert_eq!(c.shared_access_key.as_deref(), Some("abc+/def=="));
        assert_eq!(c.entity_path.as_deref(), Some("hyco"));
        assert_eq!(
            (
                c.shared_access_signature,
                c.operation_timeout_secs,
                c.authentication
            ),
            (None, None, None)
        );
    }

    #[test]
    fn keys_are_case_insensitive_order_free_and_unknown_ignored() {
        let c = cs(" entitypath = hc1 ; ENDPOINT=sb://h/ ;Whatever=1;sharedaccesssignature=SharedAccessSignature sr=a&sig=b=&se=1&skn=c;").unwrap();
        assert_eq!(c.entity_path.as_deref(), Some("hc1"));
        assert_eq!(c.endpoint.host, "h");
        assert_eq!(
            c.shared_access_signature.as_deref(),
            Some("SharedAccessSignature sr=a&sig=b=&se=1&skn=c")
        );
        assert_eq!(
            cs("Endpoint=sb://h/;EntityPath=").unwrap().entity_path,
            None
        );
    }

    #[test]
    fn tls_choice() {
        let ep = |s: &str| cs(s).unwrap().endpoint;
        assert_eq!(ep("Endpoint=sb://h/"), Endpoint::new(true, "h", None));
        assert_eq!(
            ep("Endpoint=sb://h:443/"),
            Endpoint::new(true, "h", Some(443))
        );
        assert_eq!(
            ep("Endpoint=sb://127.0.0.1:9090/"),
            Endpoint::new(false, "127.0.0.1", Some(9090))
        );
        assert_eq!(
            ep("Endpoint=wss://h:9090"),
            Endpoint::new(true, "h", Some(9090))
        );
        assert_eq!(ep("Endpoint=HTTPS://h"), Endpoint::new(true, "h", None));
        assert_eq!(ep("Endpoint=ws://h"), Endpoint::new(false, "h", None));
        assert_eq!(
            ep("Endpoint=http://h:443/x"),
            Endpoint::new(false, "h", Some(443))
        );
        assert_eq!(
            ep("Endpoint=sb://h:9090/;UseTls=true"),
            Endpoint::new(true, "h", Some(9090))
        );
        assert_eq!(
            ep("UseTls=FALSE;Endpoint=sb://h/"),
            Endpoint::new(false, "h", None)
        );
        assert_eq!(
            ep("Endpoint=wss://h/;UseTls=false"),
            Endpoint::new(false, "h", None)
        );
        assert_eq!(
            ep("Endpoint=sb://[::1]:9090/"),
            Endpoint::new(false, "::1", Some(9090))
        );
        assert_eq!(ep("Endpoint=sb://[::1]/"), Endpoint::new(true, "::1", None));
    }

    #[test]
    fn errors() {
        assert_eq!(cs("EntityPath=x"), Err(E::MissingEndpoint));
        assert_eq!(cs(""), Err(E::MissingEndpoint));
        assert_eq!(cs("Endpoint=ftp://h/"), Err(E::BadScheme("ftp".into())));
        assert_eq!(
            cs("Endpoint=h.example"),
            Err(E::BadEndpoint("h.example".into()))
        );
        assert_eq!(
            cs("Endpoint=sb:///x"),
            Err(E::BadEndpoint("sb:///x".into()))
        );
        assert_eq!(cs("Endpoint=sb://h:abc/"), Err(E::BadPort("abc".into())));
        assert_eq!(cs("Endpoint=sb://h:0/"), Err(E::BadPort("0".into())));
        assert_eq!(
            cs("Endpoint=sb://h:70000/"),
            Err(E::BadPort("70000".into()))
        );
        assert_eq!(cs("Endpoint=sb://h:/"), Err(E::BadPort("".into())));
        assert_eq!(
            cs("Endpoint=sb://h/;UseTls=yes"),
            Err(E::BadUseTls("yes".into()))
        );
        assert_eq!(
            cs("Endpoint=sb://h/;garbage"),
            Err(E::MalformedPart("garbage".into()))
        );
        assert_eq!(
            cs("Endpoint=sb://h/;endpoint=sb://g/"),
            Err(E::DuplicateKey("Endpoint".into()))
        );
        assert_eq!(
            cs("Endpoint=sb://h/;OperationTimeout=soon"),
            Err(E::BadOperationTimeout("soon".into()))
        );
        assert_eq!(
            cs("Endpoint=sb://h/;OperationTimeout=00:61:00"),
            Err(E::BadOperationTimeout("00:61:00".into()))
        );
    }

    #[test]
    fn operation_timeout_forms() {
        let t = |v: &str| {
            cs(&format!("Endpoint=sb://h/;OperationTimeout={v}"))
                .unwrap()
                .operation_timeout_secs
        };
        assert_eq!(t("00:01:00"), Some(60));
        assert_eq!(t("90"), Some(90));
        assert_eq!(t("1.02:03:04"), Some(93_784));
        assert_eq!(t("00:00:05.500"), Some(5));
        assert_eq!(format_timespan(93_784), "1.02:03:04");
        assert_eq!(format_timespan(60), "00:01:00");
    }

    #[test]
    fn display_golden() {
        let c = cs("SharedAccessKey=k=;endpoint=sb://127.0.0.1:9090;SharedAccessKeyName=r;EntityPath=hc1;OperationTimeout=75").unwrap();
        assert_eq!(
            c.to_string(),
            "Endpoint=sb://127.0.0.1:9090/;SharedAccessKeyName=r;SharedAccessKey=k=;EntityPath=hc1;OperationTimeout=00:01:15"
        );
        let tls_local = ConnectionString::new(Endpoint::new(true, "localhost", Some(9443)));
        assert_eq!(
            tls_local.to_string(),
            "Endpoint=sb://localhost:9443/;UseTls=true"
        );
        assert_eq!(
            tls_local.to_string().parse::<ConnectionString>().unwrap(),
            tls_local
        );
        let plain = ConnectionString::new(Endpoint::new(false, "h", None));
        assert_eq!(plain.to_string(), "Endpoint=sb://h/;UseTls=false");
    }

    #[test]
    fn debug_redacts_secrets() {
        let c = cs("Endpoint=sb://h/;SharedAccessKeyName=rule;SharedAccessKey=topsecret;SharedAccessSignature=sigsecret").unwrap();
        let d = format!("{c:?}");
        assert!(
            d.contains("rule") && !d.contains("topsecret") && !d.contains("sigsecret"),
            "{d}"
        );
    }

    #[test]
    fn token_for_creates_a_valid_token_or_passes_the_signature() {
        let c = cs("Endpoint=sb://127.0.0.1:9090/;SharedAccessKeyName=rule;SharedAccessKey=k;EntityPath=hc1").unwrap();
        let token = c.token_for("hc1", UnixTime(1_000)).unwrap();
        assert_eq!(
            token,
            create_token("http://127.0.0.1:9090/hc1", "rule", "k", UnixTime(1_000))
        );
        let v = SasValidator::new(vec![SharedAccessRule::new("rule", "k", Rights::LISTEN)]);
        let aud = Audience {
            host: "127.0.0.1",
            path: "hc1",
        };
        assert!(
            v.validate(&token, &aud, Rights::LISTEN, UnixTime(999))
                .is_ok()
        );
        let given = cs(
            "Endpoint=sb://h/;SharedAccessKeyName=rule;SharedAccessKey=k;SharedAccessSignature=tok",
        )
        .unwrap();
        assert_eq!(given.token_for("x", UnixTime(0)).unwrap(), "tok");
        let key_only = cs("Endpoint=sb://h/;SharedAccessKey=k").unwrap();
        assert_eq!(
            key_only.token_for("x", UnixTime(0)),
            Err(E::MissingCredentials)
        );
        assert_eq!(
            ConnectionString::new(c.endpoint.clone()).token_for("x", UnixTime(0)),
            Err(E::MissingCredentials)
        );
    }

    fn value() -> impl Strategy<Value = String> {
        "[A-Za-z0-9+/=&%._-]([A-Za-z0-9 +/=&%._-]{0,20}[A-Za-z0-9+/=&%._-])?"
    }

    fn host() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9-]{1,10}(\\.[a-z0-9-]{1,10}){0,3}",
            Just("::1".to_string()),
            Just("127.0.0.1".to_string())
        ]
    }

    proptest! {
        #[test]
        fn display_from_str_round_trips(
            secure in any::<bool>(),
            host in host(),
            port in proptest::option::of(1u16..),
            key_name in proptest::option::of(value()),
            key in proptest::option::of(value()),
            sig in proptest::option::of(value()),
            entity in proptest::option::of(value()),
            timeout in proptest::option::of(0u64..10_000_000),
            auth in proptest::option::of(value()),
        ) {
            let c = ConnectionString {
                endpoint: Endpoint::new(secure, host, port),
                shared_access_key_name: key_name,
                shared_access_key: key,
                shared_access_signature: sig,
                entity_path: entity,
                operation_timeout_secs: timeout,
                authentication: auth,
            };
            let text = c.to_string();
            prop_assert_eq!(text.parse::<ConnectionString>(), Ok(c), "{}", text);
        }
    }

    #[test]
    fn credentials_and_entity() {
        let cs: ConnectionString =
            "Endpoint=sb://ns/;SharedAccessKeyName=k;SharedAccessKey=s;EntityPath=/hc1/"
                .parse()
                .unwrap();
        assert_eq!(
            cs.token_source().unwrap(),
            TokenSource::SharedKey {
                key_name: "k".into(),
                key: "s".into()
            }
        );
        assert_eq!(cs.entity("").unwrap(), "hc1");
        assert_eq!(cs.entity("/other/").unwrap(), "other");
        let sas: ConnectionString =
            "Endpoint=sb://ns/;SharedAccessSignature=SharedAccessSignature sr=x"
                .parse()
                .unwrap();
        assert!(matches!(sas.token_source(), Ok(TokenSource::Fixed(_))));
        assert_eq!(
            sas.entity(""),
            Err(ConnectionStringError::MissingEntityPath)
        );
        let mi: ConnectionString = "Endpoint=sb://ns/;Authentication=Managed Identity"
            .parse()
            .unwrap();
        assert_eq!(
            mi.token_source(),
            Err(ConnectionStringError::UnsupportedAuthentication(
                "Managed Identity".into()
            ))
        );
        let none: ConnectionString = "Endpoint=sb://ns/".parse().unwrap();
        assert_eq!(
            none.token_source(),
            Err(ConnectionStringError::MissingCredentials)
        );
    }
}
