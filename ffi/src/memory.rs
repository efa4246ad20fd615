//! Memory crossing the boundary: owned strings and bytes (freed by the caller with
//! `interlink_string_free` / `interlink_bytes_free`), header arrays, and the helpers that read
//! C arguments and keep borrowed outputs alive inside a handle.

use std::ffi::{CStr, CString, c_char};

use crate::boundary::Error;

/// One HTTP header: a name and a value, both NUL-terminated UTF-8.
///
/// As an input, both pointers must be valid for the call. As part of an output, both point
/// into memory owned by whoever owns the output (see the function).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct interlink_header {
    /// The header name, e.g. "Content-Type".
    pub name: *const c_char,
    /// The header value.
    pub value: *const c_char,
}

/// Bytes owned by the caller: free them with interlink_bytes_free. `data` is NULL when
/// `len` is 0.
#[repr(C)]
#[derive(Debug)]
pub struct interlink_bytes {
    /// The bytes (NULL when empty).
    pub data: *mut u8,
    /// How many.
    pub len: usize,
}

impl interlink_bytes {
    /// Hands `v` over to C.
    pub fn from_vec(v: Vec<u8>) -> Self {
        if v.is_empty() {
            return interlink_bytes {
                data: std::ptr::null_mut(),
                len: 0,
            };
        }
        let boxed = v.into_boxed_slice();
        let len = boxed.len();
        interlink_bytes {
            data: Box::into_raw(boxed).cast(),
            len,
        }
    }

    /// Empty.
    pub fn empty() -> Self {
        Self::from_vec(Vec::new())
    }
}

/// Frees a string returned through a `char **` out-parameter. NULL is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_string_free(s: *mut c_char) {
    ffi!(default (); => {
        if !s.is_null() {
            // SAFETY: `s` came from CString::into_raw in this library (documented contract).
            drop(unsafe { CString::from_raw(s) });
        }
        Ok(())
    })
}

/// Frees the data of `bytes` and sets it to {NULL, 0}. NULL or already-empty is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_bytes_free(bytes: *mut interlink_bytes) {
    ffi!(default (); => {
        // SAFETY: a non-NULL `bytes` points to an interlink_bytes this library filled.
        if let Some(b) = unsafe { bytes.as_mut() } {
            free_bytes(b);
        }
        Ok(())
    })
}

/// Releases the data of `b` (made by [`interlink_bytes::from_vec`]) and empties it.
pub fn free_bytes(b: &mut interlink_bytes) {
    if !b.data.is_null() {
        let slice = std::ptr::slice_from_raw_parts_mut(b.data, b.len);
        // SAFETY: data/len came from Box<[u8]>::into_raw in from_vec.
        drop(unsafe { Box::from_raw(slice) });
    }
    b.data = std::ptr::null_mut();
    b.len = 0;
}

/// A caller-owned NUL-terminated copy of `s` (interior NULs become spaces).
pub fn owned_string(s: &str) -> *mut c_char {
    cstring(s).into_raw()
}

/// A NUL-terminated copy of `s` (interior NULs become spaces).
pub fn cstring(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

/// Reads a required string argument.
///
/// # Safety
/// `p` is NULL or a valid NUL-terminated string that outlives `'a`.
pub unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> Result<&'a str, Error> {
    if p.is_null() {
        return Err(Error::null(name));
    }
    // SAFETY: non-NULL and NUL-terminated per the contract.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| Error::invalid(format!("argument `{name}` is not UTF-8")))
}

/// Reads an optional string argument (NULL → `None`).
///
/// # Safety
/// As [`str_arg`].
pub unsafe fn opt_str_arg<'a>(p: *const c_char, name: &str) -> Result<Option<&'a str>, Error> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded contract.
        unsafe { str_arg(p, name) }.map(Some)
    }
}

/// Reads a (pointer, length) byte argument; (NULL, 0) is empty.
///
/// # Safety
/// `p` is NULL or valid for reading `len` bytes for `'a`.
pub unsafe fn bytes_arg<'a>(p: *const u8, len: usize, name: &str) -> Result<&'a [u8], Error> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Error::null(name));
    }
    // SAFETY: non-NULL and valid for `len` bytes per the contract.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// Reads a (pointer, length) UTF-8 text argument.
///
/// # Safety
/// As [`bytes_arg`].
pub unsafe fn text_arg<'a>(p: *const c_char, len: usize, name: &str) -> Result<&'a str, Error> {
    // SAFETY: forwarded contract.
    let bytes = unsafe { bytes_arg(p.cast(), len, name) }?;
    std::str::from_utf8(bytes).map_err(|_| Error::invalid(format!("`{name}` is not UTF-8")))
}

/// Reads an array of headers into owned pairs.
///
/// # Safety
/// `p` is NULL (with `len` 0) or valid for `len` headers whose strings are valid.
pub unsafe fn headers_arg(
    p: *const interlink_header,
    len: usize,
    name: &str,
) -> Result<Vec<(String, String)>, Error> {
    if len == 0 {
        return Ok(Vec::new());
    }
    if p.is_null() {
        return Err(Error::null(name));
    }
    // SAFETY: valid for `len` entries per the contract.
    let entries = unsafe { std::slice::from_raw_parts(p, len) };
    entries
        .iter()
        .map(|h| {
            // SAFETY: each entry's strings are valid per the contract.
            let n = unsafe { str_arg(h.name, "header name") }?;
            let v = unsafe { str_arg(h.value, "header value") }?;
            Ok((n.to_string(), v.to_string()))
        })
        .collect()
}

/// The handle behind a required pointer.
///
/// # Safety
/// `p` is NULL or points to a live `T` not aliased for `'a`.
pub unsafe fn handle<'a, T>(p: *mut T, name: &str) -> Result<&'a mut T, Error> {
    // SAFETY: forwarded contract.
    unsafe { p.as_mut() }.ok_or_else(|| Error::null(name))
}

/// Writes `v` to a required out-parameter (its old content is not read).
///
/// # Safety
/// `out` is NULL or valid for writing a `T`.
pub unsafe fn write_out<T>(out: *mut T, v: T, name: &str) -> Result<(), Error> {
    if out.is_null() {
        return Err(Error::null(name));
    }
    // SAFETY: non-NULL and writable per the contract.
    unsafe { out.write(v) };
    Ok(())
}

/// Boxes `v` into a handle for C and stores it in `out`.
///
/// # Safety
/// As [`write_out`].
pub unsafe fn new_handle<T>(out: *mut *mut T, v: T, name: &str) -> Result<(), Error> {
    if out.is_null() {
        return Err(Error::null(name));
    }
    // SAFETY: checked above.
    unsafe { out.write(Box::into_raw(Box::new(v))) };
    Ok(())
}

/// Drops a handle made by [`new_handle`]; NULL is ignored.
///
/// # Safety
/// `p` is NULL or came from [`new_handle`] and is not used afterwards.
pub unsafe fn free_handle<T>(p: *mut T) {
    if !p.is_null() {
        // SAFETY: per the contract.
        drop(unsafe { Box::from_raw(p) });
    }
}

/// Header pairs kept alive as C strings for an output that borrows them.
#[derive(Default)]
pub struct HeaderBlock {
    strings: Vec<CString>,
    entries: Vec<interlink_header>,
}

impl HeaderBlock {
    /// Replaces the content with `pairs`.
    pub fn set<'a>(&mut self, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) {
        self.strings.clear();
        self.entries.clear();
        for (n, v) in pairs {
            self.strings.push(cstring(n));
            self.strings.push(cstring(v));
        }
        // CString data lives on the heap: pointers stay valid while `strings` is untouched.
        self.entries = self
            .strings
            .chunks(2)
            .map(|p| interlink_header {
                name: p[0].as_ptr(),
                value: p[1].as_ptr(),
            })
            .collect();
    }

    /// The array (NULL when empty).
    pub fn ptr(&self) -> *const interlink_header {
        if self.entries.is_empty() {
            std::ptr::null()
        } else {
            self.entries.as_ptr()
        }
    }

    /// Number of headers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// An optional C string kept alive for an output (NULL when absent).
#[derive(Default)]
pub struct OptText(Option<CString>);

impl OptText {
    /// Replaces the content.
    pub fn set(&mut self, s: Option<&str>) -> *const c_char {
        self.0 = s.map(cstring);
        self.ptr()
    }

    /// The pointer (NULL when absent).
    pub fn ptr(&self) -> *const c_char {
        self.0.as_ref().map_or(std::ptr::null(), |c| c.as_ptr())
    }
}

/// Text kept alive for an output as bytes followed by a NUL (not counted in the length), so
/// C can use it both as (data, len) and as a C string.
#[derive(Default)]
pub struct TextBuf(Vec<u8>);

impl TextBuf {
    /// Replaces the content with `s` (taking its buffer) and returns (data, len).
    pub fn set(&mut self, s: String) -> (*const u8, usize) {
        let mut v = s.into_bytes();
        let len = v.len();
        v.push(0);
        self.0 = v;
        (self.0.as_ptr(), len)
    }
}

/// A caller-owned copy of header pairs (freed with [`free_owned_headers`]).
pub fn owned_headers<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> (*mut interlink_header, usize) {
    let entries: Vec<interlink_header> = pairs
        .into_iter()
        .map(|(n, v)| interlink_header {
            name: owned_string(n),
            value: owned_string(v),
        })
        .collect();
    if entries.is_empty() {
        return (std::ptr::null_mut(), 0);
    }
    let boxed = entries.into_boxed_slice();
    let len = boxed.len();
    (Box::into_raw(boxed).cast(), len)
}

/// Frees headers made by [`owned_headers`].
///
/// # Safety
/// `p`/`len` came from [`owned_headers`] and are not used afterwards.
pub unsafe fn free_owned_headers(p: *mut interlink_header, len: usize) {
    if p.is_null() {
        return;
    }
    // SAFETY: per the contract, a boxed slice of `len` entries with owned strings.
    let entries = unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(p, len)) };
    for h in entries.iter() {
        // SAFETY: made by owned_string.
        unsafe {
            drop(CString::from_raw(h.name.cast_mut()));
            drop(CString::from_raw(h.value.cast_mut()));
        }
    }
}
