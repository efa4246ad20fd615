//! The direct serde paths against their definition, serde_json (and its text transcoded for
//! MessagePack): same bytes written in both formats, same values (or the same errors) read
//! from MessagePack, for values of every shape of the serde data model, for arbitrary
//! MessagePack and for corrupted MessagePack.

use std::collections::BTreeMap;

use bytes::Bytes;
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize, Serializer};

use super::h;
use crate::hub::msgpack as mpw;
use crate::hub::value::direct;
use crate::hub::{HubProtocol, RawValue};

const MP: HubProtocol = HubProtocol::MessagePack;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct UnitStruct;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Newtype(String);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TupleStruct(i8, u64);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Enum {
    Unit,
    Newtype(i32),
    Tuple(u8, String),
    Struct { a: Option<bool>, b: Vec<u16> },
}

/// Serialized with `serialize_bytes` (serde_json: an array of numbers).
#[derive(Debug, Clone, PartialEq, Deserialize)]
struct ByteBuf(Vec<u8>);

impl Serialize for ByteBuf {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

/// Everything the direct path handles itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Common {
    b: bool,
    small: (i8, i16, i32, i64),
    unsigned: (u8, u16, u32, u64),
    f: f64,
    c: char,
    s: String,
    bytes: ByteBuf,
    opt: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    skipped: Option<u8>,
    unit: (),
    unit_struct: UnitStruct,
    newtype: Newtype,
    tuple_struct: TupleStruct,
    enums: Vec<Enum>,
    map: BTreeMap<String, i32>,
    nested: Vec<Vec<Option<String>>>,
}

/// What the direct path leaves to the JSON path: `f32`, 128-bit integers, integer keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Exotic {
    f: f32,
    wide: i128,
    keys: BTreeMap<u32, bool>,
}

fn text() -> impl Strategy<Value = String> {
    // Escapes, controls, quotes and non-ASCII included.
    prop_oneof![".{0,12}", "[\"\\\\\u{0}-\u{1f}a-z]{0,6}"]
}

fn enum_value() -> impl Strategy<Value = Enum> {
    prop_oneof![
        Just(Enum::Unit),
        any::<i32>().prop_map(Enum::Newtype),
        (any::<u8>(), text()).prop_map(|(a, b)| Enum::Tuple(a, b)),
        (
            any::<Option<bool>>(),
            prop::collection::vec(any::<u16>(), 0..3)
        )
            .prop_map(|(a, b)| Enum::Struct { a, b }),
    ]
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(-0.0),
        Just(1e300),
        Just(0.1),
        (-1000i64..1000).prop_map(|n| n as f64 / 8.0),
    ]
}

fn common() -> impl Strategy<Value = Common> {
    (
        (
            any::<bool>(),
            any::<(i8, i16, i32, i64)>(),
            any::<(u8, u16, u32, u64)>(),
            float(),
            any::<char>(),
            text(),
            prop::collection::vec(any::<u8>(), 0..20).prop_map(ByteBuf),
            any::<Option<i64>>(),
            any::<Option<u8>>(),
        ),
        (
            text().prop_map(Newtype),
            any::<(i8, u64)>().prop_map(|(a, b)| TupleStruct(a, b)),
            prop::collection::vec(enum_value(), 0..4),
            prop::collection::btree_map(text(), any::<i32>(), 0..4),
            prop::collection::vec(prop::collection::vec(prop::option::of(text()), 0..3), 0..3),
        ),
    )
        .prop_map(
            |((b, small, unsigned, f, c, s, bytes, opt, skipped), rest)| Common {
                b,
                small,
                unsigned,
                f,
                c,
                s,
                bytes,
                opt,
                skipped,
                unit: (),
                unit_struct: UnitStruct,
                newtype: rest.0,
                tuple_struct: rest.1,
                enums: rest.2,
                map: rest.3,
                nested: rest.4,
            },
        )
}

fn exotic() -> impl Strategy<Value = Exotic> {
    (
        any::<f32>(),
        any::<i128>(),
        prop::collection::btree_map(any::<u32>(), any::<bool>(), 0..3),
    )
        .prop_map(|(f, wide, keys)| Exotic { f, wide, keys })
}

/// A JSON value tree (serde_json's `Value` serializes maps with their length, numbers as
/// u64 / i64 / f64).
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        float().prop_map(serde_json::Value::from),
        text().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(text(), inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Both paths write the same bytes, or fail the same way, in both formats.
fn same_bytes<T: Serialize + ?Sized>(value: &T) -> Result<(), TestCaseError> {
    for protocol in [HubProtocol::Json, MP] {
        let direct = RawValue::from_serde(protocol, value);
        let via_json = RawValue::from_serde_via_json(protocol, value);
        prop_assert_eq!(direct, via_json, "{:?}", protocol);
    }
    Ok(())
}

/// Both paths read the same value, or fail with the same error.
fn same_read<T: DeserializeOwned + PartialEq + std::fmt::Debug>(
    raw: &RawValue,
) -> Result<(), TestCaseError> {
    let direct = raw.to_serde::<T>();
    let via_json = raw.to_serde_via_json::<T>();
    prop_assert_eq!(direct, via_json, "{}", std::any::type_name::<T>());
    Ok(())
}

/// Reads `raw` into every target type of these tests.
fn same_reads(raw: &RawValue) -> Result<(), TestCaseError> {
    same_read::<serde_json::Value>(raw)?;
    same_read::<Common>(raw)?;
    same_read::<Exotic>(raw)?;
    same_read::<Enum>(raw)?;
    same_read::<Vec<Enum>>(raw)?;
    same_read::<String>(raw)?;
    same_read::<char>(raw)?;
    same_read::<i64>(raw)?;
    same_read::<u8>(raw)?;
    same_read::<f64>(raw)?;
    same_read::<f32>(raw)?;
    same_read::<bool>(raw)?;
    same_read::<()>(raw)?;
    same_read::<Option<String>>(raw)?;
    same_read::<Vec<u8>>(raw)?;
    same_read::<ByteBufDe>(raw)?;
    same_read::<(i32, String)>(raw)?;
    same_read::<BTreeMap<String, serde_json::Value>>(raw)?;
    same_read::<BTreeMap<u32, serde_json::Value>>(raw)?;
    same_read::<Newtype>(raw)?;
    same_read::<UnitStruct>(raw)?;
    same_read::<TupleStruct>(raw)?;
    same_read::<serde::de::IgnoredAny>(raw)?;
    same_read::<Ignoring>(raw)?;
    Ok(())
}

/// Reads bytes with `deserialize_bytes` (a string's bytes, or an array of numbers).
#[derive(Debug, PartialEq)]
struct ByteBufDe(Vec<u8>);

impl<'de> Deserialize<'de> for ByteBufDe {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ByteBufDe;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<ByteBufDe, E> {
                Ok(ByteBufDe(v.to_vec()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<ByteBufDe, A::Error> {
                let mut v = Vec::new();
                while let Some(b) = seq.next_element()? {
                    v.push(b);
                }
                Ok(ByteBufDe(v))
            }
        }
        d.deserialize_bytes(V)
    }
}

/// A struct that ignores every member but `s`: ignored members must still be checked.
#[derive(Debug, PartialEq, Deserialize)]
struct Ignoring {
    #[serde(default)]
    s: Option<String>,
}

fn enc(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::new();
    f(&mut out);
    out
}

fn with_header(header: &[u8], body: &[u8]) -> Vec<u8> {
    [header, body].concat()
}

/// One MessagePack value of any kind the transcoder meets, valid or not: every integer form
/// (wider than needed too), floats of both widths (NaN, infinities), strings with escapes
/// and invalid UTF-8, `bin`, timestamps in range or not, other extensions, the reserved
/// marker; arrays, maps with string or other keys, one-entry maps named like variants.
fn mp_value() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        Just(h("c0")),
        any::<bool>().prop_map(|b| enc(|o| mpw::put_bool(o, b))),
        any::<u64>().prop_map(|n| enc(|o| mpw::put_uint(o, n))),
        any::<i64>().prop_map(|n| enc(|o| mpw::put_sint(o, n))),
        any::<i8>().prop_map(|n| vec![0xd0, n as u8]),
        any::<u16>().prop_map(|n| with_header(&[0xcd], &n.to_be_bytes())),
        any::<i64>().prop_map(|n| with_header(&[0xd3], &n.to_be_bytes())),
        float().prop_map(|f| with_header(&[0xcb], &f.to_be_bytes())),
        prop_oneof![
            any::<f32>(),
            Just(f32::NAN),
            Just(f32::INFINITY),
            Just(1.1f32)
        ]
        .prop_map(|f| with_header(&[0xca], &f.to_be_bytes())),
        text().prop_map(|s| enc(|o| mpw::put_str(o, &s))),
        Just(h("a2 ff fe")),
        prop::collection::vec(any::<u8>(), 0..10)
            .prop_map(|b| with_header(&[0xc4, b.len() as u8], &b)),
        any::<u32>().prop_map(|s| with_header(&[0xd6, 0xff], &s.to_be_bytes())),
        prop_oneof![any::<u64>(), (0u64..1 << 34).prop_map(|s| s | (5 << 34))]
            .prop_map(|v| with_header(&[0xd7, 0xff], &v.to_be_bytes())),
        (0u32..1_100_000_000, -70_000_000_000i64..300_000_000_000).prop_map(|(n, s)| {
            with_header(
                &[0xc7, 12, 0xff],
                &[n.to_be_bytes().as_slice(), &s.to_be_bytes()].concat(),
            )
        }),
        Just(h("d4 05 00")),
        Just(h("c1")),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        let key = prop_oneof![
            4 => text().prop_map(|s| enc(|o| mpw::put_str(o, &s))),
            1 => inner.clone(),
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|items| {
                let mut out = enc(|o| mpw::put_array_len(o, items.len()));
                out.extend(items.concat());
                out
            }),
            prop::collection::vec((key, inner.clone()), 0..4).prop_map(|entries| {
                let mut out = enc(|o| mpw::put_map_len(o, entries.len()));
                for (k, v) in entries {
                    out.extend(k);
                    out.extend(v);
                }
                out
            }),
            (
                prop_oneof![
                    Just("Unit"),
                    Just("Newtype"),
                    Just("Tuple"),
                    Just("Struct"),
                    Just("x")
                ],
                inner
            )
                .prop_map(|(name, v)| {
                    let mut out = h("81");
                    mpw::put_str(&mut out, name);
                    out.extend(v);
                    out
                }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn common_values_take_the_direct_path_and_match(value in common()) {
        prop_assert!(direct::to_msgpack(&value, &mut Vec::new()).is_ok());
        prop_assert!(direct::to_json(&value, &mut Vec::new()).is_ok());
        same_bytes(&value)?;
        let raw = RawValue::from_serde(MP, &value).unwrap();
        same_reads(&raw)?;
        if value.f.is_finite() {
            // Read back directly (equal to the value up to serde_json's float reading, which
            // without its `float_roundtrip` feature may be one ULP off, on both paths).
            prop_assert!(direct::from_msgpack::<Common>(raw.as_bytes()).is_ok());
            let back = raw.to_serde::<Common>().unwrap();
            prop_assert_eq!(Common { f: value.f, ..back }, value);
        }
    }

    #[test]
    fn exotic_values_match(value in exotic()) {
        same_bytes(&value)?;
        same_reads(&RawValue::from_serde(MP, &value).unwrap())?;
    }

    #[test]
    fn json_value_trees_match(value in json_value()) {
        same_bytes(&value)?;
        let raw = RawValue::from_serde(MP, &value).unwrap();
        same_reads(&raw)?;
        same_reads(&RawValue::from_serde(HubProtocol::Json, &value).unwrap().to_protocol(MP).unwrap())?;
    }

    #[test]
    fn arbitrary_msgpack_reads_match(bytes in mp_value(), extra in prop::option::of(any::<u8>())) {
        same_reads(&RawValue::MessagePack(Bytes::from(bytes.clone())))?;
        // Truncated, and followed by a stray byte.
        if bytes.len() > 1 {
            same_reads(&RawValue::MessagePack(Bytes::copy_from_slice(&bytes[..bytes.len() - 1])))?;
        }
        if let Some(b) = extra {
            let mut longer = bytes;
            longer.push(b);
            same_reads(&RawValue::MessagePack(Bytes::from(longer)))?;
        }
    }

    #[test]
    fn corrupted_values_read_the_same(
        value in common(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = RawValue::from_serde(MP, &value).unwrap().as_bytes().to_vec();
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        same_reads(&RawValue::MessagePack(Bytes::from(bytes)))?;
    }
}

/// Arrays nested `levels` deep around `null`.
fn nested(levels: usize) -> serde_json::Value {
    (0..levels).fold(serde_json::Value::Null, |v, _| {
        serde_json::Value::Array(vec![v])
    })
}

#[test]
fn depth_limit_is_the_json_paths() {
    for levels in [126, 127, 128, 129] {
        let value = nested(levels);
        same_bytes(&value).unwrap();
        let mut bytes = Vec::new();
        for _ in 0..levels {
            mpw::put_array_len(&mut bytes, 1);
        }
        mpw::put_nil(&mut bytes);
        let raw = RawValue::MessagePack(Bytes::from(bytes));
        same_reads(&raw).unwrap();
    }
    assert!(RawValue::from_serde(MP, &nested(127)).is_ok());
    assert!(RawValue::from_serde(MP, &nested(128)).is_err());
    // Bytes and variants count as levels too.
    #[derive(Serialize)]
    struct Deep(Vec<Deep>, Option<Box<Enum>>);
    let mut deep = Deep(
        vec![],
        Some(Box::new(Enum::Struct {
            a: None,
            b: vec![1],
        })),
    );
    for _ in 0..124 {
        deep = Deep(vec![deep], None);
    }
    same_bytes(&deep).unwrap();
}

#[test]
fn usual_arguments_take_the_direct_path() {
    let mut out = Vec::new();
    direct::to_msgpack("hello", &mut out).unwrap();
    assert_eq!(out, h("a5 68 65 6c 6c 6f"));
    let mut out = Vec::new();
    direct::to_msgpack(&-42i64, &mut out).unwrap();
    assert_eq!(out, h("d0 d6"));
    assert_eq!(direct::from_msgpack::<String>(&h("a1 78")).unwrap(), "x");
    assert_eq!(direct::from_msgpack::<i64>(&h("cd 01 00")).unwrap(), 256);
    assert_eq!(
        direct::from_msgpack::<String>(&h("c4 03 01 02 03")).unwrap(),
        "AQID"
    );
    assert_eq!(
        direct::from_msgpack::<String>(&h("d6 ff 00 00 00 00")).unwrap(),
        "1970-01-01T00:00:00Z"
    );
    let mut out = Vec::new();
    let mixed = (
        BTreeMap::from([(7u8, "x\n")]),
        -1.5f32,
        f64::NAN,
        1e300,
        i128::MIN,
    );
    direct::to_json(&mixed, &mut out).unwrap();
    assert_eq!(out, serde_json::to_vec(&mixed).unwrap());
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        r#"[{"7":"x\n"},-1.5,null,1e+300,-170141183460469231731687303715884105728]"#
    );
    // Left to serde_json.
    assert!(direct::to_json(&BTreeMap::from([(true, 1)]), &mut Vec::new()).is_err());
    assert!(direct::to_json(&BTreeMap::from([((), 1)]), &mut Vec::new()).is_err());
    assert!(direct::to_msgpack(&1.5f32, &mut Vec::new()).is_err());
    assert!(direct::to_msgpack(&BTreeMap::from([(1u8, 2u8)]), &mut Vec::new()).is_err());
    assert!(direct::from_msgpack::<f32>(&h("ca 3f c0 00 00")).is_err());
    assert!(direct::from_msgpack::<String>(&h("a1 78 00")).is_err());
    assert!(direct::from_msgpack::<serde_json::Value>(&h("d4 05 00")).is_err());
    // ...with the JSON path's results.
    assert_eq!(
        RawValue::from_serde(MP, &1.5f32).unwrap(),
        super::mp("cb 3f f8 00 00 00 00 00 00")
    );
    assert_eq!(super::mp("ca 3f c0 00 00").to_serde::<f32>().unwrap(), 1.5);
}

/// Serializes a string, calling `from_serde` itself meanwhile (the scratch buffer is busy).
struct Reentrant(String);

impl Serialize for Reentrant {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let inner = RawValue::from_serde(MP, &self.0).unwrap();
        assert_eq!(inner, RawValue::from_serde_via_json(MP, &self.0).unwrap());
        s.serialize_str(&self.0)
    }
}

#[test]
fn values_of_any_size_and_nested_calls_come_out_whole() {
    for protocol in [HubProtocol::Json, MP] {
        for len in [0, 10, 4000, 4096, 4097, 70_000] {
            let s = "x".repeat(len);
            let raw = RawValue::from_serde(protocol, &s).unwrap();
            assert_eq!(raw, RawValue::from_serde_via_json(protocol, &s).unwrap());
            let nested = RawValue::from_serde(protocol, &vec![Reentrant(s.clone())]).unwrap();
            assert_eq!(
                nested,
                RawValue::from_serde_via_json(protocol, &vec![s]).unwrap()
            );
        }
    }
}

/// JSON texts around strings: plain, escaped, with control characters or invalid UTF-8,
/// quotes inside, whitespace around, not quite strings.
fn json_string_text() -> impl Strategy<Value = Vec<u8>> {
    let ws = prop_oneof![Just(""), Just(" "), Just("\t\r\n "), Just("\u{a0}")];
    let body = prop_oneof![
        4 => "[a-zA-Z0-9 é€😀_-]{0,40}".prop_map(String::into_bytes),
        1 => prop_oneof![Just("Unit"), Just("Newtype"), Just("x")].prop_map(|s| s.as_bytes().to_vec()),
        1 => "[a-z\"\\\\\u{0}-\u{1f}]{0,6}".prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..6),
    ];
    (
        ws.clone(),
        body,
        ws,
        prop_oneof![6 => Just(""), 1 => Just("\""), 1 => Just("x")],
    )
        .prop_map(|(a, body, b, junk)| {
            [
                a.as_bytes(),
                b"\"",
                &body,
                b"\"",
                junk.as_bytes(),
                b.as_bytes(),
            ]
            .concat()
        })
}

proptest! {
    #[test]
    fn json_strings_read_directly_as_serde_json_reads_them(text in json_string_text()) {
        same_reads(&RawValue::Json(Bytes::from(text)))?;
    }
}

#[test]
fn plain_json_strings_take_the_direct_path() {
    assert_eq!(
        direct::from_json_string::<String>(b" \"hello\"\n").unwrap(),
        "hello"
    );
    assert_eq!(
        direct::from_json_string::<Enum>(b"\"Unit\"").unwrap(),
        Enum::Unit
    );
    assert!(direct::from_json_string::<String>(b"\"a\\nb\"").is_err());
    assert!(direct::from_json_string::<String>(b"\"a\"b\"").is_err());
    assert!(direct::from_json_string::<i64>(b"\"1\"").is_err());
    assert!(direct::from_json_string::<String>(b"1").is_err());
    // ...and the results are serde_json's either way.
    for text in [&b"\"a\\nb\""[..], b"\"a\"b\"", b"\"1\"", b"1", b"\"\xff\""] {
        let raw = RawValue::Json(Bytes::copy_from_slice(text));
        assert_eq!(raw.to_serde::<String>(), raw.to_serde_via_json::<String>());
    }
}
