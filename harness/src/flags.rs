//! Value parsers for whole-number and seconds flags. Clap's own say `invalid
//! digit found in string` of `--keys -3`; these say which bound it breaks. (Each
//! such flag also takes `allow_negative_numbers`, or `-3` never reaches them: clap
//! reads it as a flag.) A flag's upper bounds stay with its own checks.

use std::str::FromStr;

/// A whole number whose flag starts at 1: a negative one "must be positive" (0 is
/// left to the flag's own check, which says its bounds).
pub fn positive<T: FromStr>(text: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    whole(text, "must be positive")
}

/// A whole number whose flag takes 0 (a count, a seed): a negative one "must be 0 or more".
pub fn not_negative<T: FromStr>(text: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    whole(text, "must be 0 or more")
}

fn whole<T: FromStr>(text: &str, negative: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    if text.trim_start().starts_with('-') {
        return Err(negative.to_string());
    }
    text.trim().parse().map_err(|e: T::Err| e.to_string())
}

/// Seconds that must be positive and finite: a limit, a deadline.
pub fn seconds(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(s) if s > 0.0 && std::time::Duration::try_from_secs_f64(s).is_ok() => Ok(s),
        Ok(_) => Err("must be a positive number of seconds".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// `--clock-offset`'s seconds, and a scenario clock step's `offset` (of either sign).
pub const CLOCK_OFFSETS: std::ops::RangeInclusive<f64> = 0.001..=3600.0;
/// `--clock-rate`, and a scenario's fast `rate` (a slow one is the inverse of one).
pub const CLOCK_RATES: std::ops::RangeInclusive<f64> = 1.01..=10.0;
/// `--strobe-period`'s milliseconds, and a scenario strobe's `period`.
pub const STROBE_PERIODS: std::ops::RangeInclusive<u64> = 1..=10_000;

/// The seconds a flag (or a scenario's `within`) takes: at least 10 ms and at most
/// a day, so that no schedule or deadline arithmetic can blow up.
pub const SECONDS: std::ops::RangeInclusive<f64> = 0.01..=86_400.0;

/// Seconds from a flag, within [`SECONDS`].
pub fn within_seconds(name: &str, v: f64) -> Result<std::time::Duration, String> {
    std::time::Duration::try_from_secs_f64(v)
        .ok()
        .filter(|_| SECONDS.contains(&v))
        .ok_or_else(|| format!("--{name} must be a positive number of seconds (0.01 to 86400), got {v}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negatives_say_their_bound_and_the_rest_parse_as_clap_would() {
        assert_eq!(positive::<u64>("-3"), Err("must be positive".into()));
        assert_eq!(positive::<u64>("3"), Ok(3));
        assert_eq!(positive::<u64>("0"), Ok(0));
        assert_eq!(not_negative::<usize>("-1"), Err("must be 0 or more".into()));
        assert_eq!(not_negative::<usize>("0"), Ok(0));
        assert_eq!(positive::<u32>("x"), Err("invalid digit found in string".into()));
        assert_eq!(seconds("2.5"), Ok(2.5));
        for bad in ["-1", "0", "nan", "inf", "1e30"] {
            assert_eq!(
                seconds(bad),
                Err("must be a positive number of seconds".into()),
                "{bad}"
            );
        }
    }
}
