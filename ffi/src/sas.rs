//! SAS tokens from C: create (`interlink_sas_create_token`) and validate
//! (`interlink_sas_validate`), with rights as a bit set.

use std::ffi::c_char;

use interlink_core::relay::sas::{
    Audience, Rights, SasValidator, SharedAccessRule, TokenValidator, create_token,
};
use interlink_core::time::UnixTime;

use crate::boundary::{Error, interlink_result};
use crate::memory::{owned_string, str_arg, write_out};

/// Right to open a listener's control channel.
pub const INTERLINK_RIGHTS_LISTEN: u32 = 1;
/// Right to connect as a sender (WebSocket or HTTP).
pub const INTERLINK_RIGHTS_SEND: u32 = 2;
/// Management right; implies Listen and Send.
pub const INTERLINK_RIGHTS_MANAGE: u32 = 4;
/// Listen, Send and Manage.
pub const INTERLINK_RIGHTS_ALL: u32 = 7;

/// A named SAS key with its rights (INTERLINK_RIGHTS_* bits), as configured on a relay.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct interlink_sas_rule {
    /// Rule name (the token's `skn`).
    pub name: *const c_char,
    /// The key as written (its UTF-8 bytes are the HMAC key).
    pub key: *const c_char,
    /// INTERLINK_RIGHTS_* bits.
    pub rights: u32,
}

/// What interlink_sas_validate found in a valid token.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct interlink_sas_validated {
    /// Rights of the rule that signed it (INTERLINK_RIGHTS_* bits, as configured).
    pub rights: u32,
    /// The token's expiry (`se`), Unix seconds.
    pub expiry: u64,
}

/// Rights from INTERLINK_RIGHTS_* bits; other bits are an error.
pub fn rights_from_bits(bits: u32) -> Result<Rights, Error> {
    if bits & !INTERLINK_RIGHTS_ALL != 0 {
        return Err(Error::invalid(format!("unknown rights bits {bits:#x}")));
    }
    let mut r = Rights::NONE;
    for (bit, right) in [
        (INTERLINK_RIGHTS_LISTEN, Rights::LISTEN),
        (INTERLINK_RIGHTS_SEND, Rights::SEND),
        (INTERLINK_RIGHTS_MANAGE, Rights::MANAGE),
    ] {
        if bits & bit != 0 {
            r = r | right;
        }
    }
    Ok(r)
}

/// INTERLINK_RIGHTS_* bits of `r`, as configured (Manage is not expanded).
pub fn rights_to_bits(r: Rights) -> u32 {
    let text = r.to_string();
    text.split(',')
        .map(|w| match w {
            "listen" => INTERLINK_RIGHTS_LISTEN,
            "send" => INTERLINK_RIGHTS_SEND,
            "manage" => INTERLINK_RIGHTS_MANAGE,
            _ => 0,
        })
        .fold(0, |a, b| a | b)
}

/// Reads C rules into core rules.
///
/// # Safety
/// `rules` is NULL (with `len` 0) or valid for `len` rules with valid strings.
pub unsafe fn rules_arg(
    rules: *const interlink_sas_rule,
    len: usize,
) -> Result<Vec<SharedAccessRule>, Error> {
    if len == 0 {
        return Ok(Vec::new());
    }
    if rules.is_null() {
        return Err(Error::null("rules"));
    }
    // SAFETY: valid for `len` entries per the contract.
    let rules = unsafe { std::slice::from_raw_parts(rules, len) };
    rules
        .iter()
        .map(|r| {
            // SAFETY: strings valid per the contract.
            let name = unsafe { str_arg(r.name, "rule name") }?;
            let key = unsafe { str_arg(r.key, "rule key") }?;
            Ok(SharedAccessRule::new(
                name,
                key,
                rights_from_bits(r.rights)?,
            ))
        })
        .collect()
}

/// Creates a token for `resource` (an audience such as interlink_address_audience gives)
/// signed with `key_name`/`key`, expiring at `expiry_unix_secs`. `*token_out` receives
/// "SharedAccessSignature sr=…&sig=…&se=…&skn=…"; free it with interlink_string_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_sas_create_token(
    resource: *const c_char,
    key_name: *const c_char,
    key: *const c_char,
    expiry_unix_secs: u64,
    token_out: *mut *mut c_char,
) -> interlink_result {
    ffi!(resource, key_name, key, token_out => {
        // SAFETY: strings checked non-NULL; validity is the caller's contract.
        let (resource, key_name, key) = unsafe {
            (
                str_arg(resource, "resource")?,
                str_arg(key_name, "key_name")?,
                str_arg(key, "key")?,
            )
        };
        let token = create_token(resource, key_name, key, UnixTime(expiry_unix_secs));
        // SAFETY: out-pointer checked.
        unsafe { write_out(token_out, owned_string(&token), "token_out") }
    })
}

/// Validates `token` (header form, possibly URL-encoded once more) against `rules` for
/// `host` (port ignored) and `entity_path` (e.g. "hc1"), demanding `required_rights` at
/// `now_unix_secs`, accepting it up to `grace_secs` after its expiry.
///
/// Returns OK (and fills `validated` when not NULL), or INTERLINK_RESULT_AUTH with
/// interlink_last_error_status() 401 (missing, malformed, unknown key, bad signature,
/// expired, wrong audience) or 403 (insufficient rights).
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn interlink_sas_validate(
    token: *const c_char,
    rules: *const interlink_sas_rule,
    rules_len: usize,
    host: *const c_char,
    entity_path: *const c_char,
    required_rights: u32,
    now_unix_secs: u64,
    grace_secs: u64,
    validated: *mut interlink_sas_validated,
) -> interlink_result {
    ffi!(token, host, entity_path => {
        // SAFETY: caller's contract on every pointer.
        let (token, rules, host, path) = unsafe {
            (
                str_arg(token, "token")?,
                rules_arg(rules, rules_len)?,
                str_arg(host, "host")?,
                str_arg(entity_path, "entity_path")?,
            )
        };
        let validator = SasValidator::new(rules).with_expiry_grace(grace_secs);
        let required = rights_from_bits(required_rights)?;
        let v = validator.validate(token, &Audience { host, path }, required, UnixTime(now_unix_secs))?;
        if !validated.is_null() {
            let out = interlink_sas_validated { rights: rights_to_bits(v.rights), expiry: v.expiry };
            // SAFETY: non-NULL out-pointer.
            unsafe { write_out(validated, out, "validated") }?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_round_trip() {
        for bits in 0..=7 {
            assert_eq!(rights_to_bits(rights_from_bits(bits).unwrap()), bits);
        }
        assert!(rights_from_bits(8).is_err());
    }
}
