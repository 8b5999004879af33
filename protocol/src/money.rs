//! Money: integer minor units plus an ISO 4217 currency code, never floating point.
//!
//! Kaban knows the currencies of the host countries where groups save and of the home
//! countries where they invest. Each has its ISO 4217 minor-unit exponent, which is all that is
//! needed to turn "500.25" typed by a treasurer into 50025 minor units and back.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The currencies Kaban knows, with their ISO 4217 exponents.
const CURRENCIES: &[(&str, u32)] = &[
    // Host countries.
    ("HKD", 2),
    ("TWD", 2),
    ("KRW", 0),
    ("SGD", 2),
    ("MOP", 2),
    ("MYR", 2),
    ("JPY", 0),
    // Home countries.
    ("PHP", 2),
    ("IDR", 2),
    ("BDT", 2),
    ("THB", 2),
    // Remittance channels often quote these.
    ("USD", 2),
    ("EUR", 2),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error(
        "currency {0:?} is not one Kaban knows; use one of HKD TWD KRW SGD MOP MYR JPY PHP IDR BDT THB USD EUR"
    )]
    UnknownCurrency(String),
    #[error("amount {text:?} is not a decimal number like 500 or 500.25")]
    Syntax { text: String },
    #[error("amount {text:?} has more decimals than {currency}, which has {exponent}")]
    TooManyDecimals {
        text: String,
        currency: Currency,
        exponent: u32,
    },
    #[error("amount {text:?} is too large")]
    TooLarge { text: String },
}

/// An ISO 4217 code that Kaban knows.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.0).expect("currency codes are ASCII by construction")
    }

    /// The number of decimal places of the minor unit.
    pub fn exponent(&self) -> u32 {
        CURRENCIES
            .iter()
            .find(|(code, _)| code.as_bytes() == self.0)
            .map(|(_, e)| *e)
            .expect("a Currency is only built from the known table")
    }
}

impl Currency {
    /// The codes of every currency Kaban knows.
    pub fn codes() -> impl Iterator<Item = &'static str> {
        CURRENCIES.iter().map(|(code, _)| *code)
    }
}

impl FromStr for Currency {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, MoneyError> {
        CURRENCIES
            .iter()
            .find(|(code, _)| *code == s)
            .map(|(code, _)| {
                Currency(
                    code.as_bytes()
                        .try_into()
                        .expect("table codes are three bytes"),
                )
            })
            .ok_or_else(|| MoneyError::UnknownCurrency(s.chars().take(16).collect()))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// An amount of money in integer minor units: `{"currency": "HKD", "minor": 50025}` is
/// HKD 500.25. Every amount in every answer has this form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Money {
    pub currency: Currency,
    /// Integer minor units of the currency (cents; whole yen and won, which have none).
    pub minor: i64,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Self {
        Money { currency, minor }
    }

    /// Parses a decimal amount in major units ("500", "500.2", "500.25") exactly. Refuses more
    /// decimals than the currency has, signs, exponents and anything beyond the safe integer
    /// range of a record.
    pub fn parse_major(text: &str, currency: Currency) -> Result<Money, MoneyError> {
        let syntax = || MoneyError::Syntax { text: text.into() };
        let (whole, frac) = match text.split_once('.') {
            Some((w, f)) => (w, f),
            None => (text, ""),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || (text.contains('.') && !digits(frac)) {
            return Err(syntax());
        }
        let exponent = currency.exponent();
        if frac.len() > exponent as usize {
            return Err(MoneyError::TooManyDecimals {
                text: text.into(),
                currency,
                exponent,
            });
        }
        let too_large = || MoneyError::TooLarge { text: text.into() };
        let scale = 10i64.pow(exponent);
        let whole: i64 = whole.parse().map_err(|_| too_large())?;
        let frac_minor: i64 = if frac.is_empty() {
            0
        } else {
            let f: i64 = frac.parse().map_err(|_| syntax())?;
            f * 10i64.pow(exponent - frac.len() as u32)
        };
        let minor = whole
            .checked_mul(scale)
            .and_then(|m| m.checked_add(frac_minor))
            .filter(|m| *m <= crate::canonical::MAX_SAFE_INTEGER)
            .ok_or_else(too_large)?;
        Ok(Money { currency, minor })
    }

    /// The amount in major units with exactly the currency's decimals, without the code.
    pub fn major_text(&self) -> String {
        decimal_text(self.minor, self.currency.exponent())
    }
}

/// `value` × 10^−`decimals` as exact decimal text: (125, 1) is "12.5", (-5, 2) is "-0.05".
pub fn decimal_text(value: i64, decimals: u32) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let abs = value.unsigned_abs();
    if decimals == 0 {
        return format!("{sign}{abs}");
    }
    let scale = 10u64.pow(decimals);
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = decimals as usize
    )
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.major_text(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hkd() -> Currency {
        "HKD".parse().unwrap()
    }

    #[test]
    fn parses_and_formats_exactly() {
        let m = Money::parse_major("500.25", hkd()).unwrap();
        assert_eq!(m.minor, 50025);
        assert_eq!(m.to_string(), "500.25 HKD");
        assert_eq!(Money::parse_major("500.2", hkd()).unwrap().minor, 50020);
        assert_eq!(Money::parse_major("7", hkd()).unwrap().minor, 700);
        let krw: Currency = "KRW".parse().unwrap();
        assert_eq!(
            Money::parse_major("15000", krw).unwrap().to_string(),
            "15000 KRW"
        );
        assert_eq!(Money::new(-5, hkd()).to_string(), "-0.05 HKD");
    }

    #[test]
    fn refuses_ambiguous_amounts() {
        assert!(matches!(
            Money::parse_major("1.234", hkd()),
            Err(MoneyError::TooManyDecimals { exponent: 2, .. })
        ));
        let krw: Currency = "KRW".parse().unwrap();
        assert!(matches!(
            Money::parse_major("1.5", krw),
            Err(MoneyError::TooManyDecimals { exponent: 0, .. })
        ));
        for bad in ["", ".5", "5.", "-5", "+5", "1e3", "1,000", " 5", "5 "] {
            assert!(
                matches!(
                    Money::parse_major(bad, hkd()),
                    Err(MoneyError::Syntax { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            Money::parse_major("99999999999999999999", hkd()),
            Err(MoneyError::TooLarge { .. })
        ));
        assert!(matches!(
            "XYZ".parse::<Currency>(),
            Err(MoneyError::UnknownCurrency(_))
        ));
    }

    proptest! {
        #[test]
        fn major_text_round_trips(minor in 0i64..=crate::canonical::MAX_SAFE_INTEGER, idx in 0usize..CURRENCIES.len()) {
            let currency: Currency = CURRENCIES[idx].0.parse().unwrap();
            let m = Money::new(minor, currency);
            prop_assert_eq!(Money::parse_major(&m.major_text(), currency).unwrap(), m);
        }
    }
}
