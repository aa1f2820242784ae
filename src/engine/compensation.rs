//! Compensation: which tier a month falls in, what that pays, and in what form.

use iso_currency::Currency;
use rust_decimal::{Decimal, RoundingStrategy};

use super::report::{Bound, Note, NoteKind, Payout, Withheld};
use super::spec::MonthlyFee;
use crate::policy::{CompensationForm, Fraction, Percent, Policy, Tier};

/// The currency amounts are rounded in and the price message credits are bought at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Money {
    /// `None` when no fee was given.
    pub currency: Option<Currency>,
    /// The currency's minor-unit places (2 for CNY), known whenever `currency` is.
    pub minor_unit_places: Option<u32>,
    /// List price of one message, for message-credit policies.
    pub unit_price: Option<Decimal>,
}

/// A month's figures under one reading of its data (`bad_units` of them bad, at `availability`):
/// whether they meet the standard, the tier they fall in and, when the month has a fee, what that
/// pays.
pub(super) fn bound(
    policy: &Policy,
    bad_units: u64,
    availability: Fraction,
    fee: Option<&MonthlyFee>,
    money: &Money,
) -> Bound {
    let tier = earned_tier(policy, availability);
    Bound {
        bad_units,
        availability,
        standard_met: policy.meets_standard(availability),
        tier,
        compensation_percent: tier.map_or(Percent::ZERO, |(_, tier)| tier.fee_percent),
        payout: fee.and_then(|fee| payout(policy, fee, tier.map(|(_, t)| t), money)),
    }
}

/// The notes the contract's figures need: a table tier above the standard, and a month without a
/// fee.
pub(super) fn notes(policy: &Policy, contract: &Bound, notes: &mut Vec<Note>) {
    let availability = contract.availability;
    if let Some(written) = tier_above_standard(policy, availability) {
        notes.push(Note {
            kind: NoteKind::TierAboveStandard,
            text: format!(
                "The compensation table lists {} for {}% of the fee, but the standard is \
                 {}% and compensation is due only below it, so a month at {}% earns nothing \
                 (docs/contract-readings.md).",
                policy.tier_bounds.show(&written),
                written.fee_percent,
                policy.standard,
                availability.truncated_percent()
            ),
        });
    }
    notes.extend(withheld_note(policy, contract));
    if contract.payout.is_none() {
        notes.push(Note {
            kind: NoteKind::FeeMissing,
            text: "No fee was given for this month, so only the percentage is reported.".into(),
        });
    }
}

/// Why a month is paid less than its tier's share: the cap cut it, or it missed the minimum
/// (docs/contract-readings.md, "Caps and minimum credits").
fn withheld_note(policy: &Policy, contract: &Bound) -> Option<Note> {
    let payout = contract.payout.as_ref()?;
    Some(match payout.withheld? {
        Withheld::Capped { tier_amount } => Note {
            kind: NoteKind::Capped,
            text: format!(
                "The tier pays {tier_amount}, above the policy's cap of {}% of the eligible fee \
                 {}, so {} is paid (docs/contract-readings.md, \"Caps and minimum credits\").",
                policy.cap, payout.eligible_fee, payout.amount
            ),
        },
        Withheld::BelowMinimum { amount } => {
            let minimum = policy.min_amount.expect("withheld only under a minimum");
            Note {
                kind: NoteKind::BelowMinAmount,
                text: format!(
                    "The credit of {amount} is {} the policy's minimum of {}{}, so nothing is paid \
                     (docs/contract-readings.md, \"Caps and minimum credits\").",
                    match minimum.met_at {
                        crate::policy::Edge::AtLeast => "below",
                        crate::policy::Edge::Above => "not above",
                    },
                    minimum.amount,
                    minimum
                        .currency
                        .map_or(String::new(), |c| format!(" {}", c.code()))
                ),
            }
        }
    })
}

/// The money a month's fee earns at `tier` (nothing when the standard was met), cut to the
/// policy's cap and withheld under its minimum. `None` when no currency fixes the minor unit, which
/// the term refuses whenever a fee is given.
fn payout(policy: &Policy, fee: &MonthlyFee, tier: Option<Tier>, money: &Money) -> Option<Payout> {
    let places = money.minor_unit_places?;
    let eligible_fee = fee.eligible();
    let zero = Decimal::new(0, places);
    let (amount, withheld) = match &tier {
        Some(tier) => {
            let tier_amount = compensation_amount(eligible_fee, tier, places);
            let capped = capped_amount(eligible_fee, policy.cap, places).min(tier_amount);
            let withheld = (capped < tier_amount).then_some(Withheld::Capped { tier_amount });
            match policy.min_amount {
                Some(minimum) if !minimum.pays(capped) => {
                    (zero, Some(Withheld::BelowMinimum { amount: capped }))
                }
                _ => (capped, withheld),
            }
        }
        None => (zero, None),
    };
    let message_credits = match (policy.form, money.unit_price) {
        (CompensationForm::MessageCredits, Some(price)) => {
            Some(message_credits(amount, price).expect(
                "checked by Term::new: the eligible fee's credits fit, and the amount never \
                 exceeds it",
            ))
        }
        _ => None,
    };
    Some(Payout {
        eligible_fee,
        amount_minor_units: minor_units(amount, places)
            .expect("checked by Term::new: the eligible fees fit in minor units"),
        amount,
        message_credits,
        withheld,
    })
}

/// The most a month may be paid under a cap: the eligible fee × the cap, rounded down to the
/// minor unit so that the cap itself is never passed.
fn capped_amount(eligible_fee: Decimal, cap: Percent, minor_unit_places: u32) -> Decimal {
    (eligible_fee * cap.as_fraction())
        .round_dp_with_strategy(minor_unit_places, RoundingStrategy::ToZero)
        .normalize_to(minor_unit_places)
}

/// The tier a month earns, 1-based as the table prints it, or `None` when the month met the
/// standard. Only a month below the standard earns anything (docs/contract-readings.md), even
/// where a table's top tier reaches above the standard.
pub fn earned_tier(policy: &Policy, availability: Fraction) -> Option<(usize, Tier)> {
    if policy.meets_standard(availability) {
        return None;
    }
    let found = policy.tier_holding(availability);
    debug_assert!(
        found.is_some(),
        "validated tables cover every month below the standard"
    );
    found
}

/// The tier a month's availability falls in although the month met the standard: the
/// international contact center's table starts paying at 99.95% while its standard is 99.5%.
pub fn tier_above_standard(policy: &Policy, availability: Fraction) -> Option<Tier> {
    if !policy.meets_standard(availability) {
        return None;
    }
    policy.tier_holding(availability).map(|(_, tier)| tier)
}

/// Eligible fee × tier percentage, rounded half-up to the currency's minor unit, and never more
/// than the eligible fee (itself cut down to the minor unit, so the amount is always payable).
/// Inputs are bounded by validation (fees below 10^15 with at most 10 places), so the product is
/// exact.
pub fn compensation_amount(eligible_fee: Decimal, tier: &Tier, minor_unit_places: u32) -> Decimal {
    let raw = eligible_fee * tier.fee_percent.as_fraction();
    let rounded =
        raw.round_dp_with_strategy(minor_unit_places, RoundingStrategy::MidpointAwayFromZero);
    let ceiling = eligible_fee.round_dp_with_strategy(minor_unit_places, RoundingStrategy::ToZero);
    rounded.min(ceiling).normalize_to(minor_unit_places)
}

/// Whole messages the amount buys at the list price, rounded down; computed on integers so that no
/// division rounds a 2.9999… up to 3. `None` when the price is zero or the count does not fit 64
/// bits (the spec check refuses prices that small before any amount is computed).
pub fn message_credits(amount: Decimal, unit_price: Decimal) -> Option<u64> {
    // Normalised, a validated amount or price has at most 10 places, so both integers below stay
    // under 10^25.
    let (amount, unit_price) = (amount.normalize(), unit_price.normalize());
    let scale = amount.scale().max(unit_price.scale());
    let as_integer = |value: Decimal| {
        value
            .mantissa()
            .checked_mul(10i128.checked_pow(scale - value.scale())?)
    };
    let credits = as_integer(amount)?.checked_div(as_integer(unit_price)?)?;
    u64::try_from(credits).ok()
}

/// The amount in minor units (cents), for clients that keep money as integers; `None` when the
/// count does not fit 64 bits.
pub fn minor_units(amount: Decimal, minor_unit_places: u32) -> Option<i64> {
    let scaled = amount.normalize_to(minor_unit_places);
    i64::try_from(scaled.mantissa()).ok()
}

trait NormalizeTo {
    fn normalize_to(self, places: u32) -> Decimal;
}

impl NormalizeTo for Decimal {
    /// The same value written with exactly `places` decimals (12.5 → 12.50), for display and
    /// minor units; only called on values already rounded to `places`.
    fn normalize_to(self, places: u32) -> Decimal {
        let mut value = self;
        value.rescale(places);
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Percent;

    fn tier(fee_percent: &str) -> Tier {
        Tier {
            lower: Percent::ZERO,
            upper: Percent::HUNDRED,
            fee_percent: fee_percent.parse().unwrap(),
        }
    }

    fn dec(text: &str) -> Decimal {
        Decimal::from_str_exact(text).unwrap()
    }

    #[test]
    fn amounts_round_half_up_to_the_minor_unit() {
        assert_eq!(
            compensation_amount(dec("0.05"), &tier("10"), 2),
            dec("0.01")
        );
        assert_eq!(
            compensation_amount(dec("0.04"), &tier("10"), 2),
            dec("0.00")
        );
        assert_eq!(
            compensation_amount(dec("123.45"), &tier("25"), 2),
            dec("30.86")
        );
        assert_eq!(compensation_amount(dec("1005"), &tier("10"), 0), dec("101"));
        assert_eq!(
            compensation_amount(dec("1"), &tier("10"), 3).to_string(),
            "0.100"
        );
    }

    #[test]
    fn the_amount_never_exceeds_the_eligible_fee() {
        assert_eq!(
            compensation_amount(dec("0.009"), &tier("100"), 2),
            dec("0.00")
        );
        assert_eq!(
            compensation_amount(dec("10"), &tier("100"), 2).to_string(),
            "10.00"
        );
    }

    #[test]
    fn credits_round_down_to_whole_messages() {
        assert_eq!(message_credits(dec("10.00"), dec("0.045")), Some(222));
        assert_eq!(message_credits(dec("9.00"), dec("0.03")), Some(300));
        assert_eq!(message_credits(dec("0.02"), dec("0.03")), Some(0));
    }

    #[test]
    fn credits_never_overflow_or_saturate() {
        // Trailing zeros used to keep scale 28 and overflow the scaled integers.
        let price = dec("0.0450000000000000000000000000");
        assert_eq!(
            message_credits(dec("99999999999999.99"), price),
            Some(2_222_222_222_222_222)
        );
        // A count past 64 bits is refused, not clipped to u64::MAX.
        assert_eq!(
            message_credits(dec("999999999999999"), dec("0.0000000001")),
            None
        );
        assert_eq!(message_credits(dec("1"), dec("0")), None);
    }

    #[test]
    fn a_cap_rounds_down_so_it_is_never_passed() {
        assert_eq!(
            capped_amount(dec("0.05"), "50".parse().unwrap(), 2),
            dec("0.02")
        );
        assert_eq!(
            capped_amount(dec("100"), "50".parse().unwrap(), 2).to_string(),
            "50.00"
        );
    }

    #[test]
    fn minor_units_are_cents() {
        assert_eq!(minor_units(dec("30.86"), 2), Some(3086));
        assert_eq!(minor_units(dec("101"), 0), Some(101));
        assert_eq!(minor_units(dec("0.1"), 3), Some(100));
        assert_eq!(minor_units(dec("999999999999999.9999"), 4), None);
    }
}
