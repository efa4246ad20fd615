//! Reason phrases on hyper messages: hyper keeps a non-standard phrase in an extension
//! ([`hyper::ext::ReasonPhrase`]); these two functions are the one place that reads and
//! writes it.

use http::{Extensions, StatusCode};
use interlink_core::relay::message::default_reason;

/// The phrase a response carried: the peer's own when it sent a non-standard one, else the
/// standard phrase of `status` (empty for statuses without one).
pub fn reason_phrase(status: StatusCode, extensions: &Extensions) -> String {
    match extensions.get::<hyper::ext::ReasonPhrase>() {
        Some(r) => String::from_utf8_lossy(r.as_bytes()).into_owned(),
        None => default_reason(status.as_u16()).to_string(),
    }
}

/// A reason phrase with characters HTTP/1.1 does not allow there (CR, LF, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` cannot be an HTTP reason phrase")]
pub struct InvalidReasonPhrase(pub String);

/// Makes a response for `status` go out with `reason`; nothing to do when `reason` is empty
/// or the standard phrase.
pub fn set_reason_phrase(
    extensions: &mut Extensions,
    status: StatusCode,
    reason: &str,
) -> Result<(), InvalidReasonPhrase> {
    if reason.is_empty()
        || reason == default_reason(status.as_u16())
        || status.canonical_reason() == Some(reason)
    {
        return Ok(());
    }
    let phrase = hyper::ext::ReasonPhrase::try_from(reason.as_bytes().to_vec())
        .map_err(|_| InvalidReasonPhrase(reason.to_string()))?;
    extensions.insert(phrase);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_and_write() {
        let mut ext = Extensions::new();
        set_reason_phrase(&mut ext, StatusCode::OK, "OK").unwrap();
        assert!(
            ext.get::<hyper::ext::ReasonPhrase>().is_none(),
            "the standard phrase needs no extension"
        );
        assert_eq!(reason_phrase(StatusCode::OK, &ext), "OK");
        set_reason_phrase(&mut ext, StatusCode::IM_A_TEAPOT, "Short And Stout").unwrap();
        assert_eq!(
            reason_phrase(StatusCode::IM_A_TEAPOT, &ext),
            "Short And Stout"
        );
        assert!(set_reason_phrase(&mut ext, StatusCode::OK, "bad\r\nphrase").is_err());
    }
}
