//! Incremental UTF-8 validation across arbitrary splits of the input.

/// Validates UTF-8 fed in pieces: a piece may end in the middle of a code point, the next one
/// completes it. Invalid input is reported as soon as the offending byte is seen (an invalid
/// prefix such as `E0 80` fails without waiting for more bytes).
///
/// Does not store the text, only up to three bytes of an unfinished code point.
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    pending: [u8; 4],
    pending_len: u8,
}

impl Utf8Validator {
    /// A validator at a code point boundary.
    pub fn new() -> Self {
        Self::default()
    }

    /// Validates the next piece. `Err(())` means the input so far is not UTF-8 and cannot
    /// become UTF-8 by appending bytes; the validator should then be discarded.
    #[allow(clippy::result_unit_err)]
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), ()> {
        if self.pending_len > 0 {
            let have = usize::from(self.pending_len);
            let need = char_width(self.pending[0]);
            let take = (need - have).min(data.len());
            let mut tmp = self.pending;
            tmp[have..have + take].copy_from_slice(&data[..take]);
            match std::str::from_utf8(&tmp[..have + take]) {
                Ok(_) => self.pending_len = 0,
                Err(e) if e.error_len().is_none() => {
                    // Still a valid prefix and `data` is used up.
                    self.pending = tmp;
                    self.pending_len = (have + take) as u8;
                    return Ok(());
                }
                Err(_) => return Err(()),
            }
            data = &data[take..];
        }
        match std::str::from_utf8(data) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                let tail = &data[e.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len() as u8;
                Ok(())
            }
            Err(_) => Err(()),
        }
    }

    /// Whether the input so far ends at a code point boundary (so the text may end here).
    pub fn is_complete(&self) -> bool {
        self.pending_len == 0
    }

    /// Forgets any unfinished code point, for the next message.
    pub fn reset(&mut self) {
        self.pending_len = 0;
    }
}

/// The width of a code point from its (already validated as a prefix) lead byte.
fn char_width(lead: u8) -> usize {
    match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}
