//! One spelling per body: a body's JSON must have the shape of its typed reading.

use super::BodyError;
use serde_json::Value;

/// Whether `value` is `null` or holds one at any depth.
fn holds_null(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.iter().any(holds_null),
        Value::Object(map) => map.values().any(holds_null),
        _ => false,
    }
}

/// Refuses a body whose JSON has another shape than its typed reading: serde would also read a
/// struct written as an array of its fields, or a role written as `{"treasurer": null}`, which
/// would give one body several spellings (and readers that differ on them). Members the typed
/// form does not have are allowed (SPEC section 4 keeps them), but never as `null`.
pub(super) fn same_shape(given: &Value, typed: &Value, at: &str) -> Result<(), BodyError> {
    let wrong = |what: &str| BodyError::Json(format!("{at} must be {what}"));
    match typed {
        Value::Object(fields) => {
            let Value::Object(given) = given else {
                return Err(wrong("an object"));
            };
            for (name, value) in given {
                match fields.get(name) {
                    Some(t) => same_shape(value, t, &format!("{at}.{name}"))?,
                    None if holds_null(value) => {
                        return Err(BodyError::Json(format!(
                            "{at}.{name} is or holds null; a record never holds null, at any depth"
                        )));
                    }
                    None => {}
                }
            }
            Ok(())
        }
        Value::Array(items) => {
            let Value::Array(given) = given else {
                return Err(wrong("an array"));
            };
            if given.len() != items.len() {
                return Err(wrong("an array of the same length"));
            }
            for (i, (g, t)) in given.iter().zip(items).enumerate() {
                same_shape(g, t, &format!("{at}[{i}]"))?;
            }
            Ok(())
        }
        _ if given == typed => Ok(()),
        _ => Err(wrong(&format!("{typed} as written"))),
    }
}
