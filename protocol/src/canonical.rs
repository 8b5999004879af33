//! Canonical JSON: the one byte encoding of every record.
//!
//! Kaban records are JSON canonicalized per RFC 8785 (JCS), restricted to the values a record
//! needs: `null`, booleans, integers in the range JavaScript represents exactly, strings, arrays
//! and objects. Floating point numbers are refused outright, because money is integer minor
//! units and a float in a signed record is always a bug. Thin clients in any language can
//! produce this form with a sorted-key `JSON.stringify`.
//!
//! Decoding is strict: the input is parsed, encoded again, and must match byte for byte. That one
//! comparison refuses whitespace, duplicate keys, unsorted keys, needless escapes, `-0`, `1.0`
//! and every other way of writing the same value twice.

use serde_json::Value;
use std::cmp::Ordering;

/// The largest integer magnitude a record may carry: 2^53 - 1, the largest integer an IEEE 754
/// double (and so JavaScript) holds exactly. Beyond it JCS would print an exponent.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// How deeply arrays and objects may nest. Records are shallow; the limit keeps a hostile input
/// from costing stack.
pub const MAX_DEPTH: usize = 16;

/// Why bytes are not canonical JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    #[error("not valid JSON: {0}")]
    Syntax(String),
    #[error(
        "number {0} is not an integer; money is integer minor units and records carry no floats"
    )]
    NotAnInteger(String),
    #[error("integer {0} is outside the safe range of plus or minus 2^53 - 1")]
    IntegerOutOfRange(String),
    #[error("JSON nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error(
        "JSON is not in canonical form (RFC 8785: sorted keys, no whitespace, minimal escapes); first difference at byte {offset}"
    )]
    NotCanonical { offset: usize },
}

/// Parses canonical JSON, refusing any input that is not exactly the canonical encoding of the
/// value it holds.
pub fn decode(bytes: &[u8]) -> Result<Value, CanonicalError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| CanonicalError::Syntax(e.to_string()))?;
    let mut again = Vec::with_capacity(bytes.len());
    encode_into(&value, &mut again, 0)?;
    if again != bytes {
        let offset = again
            .iter()
            .zip(bytes)
            .position(|(a, b)| a != b)
            .unwrap_or(again.len().min(bytes.len()));
        return Err(CanonicalError::NotCanonical { offset });
    }
    Ok(value)
}

/// Encodes a value canonically. Fails on floats, unsafe integers and excessive nesting, which
/// are programmer errors when the value was built by Kaban itself.
pub fn encode(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(256);
    encode_into(value, &mut out, 0)?;
    Ok(out)
}

fn encode_into(value: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            let Some(i) = n.as_i64() else {
                return match n.as_u64() {
                    Some(_) => Err(CanonicalError::IntegerOutOfRange(n.to_string())),
                    None => Err(CanonicalError::NotAnInteger(n.to_string())),
                };
            };
            if !(-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i) {
                return Err(CanonicalError::IntegerOutOfRange(i.to_string()));
            }
            out.extend_from_slice(i.to_string().as_bytes());
        }
        Value::String(s) => encode_string(s, out),
        Value::Array(items) => {
            if depth >= MAX_DEPTH {
                return Err(CanonicalError::TooDeep);
            }
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                encode_into(item, out, depth + 1)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            if depth >= MAX_DEPTH {
                return Err(CanonicalError::TooDeep);
            }
            // RFC 8785 sorts member names by their UTF-16 code units, which differs from UTF-8
            // byte order only for characters above U+FFFF against U+E000..U+FFFF.
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| utf16_cmp(a, b));
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                encode_string(key, out);
                out.push(b':');
                encode_into(&map[key], out, depth + 1)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn utf16_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// JCS string form: escape only `"`, `\` and control characters, with the short escapes where
/// JSON has them and lowercase `\u00xx` otherwise. Everything else is written as UTF-8.
fn encode_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for ch in s.chars() {
        match ch {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\r' => out.extend_from_slice(b"\\r"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_and_drops_whitespace() {
        let v = json!({"b": 1, "a": [true, null, "x"], "c": {"z": -5, "y": "é"}});
        let bytes = encode(&v).unwrap();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"a":[true,null,"x"],"b":1,"c":{"y":"é","z":-5}}"#
        );
        assert_eq!(decode(&bytes).unwrap(), v);
    }

    #[test]
    fn escapes_like_jcs() {
        let v = json!("q\"b\\n\n\u{1}\u{7f}/é😀");
        let bytes = encode(&v).unwrap();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            "\"q\\\"b\\\\n\\n\\u0001\u{7f}/é😀\""
        );
    }

    #[test]
    fn sorts_by_utf16_not_utf8() {
        // U+FF61 is above U+E000, U+1F600 is a surrogate pair starting 0xD83D: UTF-16 puts the
        // emoji first, UTF-8 puts it last.
        let v = json!({"\u{ff61}": 1, "😀": 2});
        let bytes = encode(&v).unwrap();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            "{\"😀\":2,\"\u{ff61}\":1}"
        );
    }

    #[test]
    fn refuses_every_non_canonical_spelling() {
        for bad in [
            &br#"{"a":1, "b":2}"#[..],
            br#"{"b":2,"a":1}"#,
            br#"{"a":1,"a":1}"#,
            br#"{"a":1.0}"#,
            br#"{"a":1e3}"#,
            br#"{"a":-0}"#,
            br#"{"a":"\u0041"}"#,
            br#"{"a":"\/"}"#,
            b" 1",
            b"1 ",
        ] {
            let err = decode(bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    CanonicalError::NotCanonical { .. } | CanonicalError::NotAnInteger(_)
                ),
                "{} gave {err:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn refuses_floats_big_integers_and_deep_nesting() {
        assert!(matches!(
            decode(b"0.5"),
            Err(CanonicalError::NotAnInteger(_))
        ));
        assert!(matches!(
            decode(b"9007199254740992"),
            Err(CanonicalError::IntegerOutOfRange(_))
        ));
        assert!(decode(b"9007199254740991").is_ok());
        assert!(matches!(
            decode(b"18446744073709551615"),
            Err(CanonicalError::IntegerOutOfRange(_))
        ));
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(decode(deep.as_bytes()), Err(CanonicalError::TooDeep));
        assert!(matches!(decode(b"{"), Err(CanonicalError::Syntax(_))));
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).prop_map(|i| json!(i)),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(any::<String>(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn round_trips(v in arb_value()) {
            let bytes = encode(&v).unwrap();
            prop_assert_eq!(decode(&bytes).unwrap(), v.clone());
            // serde_json's own compact output must decode to the same value, and where it is
            // byte-identical to ours it must be accepted.
            let theirs = serde_json::to_vec(&v).unwrap();
            if theirs == bytes {
                prop_assert!(decode(&theirs).is_ok());
            }
        }
    }
}
