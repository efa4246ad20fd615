//! RawValue helpers: serde conversion in both formats and JSON ↔ MessagePack transcoding of
//! nested values, with the limits (depth, keys, extensions, non-finite floats).

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{h, js, mp};
use crate::hub::value::MAX_DEPTH;
use crate::hub::{HubProtocol, RawValue, ValueError};

fn to_json(hex: &str) -> Result<String, ValueError> {
    mp(hex)
        .to_json()
        .map(|b| String::from_utf8(b.to_vec()).unwrap())
}

fn to_mp(text: &str) -> Result<Vec<u8>, ValueError> {
    js(text).to_msgpack().map(|b| b.to_vec())
}

/// Both directions between a JSON text and MessagePack bytes.
fn both_ways(text: &str, hex: &str) {
    assert_eq!(to_mp(text).unwrap(), h(hex), "json → msgpack {text}");
    assert_eq!(to_json(hex).unwrap(), text, "msgpack → json {hex}");
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Order {
    zeta: String,
    alpha: Vec<Option<bool>>,
    count: u64,
    delta: i64,
    ratio: f64,
}

fn order() -> Order {
    Order {
        zeta: "z\"é".into(),
        alpha: vec![Some(true), None],
        count: u64::MAX,
        delta: i64::MIN,
        ratio: 0.1,
    }
}

#[test]
fn serde_round_trip_in_both_formats() {
    for protocol in [HubProtocol::Json, HubProtocol::MessagePack] {
        let raw = RawValue::from_serde(protocol, &order()).unwrap();
        assert_eq!(raw.protocol(), protocol);
        assert_eq!(raw.to_serde::<Order>().unwrap(), order());
    }
}

#[test]
fn from_serde_msgpack_keeps_field_order_and_smallest_ints() {
    #[derive(Serialize)]
    struct S {
        b: u8,
        a: Vec<i32>,
    }
    let raw = RawValue::from_serde(
        HubProtocol::MessagePack,
        &S {
            b: 1,
            a: vec![-1, 300, -33],
        },
    )
    .unwrap();
    assert_eq!(raw, mp("82 a1 62 01 a1 61 93 ff cd 01 2c d0 df"));
    assert_eq!(
        RawValue::from_serde(HubProtocol::MessagePack, &42).unwrap(),
        mp("2a")
    );
    assert_eq!(
        RawValue::from_serde(HubProtocol::Json, "x").unwrap(),
        js(r#""x""#)
    );
}

#[test]
fn to_serde_reports_type_mismatch() {
    assert!(matches!(
        mp("a1 78").to_serde::<u32>(),
        Err(ValueError::Deserialize(_))
    ));
    assert!(matches!(
        js(r#""x""#).to_serde::<u32>(),
        Err(ValueError::Deserialize(_))
    ));
}

#[test]
fn null_in_both_formats() {
    assert_eq!(RawValue::null(HubProtocol::Json), js("null"));
    assert_eq!(RawValue::null(HubProtocol::MessagePack), mp("c0"));
    assert_eq!(
        RawValue::null(HubProtocol::MessagePack).to_serde::<Option<u8>>(),
        Ok(None)
    );
}

#[test]
fn nested_values_transcode_both_ways() {
    both_ways(
        r#"{"a":[1,-1,1.5,"x",null,true,false],"b":{"c":{},"d":[[]]}}"#,
        "82 a1 61 97 01 ff cb 3f f8 00 00 00 00 00 00 a1 78 c0 c3 c2 a1 62 82 a1 63 80 a1 64 91 90",
    );
    // Key order is kept, not sorted.
    both_ways(r#"{"z":1,"a":2}"#, "82 a1 7a 01 a1 61 02");
}

#[test]
fn integers_are_exact_at_the_edges() {
    both_ways("18446744073709551615", "cf ff ff ff ff ff ff ff ff");
    both_ways("-9223372036854775808", "d3 80 00 00 00 00 00 00 00");
    both_ways("127", "7f");
    both_ways("128", "cc 80");
    both_ways("-32", "e0");
    both_ways("-33", "d0 df");
    both_ways("65536", "ce 00 01 00 00");
    // Non-canonical widths read the same.
    assert_eq!(to_json("d3 00 00 00 00 00 00 00 05").unwrap(), "5");
    assert_eq!(to_json("cd 00 05").unwrap(), "5");
    // Integers beyond u64 are read as float 64 (serde_json does); beyond f64 they fail.
    assert_eq!(
        to_mp("18446744073709551616").unwrap(),
        h("cb 43 f0 00 00 00 00 00 00")
    );
    assert!(matches!(to_mp("1e400"), Err(ValueError::InvalidJson(_))));
}

#[test]
fn floats() {
    both_ways("1.0", "cb 3f f0 00 00 00 00 00 00");
    both_ways("1e+300", "cb 7e 37 e4 3c 88 00 75 9c");
    both_ways("-0.0", "cb 80 00 00 00 00 00 00 00");
    // Read exactly (correctly rounded), written in the shortest form.
    // (serde_json without `float_roundtrip` reads this one a ULP low.)
    let text = "5.5579342246682383e+79";
    let mut bits = vec![0xCB];
    bits.extend(text.parse::<f64>().unwrap().to_bits().to_be_bytes());
    assert_eq!(to_mp(text).unwrap(), bits);
    assert_eq!(
        RawValue::MessagePack(Bytes::from(bits)).to_json().unwrap(),
        text
    );
    assert_eq!(to_mp("0.1").unwrap(), h("cb 3f b9 99 99 99 99 99 9a"));
    assert_eq!(to_mp("1E2").unwrap(), h("cb 40 59 00 00 00 00 00 00"));
    // float 32 in its shortest form.
    assert_eq!(to_json("ca 3f 8c cc cd").unwrap(), "1.1");
    assert_eq!(to_json("ca 3f 80 00 00").unwrap(), "1.0");
    assert_eq!(
        to_json("cb 7f f8 00 00 00 00 00 00"),
        Err(ValueError::NonFiniteFloat)
    );
    assert_eq!(to_json("ca 7f 80 00 00"), Err(ValueError::NonFiniteFloat));
}

#[test]
fn strings_are_escaped_and_read_back() {
    let s = "q\" b\\ n\n t\t c\u{1} d\u{7f} é 😀";
    let mut hex = format!("d9 {:02x}", s.len());
    for b in s.as_bytes() {
        hex.push_str(&format!(" {b:02x}"));
    }
    let text = to_json(&hex).unwrap();
    let want = r#""q\" b\\ n\n t\t c\u0001 d"#.to_owned() + "\u{7f}" + r#" é 😀""#;
    assert_eq!(text, want);
    assert_eq!(serde_json::from_str::<String>(&text).unwrap(), s);
    assert_eq!(to_json("a2 ff fe"), Err(ValueError::InvalidUtf8));
}

#[test]
fn bin_becomes_base64_like_dotnet_byte_arrays() {
    assert_eq!(to_json("c4 03 01 02 03").unwrap(), r#""AQID""#);
    assert_eq!(to_json("c4 00").unwrap(), r#""""#);
    assert_eq!(mp("c4 02 ff 00").to_serde::<String>().unwrap(), "/wA=");
}

#[test]
fn timestamps_become_iso_8601_utc() {
    assert_eq!(
        to_json("d6 ff 00 00 00 00").unwrap(),
        r#""1970-01-01T00:00:00Z""#
    );
    // 2024-01-02T03:04:05.5Z in the 64-bit form (nanoseconds << 34 | seconds).
    assert_eq!(
        to_json("d7 ff 77 35 94 00 65 93 7d 25").unwrap(),
        r#""2024-01-02T03:04:05.5Z""#
    );
    // 96-bit form: one second before the epoch, 1 ns.
    assert_eq!(
        to_json("c7 0c ff 00 00 00 01 ff ff ff ff ff ff ff ff").unwrap(),
        r#""1969-12-31T23:59:59.000000001Z""#
    );
    // Leap day.
    assert_eq!(
        to_json("d6 ff 38 bb 0c 00").unwrap(),
        r#""2000-02-29T00:00:00Z""#
    );
    // Year 10000 and nanoseconds over 10^9 are out of range.
    assert_eq!(
        to_json("c7 0c ff 00 00 00 00 00 00 00 3a ff f4 41 80"),
        Err(ValueError::TimestampOutOfRange)
    );
    assert_eq!(
        to_json("c7 0c ff 3b 9a ca 00 00 00 00 00 00 00 00 00"),
        Err(ValueError::TimestampOutOfRange)
    );
}

#[test]
fn unsupported_msgpack_forms_are_errors() {
    assert_eq!(
        to_json("d4 05 00"),
        Err(ValueError::UnsupportedExtension(5))
    );
    assert_eq!(to_json("81 01 02"), Err(ValueError::NonStringKey));
    assert_eq!(to_json("81 c0 02"), Err(ValueError::NonStringKey));
    assert!(matches!(
        to_json("2a 2a"),
        Err(ValueError::InvalidMessagePack(_))
    ));
    assert!(matches!(
        to_json("92 01"),
        Err(ValueError::InvalidMessagePack(_))
    ));
    assert!(matches!(
        to_json(""),
        Err(ValueError::InvalidMessagePack(_))
    ));
    assert!(matches!(
        to_json("c1"),
        Err(ValueError::InvalidMessagePack(_))
    ));
    for bad in [
        "{\"a\":",
        "1 2",
        "",
        "01",
        "1.",
        "-",
        ".5",
        "1e",
        "+1",
        "tru",
        "nul",
        "[1,]",
        "{\"a\"1}",
        "{a:1}",
        "{\"a\":1,}",
        "\"\\x\"",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"a\nb\"",
        "\"\\u12\"",
        "[1 2]",
        "NaN",
        "\"unterminated",
    ] {
        assert!(
            matches!(to_mp(bad), Err(ValueError::InvalidJson(_))),
            "{bad:?}"
        );
    }
    assert!(matches!(
        RawValue::Json(Bytes::from_static(b"\"\xff\"")).to_msgpack(),
        Err(ValueError::InvalidJson(_))
    ));
}

#[test]
fn same_format_conversion_is_a_cheap_clone() {
    let raw = mp("92 01 02");
    let out = raw.to_msgpack().unwrap();
    assert_eq!(out.as_ptr(), raw.as_bytes().as_ptr());
    let raw = js("[1,2]");
    assert_eq!(raw.to_json().unwrap().as_ptr(), raw.as_bytes().as_ptr());
    assert_eq!(raw.to_protocol(HubProtocol::Json).unwrap(), raw);
    assert_eq!(
        raw.to_protocol(HubProtocol::MessagePack).unwrap(),
        mp("92 01 02")
    );
}

fn nested_msgpack(levels: usize) -> RawValue {
    let mut bytes = vec![0x91; levels];
    bytes.push(0xC0);
    RawValue::MessagePack(Bytes::from(bytes))
}

fn nested_json(levels: usize) -> RawValue {
    RawValue::Json(Bytes::from(format!(
        "{}null{}",
        "[".repeat(levels),
        "]".repeat(levels)
    )))
}

#[test]
fn depth_is_limited_in_both_directions() {
    let json = nested_msgpack(MAX_DEPTH).to_json().unwrap();
    assert_eq!(json, nested_json(MAX_DEPTH).as_bytes());
    assert_eq!(
        nested_json(MAX_DEPTH).to_msgpack().unwrap(),
        nested_msgpack(MAX_DEPTH).as_bytes()
    );
    assert_eq!(
        nested_msgpack(MAX_DEPTH + 1).to_json(),
        Err(ValueError::TooDeep { max: MAX_DEPTH })
    );
    assert_eq!(
        nested_json(MAX_DEPTH + 1).to_msgpack(),
        Err(ValueError::TooDeep { max: MAX_DEPTH })
    );
    // Hostile depth fails cleanly instead of overflowing the stack.
    assert_eq!(
        nested_msgpack(1_000_000).to_json(),
        Err(ValueError::TooDeep { max: MAX_DEPTH })
    );
    assert!(nested_json(1_000_000).to_msgpack().is_err());
}

#[test]
fn decimal_writers_match_to_string() {
    let mut nums: Vec<i64> = vec![0, 1, -1, 9, 10, -10, 99, 100, i64::MIN, i64::MAX];
    nums.extend((1..19).map(|e| 10i64.pow(e) - 1));
    for n in nums {
        let mut out = Vec::new();
        crate::hub::value::put_i64(&mut out, n);
        assert_eq!(out, n.to_string().as_bytes());
        let mut out = Vec::new();
        crate::hub::value::put_u64(&mut out, n.unsigned_abs());
        assert_eq!(out, n.unsigned_abs().to_string().as_bytes());
    }
    let mut out = Vec::new();
    crate::hub::value::put_u64(&mut out, u64::MAX);
    assert_eq!(out, u64::MAX.to_string().as_bytes());
}

#[test]
fn json_strings_are_escaped_as_serde_json_escapes_them() {
    let specials = [
        '"', '\\', '\n', '\r', '\t', '\u{8}', '\u{c}', '\u{0}', '\u{1f}', '\u{7f}', 'é', '€', '😀',
    ];
    for len in [0usize, 1, 31, 32, 33, 63, 64, 65, 100] {
        for at in [0, len / 2, len.saturating_sub(1)] {
            for special in specials {
                let mut s: Vec<char> = std::iter::repeat_n('a', len).collect();
                if len > 0 {
                    s[at] = special;
                }
                let s: String = s.into_iter().collect();
                let mut ours = Vec::new();
                crate::hub::value::put_json_str(&mut ours, &s);
                assert_eq!(ours, serde_json::to_vec(&s).unwrap(), "{s:?}");
            }
        }
    }
    let all: String = (0u8..128).map(char::from).collect::<String>().repeat(3);
    let mut ours = Vec::new();
    crate::hub::value::put_json_str(&mut ours, &all);
    assert_eq!(ours, serde_json::to_vec(&all).unwrap());
}
