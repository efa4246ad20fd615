//! Connection strings for the sans-IO handles: endpoint, entity path and token source.

use interlink_core::relay::connection_string::ConnectionString;
use interlink_core::relay::listener::TokenSource;

use crate::boundary::{Error, interlink_result};

/// Parses an Azure Relay connection string (`Endpoint=sb://…;SharedAccessKeyName=…;…`).
pub fn parse(cs: &str) -> Result<ConnectionString, Error> {
    Ok(cs.parse::<ConnectionString>()?)
}

/// The token source of a connection string (core's rule); `None` when it has no credentials.
pub fn token_source(cs: &ConnectionString) -> Option<TokenSource> {
    cs.token_source().ok()
}

/// `entity_path` when given and not empty, else the connection string's `EntityPath`.
pub fn entity(cs: &ConnectionString, entity_path: Option<&str>) -> Result<String, Error> {
    cs.entity(entity_path.unwrap_or(""))
        .map_err(|e| Error::new(interlink_result::InvalidArgument, e.to_string()))
}
