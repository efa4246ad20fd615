//! Hub values as JSON text for the convenience level ([`hub_client`](crate::hub_client),
//! [`hub_server`](crate::hub_server)): C passes arguments as the text of one JSON array and
//! gets results, items and arguments back as JSON text, whatever the wire protocol. With
//! MessagePack on the wire the conversion happens here, with core's transcoder (its rules:
//! integers stay exact, `bin` reads as a base64 string, a timestamp as an ISO 8601 string;
//! NaN, infinities and non-string map keys have no JSON form).

use bytes::Bytes;
use interlink_core::hub::{HubProtocol, RawValue};
use serde_json::value::RawValue as JsonText;

use crate::boundary::{Error, interlink_result};

/// One JSON value from C, checked to be exactly one value and put in `protocol`'s format.
pub fn value_from_json(protocol: HubProtocol, text: &str, name: &str) -> Result<RawValue, Error> {
    let one: Box<JsonText> = serde_json::from_str(text)
        .map_err(|e| Error::invalid(format!("`{name}` is not one JSON value: {e}")))?;
    encode(protocol, one.get(), name)
}

/// The arguments of a call from C: the text of one JSON array (NULL or `[]`: none), each
/// element one argument in `protocol`'s format.
pub fn args_from_json(
    protocol: HubProtocol,
    text: Option<&str>,
    name: &str,
) -> Result<Vec<RawValue>, Error> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    let items: Vec<Box<JsonText>> = serde_json::from_str(text)
        .map_err(|e| Error::invalid(format!("`{name}` is not a JSON array: {e}")))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| encode(protocol, item.get(), &format!("{name}[{i}]")))
        .collect()
}

fn encode(protocol: HubProtocol, json: &str, name: &str) -> Result<RawValue, Error> {
    RawValue::Json(Bytes::copy_from_slice(json.as_bytes()))
        .to_protocol(protocol)
        .map_err(|e| Error::invalid(format!("`{name}`: {e}")))
}

/// One value as JSON text (transcoded from MessagePack when needed). Fails with PROTOCOL
/// when the peer's value has no JSON form.
pub fn value_to_json(value: &RawValue) -> Result<String, Error> {
    let bad = |detail: String| {
        Error::new(
            interlink_result::Protocol,
            format!("a value from the peer has no JSON form: {detail}"),
        )
    };
    let json = value.to_json().map_err(|e| bad(e.to_string()))?;
    String::from_utf8(json.to_vec()).map_err(|e| bad(e.to_string()))
}

/// Arguments as the text of one JSON array.
pub fn args_to_json(values: &[RawValue]) -> Result<String, Error> {
    let mut out = String::from("[");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&value_to_json(v)?);
    }
    out.push(']');
    Ok(out)
}

/// A result as JSON text: `null` for a void one.
pub fn result_to_json(value: Option<&RawValue>) -> Result<String, Error> {
    value.map_or_else(|| Ok("null".to_string()), value_to_json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_split_into_arguments_in_either_protocol() {
        let json = args_from_json(HubProtocol::Json, Some(r#" [1, "x", {"a":[true]}] "#), "a");
        let json = json.unwrap();
        assert_eq!(json.len(), 3);
        assert_eq!(json[2].as_bytes().as_ref(), br#"{"a":[true]}"#);
        let mp = args_from_json(HubProtocol::MessagePack, Some("[42, null]"), "a").unwrap();
        assert_eq!(mp[0], RawValue::MessagePack(Bytes::from_static(&[0x2a])));
        assert_eq!(args_to_json(&mp).unwrap(), "[42,null]");
        assert!(
            args_from_json(HubProtocol::Json, None, "a")
                .unwrap()
                .is_empty()
        );
        for bad in ["", "1", "[1,", "[1] 2", "{}"] {
            assert!(
                args_from_json(HubProtocol::Json, Some(bad), "a").is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn single_values_and_results() {
        let v = value_from_json(HubProtocol::MessagePack, " \"hi\" ", "v").unwrap();
        assert_eq!(value_to_json(&v).unwrap(), "\"hi\"");
        assert!(value_from_json(HubProtocol::Json, "1 2", "v").is_err());
        assert_eq!(result_to_json(None).unwrap(), "null");
        // A MessagePack map with an integer key has no JSON form.
        let odd = RawValue::MessagePack(Bytes::from_static(&[0x81, 0x01, 0x02]));
        assert_eq!(
            value_to_json(&odd).unwrap_err().code,
            interlink_result::Protocol
        );
    }
}
