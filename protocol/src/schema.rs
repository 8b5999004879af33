//! OpenAPI schemas for the protocol's text types (feature `openapi`), each with the exact form
//! its parser accepts, so that a client generated from the node's document builds only values
//! the node can read. The structs and enums derive theirs next to their definitions.

use crate::key::PublicKey;
use crate::kind::MemberId;
use crate::money::Currency;
use crate::record::{BookId, RecordId};
use std::borrow::Cow;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};

/// 64 lowercase hex digits: a SHA-256 (SPEC.md section 3).
pub const ID_PATTERN: &str = "^[0-9a-f]{64}$";
/// 32 bytes as unpadded base64url: 43 characters, the last carrying two zero bits.
pub const KEY_PATTERN: &str = "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$";
/// 64 bytes as unpadded base64url: 86 characters, the last carrying four zero bits.
pub const SIGNATURE_PATTERN: &str = "^[A-Za-z0-9_-]{85}[AQgw]$";
/// A pseudonymous member id (SPEC.md section 4).
pub const MEMBER_PATTERN: &str = "^[a-z0-9-]{3,32}$";
/// A calendar date, as the statement's period and the records' dates take it.
pub const DATE_PATTERN: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$";

/// A string schema with a pattern, a description and one example.
pub fn text(description: &str, pattern: &str, example: &str) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .description(Some(description))
        .examples([serde_json::Value::from(example)])
        .into()
}

macro_rules! text_schema {
    ($t:ty, $name:literal, $description:literal, $pattern:expr, $example:literal) => {
        impl utoipa::PartialSchema for $t {
            fn schema() -> RefOr<Schema> {
                text($description, $pattern, $example).into()
            }
        }
        impl utoipa::ToSchema for $t {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

text_schema!(
    BookId,
    "BookId",
    "A book id: its genesis record's id, 64 lowercase hex digits (SPEC.md section 3).",
    ID_PATTERN,
    "9f2c4a7de1b35608c0a1f4e2d3b5c6a7980f1e2d3c4b5a69788796a5b4c3d2e1"
);
text_schema!(
    RecordId,
    "RecordId",
    "A record id: SHA-256 of its signing input, 64 lowercase hex digits (SPEC.md section 3).",
    ID_PATTERN,
    "0c1d2e3f405162738495a6b7c8d9eafb0c1d2e3f405162738495a6b7c8d9eafb"
);
text_schema!(
    PublicKey,
    "PublicKey",
    "An ed25519 public key as 43 characters of unpadded base64url (SPEC.md section 2).",
    KEY_PATTERN,
    "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik"
);
text_schema!(
    MemberId,
    "MemberId",
    "A pseudonymous member id: 3 to 32 characters of a-z, 0-9 and -. It never carries personal data.",
    MEMBER_PATTERN,
    "m-ana"
);

impl utoipa::PartialSchema for Currency {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "An ISO 4217 code of a currency the protocol knows (SPEC.md section 4).",
            ))
            .enum_values(Some(Currency::codes()))
            .into()
    }
}

impl utoipa::ToSchema for Currency {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Currency")
    }
}
