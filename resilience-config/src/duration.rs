//! Durations written as text, as the attributes take them (and, later, configuration files):
//! `"250ms"`, `"2s"`, `"1m"`, `"1h"`, `"1s 500ms"`: parts separated by spaces, each a whole
//! number with its unit right after it, no sign. Units: `ns`, `us` (or `µs`), `ms`, `s`, `m`,
//! `h`.

use std::time::Duration;

/// Each unit with its length in nanoseconds.
const UNITS: &[(&str, u64)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

const EXPECTED: &str = "expected a duration such as \"250ms\", \"2s\", \"1m\", \"1h\" or \"1s 500ms\" (units: ns, us, ms, s, m, h)";

fn unit(name: &str) -> Option<u64> {
    UNITS
        .iter()
        .find(|(unit, _)| *unit == name)
        .map(|(_, nanos)| *nanos)
}

/// Parses a duration such as `"1s 500ms"`; the error says what to write instead.
///
/// The total must fit in a `u64` of nanoseconds (about 584 years).
pub fn parse(text: &str) -> Result<Duration, String> {
    if text.trim().is_empty() {
        return Err(format!("empty duration: {EXPECTED}"));
    }
    let parts: Vec<&str> = text.split_whitespace().collect();
    let mut total: u64 = 0;
    for (index, part) in parts.iter().enumerate() {
        let Some(digits_end) = part.find(|c: char| !c.is_ascii_digit()) else {
            return Err(match parts.get(index + 1) {
                // `"10 s"`: the unit is there, one space too far.
                Some(next) if unit(next).is_some() => {
                    let mut fixed = parts.clone();
                    let joined = format!("{part}{next}");
                    fixed.splice(index..=index + 1, [joined.as_str()]);
                    format!(
                        "write the unit right after the number, without a space: \"{}\"",
                        fixed.join(" ")
                    )
                }
                _ => format!(
                    "`{part}` has no unit: write the unit right after the number, e.g. \"{part}ms\" or \"{part}s\" (units: ns, us, ms, s, m, h)"
                ),
            });
        };
        if digits_end == 0 {
            return Err(format!(
                "`{part}` does not start with a whole number: {EXPECTED}"
            ));
        }
        let (number, unit_name) = part.split_at(digits_end);
        let scale = unit(unit_name)
            .ok_or_else(|| format!("unknown unit `{unit_name}` in `{part}`: {EXPECTED}"))?;
        total = number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(scale))
            .and_then(|n| total.checked_add(n))
            .ok_or_else(|| format!("duration `{text}` is too long (at most about 584 years)"))?;
    }
    Ok(Duration::from_nanos(total))
}

/// `duration` in the syntax [`parse`] reads back: its parts from hours down to nanoseconds,
/// zero parts left out (`"1s 500ms"`, `"2m"`, `"0s"`). A duration of more than `u64::MAX`
/// nanoseconds is written too, but [`parse`] refuses it.
pub fn format(duration: Duration) -> String {
    if duration.is_zero() {
        return "0s".to_owned();
    }
    let mut secs = duration.as_secs();
    let mut nanos = u64::from(duration.subsec_nanos());
    let mut parts = Vec::new();
    for (unit, length) in [("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= length {
            parts.push(format!("{}{unit}", secs / length));
            secs %= length;
        }
    }
    for (unit, length) in [("ms", 1_000_000), ("us", 1_000), ("ns", 1)] {
        if nanos >= length {
            parts.push(format!("{}{unit}", nanos / length));
            nanos %= length;
        }
    }
    parts.join(" ")
}

/// Serde of a `Duration` as its [`format`]ted text, read back with [`parse`].
#[cfg(feature = "serde")]
pub(crate) mod text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(duration: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format(*duration))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(d)?;
        super::parse(&text).map_err(serde::de::Error::custom)
    }

    /// The same for an `Option<Duration>` (`None` is left out, or `null`).
    pub(crate) mod option {
        use std::time::Duration;

        use serde::{Deserialize, Deserializer, Serializer};

        pub(crate) fn serialize<S: Serializer>(
            duration: &Option<Duration>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match duration {
                Some(duration) => s.serialize_some(&super::super::format(*duration)),
                None => s.serialize_none(),
            }
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Duration>, D::Error> {
            let text = Option::<std::borrow::Cow<str>>::deserialize(d)?;
            text.map(|text| super::super::parse(&text).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_what_parse_reads_back() {
        for (duration, text) in [
            (Duration::ZERO, "0s"),
            (Duration::from_millis(1500), "1s 500ms"),
            (Duration::from_secs(3725), "1h 2m 5s"),
            (Duration::from_nanos(1_001), "1us 1ns"),
            (
                Duration::from_nanos(u64::MAX),
                "5124095h 34m 33s 709ms 551us 615ns",
            ),
        ] {
            assert_eq!(format(duration), text);
            assert_eq!(parse(text), Ok(duration), "{text}");
        }
    }

    #[test]
    fn accepts_the_contract_forms() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("1s 500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("0ms"), Ok(Duration::ZERO));
        assert_eq!(parse("1ns"), Ok(Duration::from_nanos(1)));
        assert_eq!(parse("3us 2µs"), Ok(Duration::from_micros(5)));
        assert_eq!(
            parse("18446744073709551615ns"),
            Ok(Duration::from_nanos(u64::MAX))
        );
    }

    #[test]
    fn rejects_malformed_durations() {
        for bad in [
            "10 sec",
            "10 s",
            "",
            "   ",
            "-1s",
            "5",
            "1.5s",
            "s",
            "1d",
            "99999999999999h",
            "18446744073709551615ns 1ns",
            "99999999999999999999999ns",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn a_unit_after_a_space_is_shown_where_it_belongs() {
        assert_eq!(
            parse("10 s"),
            Err("write the unit right after the number, without a space: \"10s\"".into())
        );
        assert_eq!(
            parse("1s 500 ms"),
            Err("write the unit right after the number, without a space: \"1s 500ms\"".into())
        );
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let error = |text| parse(text).expect_err(text);
        assert!(error("5").starts_with("`5` has no unit"));
        assert!(error("10 sec").starts_with("`10` has no unit"));
        assert!(error("1d").starts_with("unknown unit `d` in `1d`"));
        assert!(error("-1s").starts_with("`-1s` does not start with a whole number"));
        assert!(error("").starts_with("empty duration"));
        assert!(error("99999999999999h").contains("too long"));
    }
}
