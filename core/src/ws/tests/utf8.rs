//! Incremental UTF-8 validation.

use proptest::prelude::*;

use crate::ws::Utf8Validator;

#[test]
fn every_split_of_multibyte_text_is_accepted() {
    let text = "aé€😀z".as_bytes();
    for cut in 0..=text.len() {
        let mut v = Utf8Validator::new();
        v.feed(&text[..cut]).unwrap();
        v.feed(&text[cut..]).unwrap();
        assert!(v.is_complete(), "cut at {cut}");
    }
    let mut v = Utf8Validator::new();
    for b in text {
        v.feed(std::slice::from_ref(b)).unwrap();
    }
    assert!(v.is_complete());
}

#[test]
fn unfinished_code_point_is_incomplete() {
    let mut v = Utf8Validator::new();
    v.feed(&[b'a', 0xE2, 0x82]).unwrap();
    assert!(!v.is_complete());
    v.feed(&[0xAC]).unwrap();
    assert!(v.is_complete());
}

#[test]
fn invalid_prefixes_fail_immediately() {
    // Overlong, surrogate, above U+10FFFF, stray continuation, invalid byte.
    for bad in [
        &[0xE0, 0x80][..],
        &[0xC0],
        &[0xED, 0xA0],
        &[0xF4, 0x90],
        &[0x80],
        &[0xFF],
    ] {
        let mut v = Utf8Validator::new();
        assert!(v.feed(bad).is_err(), "{bad:02x?} accepted");
        // Also when the bad byte arrives in the second piece.
        let mut v = Utf8Validator::new();
        let first = v.feed(&bad[..1]);
        assert!(
            first.is_err() || v.feed(&bad[1..]).is_err(),
            "{bad:02x?} split"
        );
    }
}

#[test]
fn reset_forgets_pending_bytes() {
    let mut v = Utf8Validator::new();
    v.feed(&[0xF0, 0x9F]).unwrap();
    v.reset();
    assert!(v.is_complete());
    assert!(v.feed(&[0x98]).is_err());
}

proptest! {
    #[test]
    fn agrees_with_std_for_any_split(data in proptest::collection::vec(
                                         prop_oneof![any::<u8>(), 0x80u8..0xC0, 0xC2u8..0xF5], 0..24),
                                     cuts in proptest::collection::vec(0usize..24, 0..4)) {
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
        cuts.push(0);
        cuts.push(data.len());
        cuts.sort_unstable();
        let mut v = Utf8Validator::new();
        let fed_ok = cuts.windows(2).all(|w| v.feed(&data[w[0]..w[1]]).is_ok());
        prop_assert_eq!(fed_ok && v.is_complete(), std::str::from_utf8(&data).is_ok());
    }
}
