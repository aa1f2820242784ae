//! The policy's numbers: the method and the compensation table.

use toml::Spanned;

use super::format::{BadSliceFile, MethodFile, TierFile};
use super::{At, PolicyFileError};
use crate::policy::{Edge, Method, Percent, Tier, TierBounds, TimesliceRule};

/// Below 99% of a month's minutes with data, an occurrences month is not decided
/// (docs/contract-readings.md, "Silence never passes unnoticed").
const DEFAULT_MIN_COVERAGE: Percent = Percent::from_units(990_000);
/// Slices must tile an hour so that clock changes of 30 or 60 minutes keep them aligned.
const MINUTES_PER_HOUR: u32 = 60;

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
        } => {
            let slice_minutes = *slice_minutes;
            if slice_minutes == 0 || !MINUTES_PER_HOUR.is_multiple_of(slice_minutes) {
                return Err(at(
                    file.span(),
                    format!(
                        "slice_minutes {slice_minutes} must divide an hour (1, 5, 10, 15, ...)"
                    ),
                ));
            }
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
            Ok(Method::Timeslices {
                slice_minutes,
                bad_slice,
                min_attempts,
            })
        }
    }
}

/// The table must tile `[0%, top)` (or `[0%, top]`) without gaps or overlaps, reach the standard
/// including its own edge, and pay no less as availability falls: that is what makes
/// "compensation never falls when availability falls" true for every policy, built-in or not. Every
/// row keeps one convention, `[at_least, below)` or `(above, at_most]`.
pub(super) fn tiers(
    file: &Spanned<Vec<Spanned<TierFile>>>,
    standard: Percent,
    met_at: Edge,
    at: &At,
) -> Result<(Vec<Tier>, TierBounds), PolicyFileError> {
    if file.get_ref().is_empty() {
        return Err(at(
            file.span(),
            "compensation.tiers must not be empty".into(),
        ));
    }
    // A month exactly at the standard misses it when only months above it meet it.
    let standard_misses = met_at == Edge::Above;
    let mut tiers: Vec<Tier> = Vec::new();
    let mut convention: Option<TierBounds> = None;
    for (index, row) in file.get_ref().iter().enumerate() {
        let span = row.span();
        let fail = |problem: String| at(span.clone(), format!("tier {}: {problem}", index + 1));
        let parse = |text: &str, field: &str| {
            text.parse::<Percent>()
                .map_err(|e| at(span.clone(), format!("tier {}: {field}: {e}", index + 1)))
        };
        let (bounds, lower, upper) = bounds_of(row.get_ref()).map_err(&fail)?;
        match convention {
            Some(first) if first != bounds => {
                return Err(fail(
                    "one convention per file: this tier and tier 1 bound availability differently \
                     (at_least/below against above/at_most)"
                        .into(),
                ));
            }
            _ => convention = Some(bounds),
        }
        let (lower_key, upper_key) = match bounds {
            TierBounds::AtLeastBelow => ("at_least", "below"),
            TierBounds::AboveAtMost => ("above", "at_most"),
        };
        let tier = Tier {
            lower: match lower {
                Some(text) => parse(text, lower_key)?,
                None => Percent::ZERO,
            },
            upper: parse(upper, upper_key)?,
            fee_percent: parse(&row.get_ref().fee_percent, "fee_percent")?,
        };
        // The band's lowest value is inside it under [a, b), and for the bottom tier of either.
        let lower_included = bounds == TierBounds::AtLeastBelow || tier.lower == Percent::ZERO;
        let never_pays = tier.lower > standard
            || (tier.lower == standard && !(lower_included && standard_misses));
        let upper_included = bounds.upper_included();
        let problem = if tier.lower >= tier.upper {
            Some(format!(
                "{lower_key} {}% must be below {upper_key} {}%",
                tier.lower, tier.upper
            ))
        } else if tier.fee_percent == Percent::ZERO {
            Some("fee_percent must be above 0".to_string())
        } else if never_pays && bounds == TierBounds::AtLeastBelow && !standard_misses {
            Some(format!(
                "the tier starts at {}%, at or above the standard {standard}%, so it could never pay",
                tier.lower
            ))
        } else if never_pays {
            Some(format!(
                "the tier holds only months above {}%, which meet the standard {standard}%{}, so \
                 it could never pay",
                tier.lower,
                if standard_misses {
                    " (met above it)"
                } else {
                    ""
                }
            ))
        } else {
            match tiers.last() {
                None if tier.upper < standard => Some(format!(
                    "the top tier ends at {}% but the standard is {standard}%: availability in \
                     between would earn nothing",
                    tier.upper
                )),
                None if tier.upper == standard && standard_misses && !upper_included => {
                    Some(format!(
                        "the top tier ends below {standard}%, but a month exactly at the standard \
                         misses it (standard_met_at = \"above\") and would earn nothing: end the \
                         table at_most {standard}% or above it"
                    ))
                }
                Some(above) if above.lower != tier.upper => Some(format!(
                    "the tier above starts at {}% but this one ends at {}%: tiers must meet",
                    above.lower, tier.upper
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
            return Err(fail(problem));
        }
        tiers.push(tier);
    }
    let bottom = tiers.last().expect("checked non-empty");
    let bounds = convention.expect("checked non-empty");
    if bottom.lower != Percent::ZERO {
        return Err(at(
            file.span(),
            format!(
                "the bottom tier starts at {}%: omit its {} so it reaches 0%",
                bottom.lower,
                match bounds {
                    TierBounds::AtLeastBelow => "at_least",
                    TierBounds::AboveAtMost => "above",
                }
            ),
        ));
    }
    Ok((tiers, bounds))
}

/// A row's convention, its lower bound (absent on the bottom tier) and its upper bound.
fn bounds_of(row: &TierFile) -> Result<(TierBounds, Option<&str>, &str), String> {
    let half_open = row.at_least.is_some() || row.below.is_some();
    let half_closed = row.above.is_some() || row.at_most.is_some();
    match (half_open, half_closed) {
        (true, true) => Err(
            "mixes at_least/below with above/at_most: a tier is [at_least, below) or \
             (above, at_most]"
                .into(),
        ),
        (true, false) => match &row.below {
            Some(below) => Ok((TierBounds::AtLeastBelow, row.at_least.as_deref(), below)),
            None => Err("below is required (the tier's upper bound, excluded)".into()),
        },
        (false, true) => match &row.at_most {
            Some(at_most) => Ok((TierBounds::AboveAtMost, row.above.as_deref(), at_most)),
            None => Err("at_most is required (the tier's upper bound, included)".into()),
        },
        (false, false) => Err("below (or at_most) is required".into()),
    }
}
