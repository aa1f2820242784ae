//! The policy's numbers: the method, the compensation table and the claim window.

use toml::Spanned;

use super::format::{BadSliceFile, ClaimWindowFile, MethodFile, TierFile};
use super::{At, PolicyFileError};
use crate::policy::{ClaimWindowRule, Method, Percent, Tier, TimesliceRule};

/// Below 99% of a month's minutes with data, an occurrences month is not decided
/// (docs/contract-readings.md, "Silence never passes unnoticed").
const DEFAULT_MIN_COVERAGE: Percent = Percent::from_units(990_000);
/// Slices and intervals must tile an hour so that clock changes of 30 or 60 minutes keep them
/// aligned.
const MINUTES_PER_HOUR: u32 = 60;
/// A calendar month never has more business days than this (23 weekdays), before make-up days.
const MAX_OPENING_BUSINESS_DAY: u32 = 23;

pub(super) fn method(file: &Spanned<MethodFile>, at: &At) -> Result<Method, PolicyFileError> {
    match file.get_ref() {
        MethodFile::Occurrences {
            min_coverage_percent,
        } => {
            let min_coverage = match min_coverage_percent {
                Some(text) => text
                    .parse()
                    .map_err(|e| at(file.span(), format!("min_coverage_percent: {e}")))?,
                None => DEFAULT_MIN_COVERAGE,
            };
            Ok(Method::Occurrences { min_coverage })
        }
        MethodFile::Timeslices {
            slice_minutes,
            bad_slice,
            min_attempts,
            min_bad_run,
        } => {
            let slice_minutes = divides_an_hour(*slice_minutes, "slice_minutes", file.span(), at)?;
            let bad_slice = match bad_slice {
                BadSliceFile::AllFailed => TimesliceRule::AllFailed,
                BadSliceFile::SuccessRateBelow(bound) => TimesliceRule::SuccessRateBelow(
                    bound
                        .parse()
                        .map_err(|e| at(file.span(), format!("success_rate_below: {e}")))?,
                ),
            };
            let min_attempts = min_attempts.unwrap_or(1);
            if min_attempts == 0 {
                return Err(at(
                    file.span(),
                    "min_attempts must be at least 1 (1 judges every slice with an attempt)".into(),
                ));
            }
            let min_bad_run = min_bad_run.unwrap_or(1);
            if min_bad_run == 0 {
                return Err(at(
                    file.span(),
                    "min_bad_run must be at least 1 (1 counts every bad slice)".into(),
                ));
            }
            Ok(Method::Timeslices {
                slice_minutes,
                bad_slice,
                min_attempts,
                min_bad_run,
            })
        }
        MethodFile::MeanErrorRate { interval_minutes } => Ok(Method::MeanErrorRate {
            interval_minutes: divides_an_hour(
                *interval_minutes,
                "interval_minutes",
                file.span(),
                at,
            )?,
        }),
    }
}

/// A slice or interval length: it must divide an hour.
fn divides_an_hour(
    minutes: u32,
    key: &str,
    span: std::ops::Range<usize>,
    at: &At,
) -> Result<u32, PolicyFileError> {
    if minutes == 0 || !MINUTES_PER_HOUR.is_multiple_of(minutes) {
        return Err(at(
            span,
            format!("{key} {minutes} must divide an hour (1, 5, 10, 15, ...)"),
        ));
    }
    Ok(minutes)
}

/// The table must tile `[0%, top)` without gaps or overlaps, reach at least the standard, and pay
/// no less as availability falls: that is what makes "compensation never falls when availability
/// falls" true for every policy, built-in or not.
pub(super) fn tiers(
    file: &Spanned<Vec<Spanned<TierFile>>>,
    standard: Percent,
    at: &At,
) -> Result<Vec<Tier>, PolicyFileError> {
    if file.get_ref().is_empty() {
        return Err(at(
            file.span(),
            "compensation.tiers must not be empty".into(),
        ));
    }
    let mut tiers: Vec<Tier> = Vec::new();
    for (index, row) in file.get_ref().iter().enumerate() {
        let span = row.span();
        let parse = |text: &str, field: &str| {
            text.parse::<Percent>()
                .map_err(|e| at(span.clone(), format!("tier {}: {field}: {e}", index + 1)))
        };
        let tier = Tier {
            at_least: match &row.get_ref().at_least {
                Some(text) => parse(text, "at_least")?,
                None => Percent::ZERO,
            },
            below: parse(&row.get_ref().below, "below")?,
            fee_percent: parse(&row.get_ref().fee_percent, "fee_percent")?,
        };
        let problem = if tier.at_least >= tier.below {
            Some(format!(
                "at_least {}% must be below below {}%",
                tier.at_least, tier.below
            ))
        } else if tier.fee_percent == Percent::ZERO {
            Some("fee_percent must be above 0".to_string())
        } else if tier.at_least >= standard {
            Some(format!(
                "the tier starts at {}%, at or above the standard {standard}%, so it could never pay",
                tier.at_least
            ))
        } else {
            match tiers.last() {
                None if tier.below < standard => Some(format!(
                    "the top tier ends at {}% but the standard is {standard}%: availability in \
                     between would earn nothing",
                    tier.below
                )),
                Some(above) if above.at_least != tier.below => Some(format!(
                    "the tier above starts at {}% but this one ends at {}%: tiers must meet",
                    above.at_least, tier.below
                )),
                Some(above) if above.fee_percent > tier.fee_percent => Some(format!(
                    "fee_percent {}% is less than the {}% of the tier above: compensation must not \
                     fall as availability falls",
                    tier.fee_percent, above.fee_percent
                )),
                _ => None,
            }
        };
        if let Some(problem) = problem {
            return Err(at(span, format!("tier {}: {problem}", index + 1)));
        }
        tiers.push(tier);
    }
    let bottom = tiers.last().expect("checked non-empty");
    if bottom.at_least != Percent::ZERO {
        return Err(at(
            file.span(),
            format!(
                "the bottom tier starts at {}%: omit its at_least so it reaches 0%",
                bottom.at_least
            ),
        ));
    }
    Ok(tiers)
}

pub(super) fn claim_window(
    file: &Spanned<ClaimWindowFile>,
    at: &At,
) -> Result<ClaimWindowRule, PolicyFileError> {
    let rule = ClaimWindowRule {
        opens_after_business_day: file.get_ref().opens_after_business_day,
        closes_after_days: file.get_ref().closes_after_days,
    };
    if !(1..=MAX_OPENING_BUSINESS_DAY).contains(&rule.opens_after_business_day) {
        return Err(at(
            file.span(),
            format!(
                "opens_after_business_day {} must be 1-{MAX_OPENING_BUSINESS_DAY}",
                rule.opens_after_business_day
            ),
        ));
    }
    if rule.closes_after_days == 0 {
        return Err(at(
            file.span(),
            "closes_after_days must be at least 1".into(),
        ));
    }
    Ok(rule)
}
