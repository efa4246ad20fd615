//! [`Target`]: where to connect, parsed from `ws://`, `wss://`, `http://` and `https://` URLs.

use super::error::{NetError, UrlError};

/// Where to connect, parsed from a `ws://`, `wss://`, `http://` or `https://` URL.
///
/// `host` is what DNS and TLS (SNI, certificate name check) see: lower-cased, IPv6 literals
/// without brackets. `path_and_query` is the request target (origin form, always starting
/// with `/`); the fragment is dropped.
///
/// This is not a general URL library: it does no IDNA (give non-ASCII host names in
/// punycode), no percent-decoding and no path normalisation, and it rejects credentials in
/// the URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// `true` for `wss` and `https`: the connection uses TLS.
    pub secure: bool,
    /// Host name or IP address (IPv6 without brackets), lower-cased.
    pub host: String,
    /// TCP port; the scheme's default (80 or 443) when the URL has none.
    pub port: u16,
    /// Path and query, e.g. `/$hc/entity?sb-hc-action=connect`; `/` when the URL has none.
    pub path_and_query: String,
}

impl Target {
    /// Parses a `ws`, `wss`, `http` or `https` URL (scheme case-insensitive).
    ///
    /// Fails with [`NetError::BadUrl`] for other schemes, a missing host, a port outside
    /// `1..=65535`, `user:password@` credentials or characters a URI may not contain (spaces
    /// must be percent-encoded by the caller).
    pub fn parse(url: &str) -> Result<Target, NetError> {
        let bad = |reason| NetError::BadUrl {
            url: url.to_owned(),
            reason,
        };
        let uri: http::Uri = url.parse().map_err(|_| bad(UrlError::Syntax))?;
        let scheme = uri
            .scheme_str()
            .ok_or_else(|| bad(UrlError::Syntax))?
            .to_ascii_lowercase();
        let (secure, default_port) = match scheme.as_str() {
            "ws" | "http" => (false, 80),
            "wss" | "https" => (true, 443),
            _ => return Err(bad(UrlError::UnsupportedScheme)),
        };
        let authority = uri.authority().ok_or_else(|| bad(UrlError::MissingHost))?;
        if authority.as_str().contains('@') {
            return Err(bad(UrlError::Credentials));
        }
        let host = authority.host();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .to_ascii_lowercase();
        if host.is_empty() {
            return Err(bad(UrlError::MissingHost));
        }
        let port = match authority.as_str().rsplit_once(':') {
            // An IPv6 literal without a port ends in `]`, not in a port.
            Some((_, p)) if !p.ends_with(']') && !p.is_empty() => match p.parse::<u16>() {
                Ok(0) | Err(_) => return Err(bad(UrlError::InvalidPort)),
                Ok(n) => n,
            },
            _ => default_port,
        };
        let path = match uri.path() {
            "" => "/",
            p => p,
        };
        let path_and_query = match uri.query() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_owned(),
        };
        Ok(Target {
            secure,
            host,
            port,
            path_and_query,
        })
    }

    /// The scheme's default port: 443 when `secure`, 80 otherwise.
    pub fn default_port(&self) -> u16 {
        if self.secure { 443 } else { 80 }
    }

    /// `host[:port]` as sent in the `Host` header: the port is omitted when it is the
    /// scheme's default, IPv6 literals get their brackets back.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == self.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(url: &str) -> UrlError {
        match Target::parse(url) {
            Err(NetError::BadUrl { reason, .. }) => reason,
            other => panic!("{url}: expected BadUrl, got {other:?}"),
        }
    }

    #[test]
    fn parses_schemes_ports_and_paths() {
        let t = Target::parse("wss://Ns.Servicebus.Windows.net/$hc/e?sb-hc-action=listen&x=1#f")
            .unwrap();
        assert_eq!(
            t,
            Target {
                secure: true,
                host: "ns.servicebus.windows.net".into(),
                port: 443,
                path_and_query: "/$hc/e?sb-hc-action=listen&x=1".into(),
            }
        );
        assert_eq!(t.authority(), "ns.servicebus.windows.net");

        let t = Target::parse("ws://127.0.0.1:8080").unwrap();
        assert_eq!(
            (t.secure, t.port, t.path_and_query.as_str()),
            (false, 8080, "/")
        );
        assert_eq!(t.authority(), "127.0.0.1:8080");

        let t = Target::parse("HTTP://example.com:80/a?b").unwrap();
        assert_eq!(t.authority(), "example.com");
        assert_eq!(t.path_and_query, "/a?b");

        let t = Target::parse("https://example.com?q=1").unwrap();
        assert_eq!(t.path_and_query, "/?q=1");
        assert_eq!(t.port, 443);
    }

    #[test]
    fn ipv6_literals() {
        let t = Target::parse("http://[::1]:9000/x").unwrap();
        assert_eq!(t.host, "::1");
        assert_eq!(t.port, 9000);
        assert_eq!(t.authority(), "[::1]:9000");
        let t = Target::parse("wss://[FE80::1]/").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("fe80::1", 443));
        assert_eq!(t.authority(), "[fe80::1]");
    }

    #[test]
    fn rejects_bad_urls() {
        assert_eq!(reason("ftp://example.com/"), UrlError::UnsupportedScheme);
        assert_eq!(
            reason("sb://ns.servicebus.windows.net/"),
            UrlError::UnsupportedScheme
        );
        assert_eq!(reason("/relative/path"), UrlError::Syntax);
        assert_eq!(reason("ws://exa mple.com/"), UrlError::Syntax);
        assert_eq!(reason("ws://user:pw@example.com/"), UrlError::Credentials);
        assert_eq!(reason("ws://example.com:0/"), UrlError::InvalidPort);
        assert!(Target::parse("ws://example.com:70000/").is_err());
    }
}
