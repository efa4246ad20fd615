//! The one boundary every `extern "C"` function goes through: the [`ffi!`](crate::ffi) macro
//! null-checks the pointer arguments it is given, catches panics, and turns the body's
//! `Result` into a stable [`interlink_result`] code plus a thread-local error message.
//!
//! Error mapping (typed, by layer): core errors (`AuthError`, `LocalError`, `ProtocolError`,
//! `ConnectionStringError`) and the adapters' `RelayError` become an [`Error`] carrying the
//! code, an HTTP status when there is one, and the error's text.

use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use interlink::relay::RelayError;
use interlink::relay::error::CredentialError;
use interlink_core::relay::connection_string::ConnectionStringError;
use interlink_core::relay::sas::AuthError;
use interlink_core::ws::{LocalError, ProtocolError};

/// Result code of every interlink function. The numbers are stable across releases.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum interlink_result {
    /// Success.
    Ok = 0,
    /// Not an error: a poll function has nothing (more) to return right now.
    WouldBlock = 1,
    /// An argument is out of range, not UTF-8, or otherwise unusable.
    InvalidArgument = 2,
    /// A required pointer argument was NULL.
    NullPointer = 3,
    /// A Rust panic was caught at the boundary (a bug in interlink); the handle involved
    /// should not be used any more.
    Panic = 4,
    /// The peer broke a protocol (WebSocket framing, relay control messages).
    Protocol = 5,
    /// A token is missing, invalid, expired, or lacks rights (status 401 or 403).
    Auth = 6,
    /// The hybrid connection (or the thing asked for) does not exist (status 404).
    NotFound = 7,
    /// An operation did not finish in time.
    Timeout = 8,
    /// Network or I/O failure (DNS, TCP, TLS, HTTP).
    Io = 9,
    /// The connection, listener or gateway is closed.
    Closed = 10,
    /// The relay or the listener refused a handshake; see interlink_last_error_status().
    Refused = 11,
    /// The call is not allowed in the handle's current state (e.g. sending after close).
    InvalidState = 12,
    /// A caller-owned buffer is too small; the length needed was written to the length
    /// out-parameter (e.g. interlink_hub_encode_into).
    BufferTooSmall = 13,
}

impl From<()> for interlink_result {
    fn from(_: ()) -> Self {
        interlink_result::Ok
    }
}

/// A failure on its way to C: the code, an HTTP status (0 when none) and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The code returned to C.
    pub code: interlink_result,
    /// The HTTP status the failure maps to, 0 when none.
    pub status: u16,
    /// Human-readable text for interlink_last_error_message().
    pub message: String,
}

impl Error {
    /// An error with `code` and `message` and no status.
    pub fn new(code: interlink_result, message: impl Into<String>) -> Self {
        Error {
            code,
            status: 0,
            message: message.into(),
        }
    }

    /// A bad argument.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(interlink_result::InvalidArgument, message)
    }

    /// A NULL where a pointer was required.
    pub fn null(arg: &str) -> Self {
        Error::new(
            interlink_result::NullPointer,
            format!("argument `{arg}` is NULL"),
        )
    }

    /// The same error with an HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }
}

impl From<AuthError> for Error {
    fn from(e: AuthError) -> Self {
        Error::new(interlink_result::Auth, e.description()).with_status(e.http_status())
    }
}

impl From<LocalError> for Error {
    fn from(e: LocalError) -> Self {
        let code = match e {
            LocalError::Closed => interlink_result::Closed,
            LocalError::FragmentSequence => interlink_result::InvalidState,
            _ => interlink_result::InvalidArgument,
        };
        Error::new(code, e.to_string())
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Error::new(interlink_result::Protocol, e.to_string())
    }
}

impl From<ConnectionStringError> for Error {
    fn from(e: ConnectionStringError) -> Self {
        let code = match e {
            ConnectionStringError::MissingCredentials
            | ConnectionStringError::UnsupportedAuthentication(_) => interlink_result::Auth,
            _ => interlink_result::InvalidArgument,
        };
        Error::new(code, e.to_string())
    }
}

impl From<RelayError> for Error {
    fn from(e: RelayError) -> Self {
        let message = e.to_string();
        match e {
            RelayError::Refused { status, .. } => {
                Error::new(interlink_result::Refused, message).with_status(status)
            }
            RelayError::NotFound { .. } => {
                Error::new(interlink_result::NotFound, message).with_status(404)
            }
            RelayError::Auth(CredentialError::Missing) => {
                Error::new(interlink_result::Auth, message)
            }
            RelayError::Auth(_)
            | RelayError::ConnectionString(_)
            | RelayError::MissingEntityPath
            | RelayError::InvalidRequest(_) => Error::invalid(message),
            RelayError::Closed => Error::new(interlink_result::Closed, message),
            RelayError::Timeout(_) => Error::new(interlink_result::Timeout, message),
            RelayError::Protocol(_) => Error::new(interlink_result::Protocol, message),
            _ => Error::new(interlink_result::Io, message),
        }
    }
}

struct LastError {
    message: CString,
    status: u16,
}

thread_local! {
    static LAST_ERROR: RefCell<LastError> = RefCell::new(LastError {
        message: CString::default(),
        status: 0,
    });
}

/// Records `e` as this thread's last error and returns its code.
pub fn record(e: Error) -> interlink_result {
    let message = CString::new(e.message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|l| {
        *l.borrow_mut() = LastError {
            message,
            status: e.status,
        }
    });
    e.code
}

fn panic_error(payload: Box<dyn std::any::Any + Send>) -> Error {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    Error::new(
        interlink_result::Panic,
        format!("panic inside interlink: {text}"),
    )
}

/// Runs a body that yields a result code: panics become `PANIC`, errors are recorded.
pub fn call<R: Into<interlink_result>>(f: impl FnOnce() -> Result<R, Error>) -> interlink_result {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(r)) => r.into(),
        Ok(Err(e)) => record(e),
        Err(payload) => record(panic_error(payload)),
    }
}

/// Runs a body that yields a value: on an error or a panic, the error is recorded and
/// `default` is returned.
pub fn call_or<T>(default: T, f: impl FnOnce() -> Result<T, Error>) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            record(e);
            default
        }
        Err(payload) => {
            record(panic_error(payload));
            default
        }
    }
}

/// Raw pointers of either mutability, for the macro's null checks.
pub trait RawPointer {
    /// True for NULL.
    fn is_null_pointer(&self) -> bool;
}

impl<T: ?Sized> RawPointer for *const T {
    fn is_null_pointer(&self) -> bool {
        self.is_null()
    }
}

impl<T: ?Sized> RawPointer for *mut T {
    fn is_null_pointer(&self) -> bool {
        self.is_null()
    }
}

/// `Err(NULL_POINTER)` naming `arg` when `p` is NULL.
pub fn non_null(p: &impl RawPointer, arg: &str) -> Result<(), Error> {
    if p.is_null_pointer() {
        Err(Error::null(arg))
    } else {
        Ok(())
    }
}

/// The boundary of every `extern "C"` function of this crate.
///
/// `ffi!(a, b => { body })` checks that the pointer arguments `a` and `b` are not NULL
/// (`NULL_POINTER`, naming the argument), runs `body` (a block evaluating to
/// `Result<R, Error>` with `R` = `()` or `interlink_result`) with panics caught (`PANIC`),
/// and returns the code; an error is recorded for `interlink_last_error_message()`.
///
/// `ffi!(default D; a => { body })` is the same for functions returning a value (`body`
/// evaluates to `Result<T, Error>`): on failure the error is recorded and `D` returned.
macro_rules! ffi {
    (default $default:expr; $($p:ident),* => $body:block) => {
        $crate::boundary::call_or($default, || {
            $( $crate::boundary::non_null(&$p, stringify!($p))?; )*
            $body
        })
    };
    ($($p:ident),* => $body:block) => {
        $crate::boundary::call(|| {
            $( $crate::boundary::non_null(&$p, stringify!($p))?; )*
            $body
        })
    };
}

static EMPTY: &[u8] = b"\0";

/// The message of the most recent failed call on this thread ("" when none failed yet).
/// Owned by the library: valid until the next failing call on this thread. Never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn interlink_last_error_message() -> *const c_char {
    ffi!(default EMPTY.as_ptr().cast(); => {
        Ok(LAST_ERROR.with(|l| {
            let l = l.borrow();
            if l.message.is_empty() {
                EMPTY.as_ptr().cast()
            } else {
                l.message.as_ptr()
            }
        }))
    })
}

/// The HTTP status of the most recent failed call on this thread (e.g. 403 for a refused
/// handshake, 401 for a bad token), 0 when the failure had none.
#[unsafe(no_mangle)]
pub extern "C" fn interlink_last_error_status() -> u16 {
    ffi!(default 0; => { Ok(LAST_ERROR.with(|l| l.borrow().status)) })
}

/// The name of a result code, e.g. "INTERLINK_RESULT_WOULD_BLOCK"; "UNKNOWN" for other
/// numbers. Static storage: never freed, never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn interlink_result_name(code: u32) -> *const c_char {
    ffi!(default EMPTY.as_ptr().cast(); => { Ok(result_name(code).as_ptr().cast()) })
}

fn result_name(code: u32) -> &'static [u8] {
    match code {
        0 => b"INTERLINK_RESULT_OK\0",
        1 => b"INTERLINK_RESULT_WOULD_BLOCK\0",
        2 => b"INTERLINK_RESULT_INVALID_ARGUMENT\0",
        3 => b"INTERLINK_RESULT_NULL_POINTER\0",
        4 => b"INTERLINK_RESULT_PANIC\0",
        5 => b"INTERLINK_RESULT_PROTOCOL\0",
        6 => b"INTERLINK_RESULT_AUTH\0",
        7 => b"INTERLINK_RESULT_NOT_FOUND\0",
        8 => b"INTERLINK_RESULT_TIMEOUT\0",
        9 => b"INTERLINK_RESULT_IO\0",
        10 => b"INTERLINK_RESULT_CLOSED\0",
        11 => b"INTERLINK_RESULT_REFUSED\0",
        12 => b"INTERLINK_RESULT_INVALID_STATE\0",
        13 => b"INTERLINK_RESULT_BUFFER_TOO_SMALL\0",
        _ => b"UNKNOWN\0",
    }
}

/// Diagnostics for bindings' own tests: panics inside the boundary, so it always returns
/// INTERLINK_RESULT_PANIC (with the panic text as the last error message).
#[unsafe(no_mangle)]
pub extern "C" fn interlink_test_panic() -> interlink_result {
    ffi!(=> {
        if std::hint::black_box(true) {
            panic!("interlink_test_panic was called");
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last() -> String {
        unsafe { CStr::from_ptr(interlink_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn panics_become_a_code_and_a_message() {
        assert_eq!(interlink_test_panic(), interlink_result::Panic);
        assert!(
            last().contains("interlink_test_panic was called"),
            "{}",
            last()
        );
    }

    #[test]
    fn null_checks_name_the_argument() {
        let p: *const u8 = std::ptr::null();
        let code = ffi!(p => { Ok(()) });
        assert_eq!(code, interlink_result::NullPointer);
        assert_eq!(last(), "argument `p` is NULL");
        let v = ffi!(default 7u32; p => { Ok(1u32) });
        assert_eq!(v, 7);
    }

    #[test]
    fn relay_errors_keep_their_status() {
        let e: Error = RelayError::Refused {
            status: 403,
            reason: "no".into(),
        }
        .into();
        assert_eq!((e.code, e.status), (interlink_result::Refused, 403));
        let e: Error = AuthError::InsufficientRights.into();
        assert_eq!((e.code, e.status), (interlink_result::Auth, 403));
        assert_eq!(record(e), interlink_result::Auth);
        assert_eq!(interlink_last_error_status(), 403);
    }

    #[test]
    fn names_are_stable() {
        let name = |c| unsafe { CStr::from_ptr(interlink_result_name(c)) };
        assert_eq!(name(1).to_str().unwrap(), "INTERLINK_RESULT_WOULD_BLOCK");
        assert_eq!(name(99).to_str().unwrap(), "UNKNOWN");
    }
}
