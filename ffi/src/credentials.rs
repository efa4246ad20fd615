//! Connection strings for the sans-IO handles: endpoint, entity path and token source.

use interlink_core::relay::connection_string::ConnectionString;
use interlink_core::relay::listener::TokenSource;

use crate::boundary::{Error, interlink_result};

/// Parses an Azure Relay connection string (`Endpoint=sb://…;SharedAccessKeyName=…;…`).
pub fn parse(cs: &str) -> Result<ConnectionString, Error> {
    Ok(cs.parse::<ConnectionString>()?)
}

/// The token source of a connection string: its SharedAccessSignature (fixed) or its key
/// name and key (renewed); `None` when it has neither.
pub fn token_source(cs: &ConnectionString) -> Option<TokenSource> {
    if let Some(sig) = &cs.shared_access_signature {
        return Some(TokenSource::Fixed(sig.clone()));
    }
    match (&cs.shared_access_key_name, &cs.shared_access_key) {
        (Some(name), Some(key)) => Some(TokenSource::SharedKey {
            key_name: name.clone(),
            key: key.clone(),
        }),
        _ => None,
    }
}

/// `entity_path` when given and not empty, else the connection string's `EntityPath`.
pub fn entity(cs: &ConnectionString, entity_path: Option<&str>) -> Result<String, Error> {
    let given = entity_path.map(|e| e.trim_matches('/')).unwrap_or("");
    let e = if given.is_empty() {
        cs.entity_path.as_deref().unwrap_or("").trim_matches('/')
    } else {
        given
    };
    if e.is_empty() {
        return Err(Error::new(
            interlink_result::InvalidArgument,
            "no hybrid connection named: pass entity_path or put EntityPath in the connection string",
        ));
    }
    Ok(e.to_string())
}
