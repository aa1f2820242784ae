//! The term of an evaluation, checked once: its service months, money and claim windows.
//!
//! Everything an evaluation needs besides the measurements is validated here, before any ledger is
//! allocated, so that the fold of buckets and the report can take it as given.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use iso_currency::Currency;
use rust_decimal::Decimal;

use super::claim_window;
use super::compensation::{self, Money};
use super::ledger::MonthLedger;
use super::months::{SECONDS_PER_MINUTE, ServiceMonth, service_months};
use super::report::ClaimWindow;
use super::spec::{EvaluationSpec, FeeField, MonthlyFee, SpecError, check_amount};
use crate::classify::Context;
use crate::limits::Limits;
use crate::policy::{CompensationForm, Method, Policy, PolicyVersions};

/// A validated term: what every month of the evaluation is measured and paid against.
#[derive(Clone, Debug)]
pub struct Term {
    /// The version of the policy in force on the first month's first day. Every version of a
    /// policy shares what this term takes from it (service months, zone, method, form).
    pub policy: Arc<Policy>,
    /// Each month's version: the one in force on the month's first day.
    pub month_policies: Vec<Arc<Policy>>,
    /// The zone months are cut in and the calendar business days are counted in.
    pub context: Context,
    /// The service months, in order; never empty.
    pub months: Vec<ServiceMonth>,
    /// Each month's fee, when one was given.
    pub fees: Vec<Option<MonthlyFee>>,
    /// How amounts are expressed.
    pub money: Money,
    /// Each month's claim window; `None` when its version states none.
    pub claim_windows: Vec<Option<ClaimWindow>>,
    /// What the evaluation may hold.
    pub limits: Limits,
    /// The instant the evaluation is as of.
    pub as_of: DateTime<Utc>,
    /// How many intervals of each kind a month's evidence lists.
    pub max_intervals: u32,
    /// The subscription evaluated, when the spec names one.
    pub subscription: Option<String>,
}

impl Term {
    /// Checks the spec against the policy: the term's length and shape, the fees, the currency and
    /// unit price, and that every month's claim window can open.
    pub fn new(
        policy: impl Into<PolicyVersions>,
        spec: EvaluationSpec,
        limits: Limits,
    ) -> Result<Self, SpecError> {
        let versions = policy.into();
        let policy = Arc::clone(versions.earliest());
        let EvaluationSpec {
            term_first_day: first_day,
            term_last_day: last_day,
            time_zone,
            currency,
            fees,
            message_unit_price,
            calendar,
            as_of,
            max_intervals,
            subscription,
        } = spec;
        if last_day < first_day {
            return Err(SpecError::TermEndsBeforeStart {
                first_day,
                last_day,
            });
        }
        let days = (last_day - first_day).num_days() + 1;
        if days > i64::from(limits.max_term_days) {
            return Err(SpecError::TermTooLong {
                first_day,
                last_day,
                days,
                max_days: limits.max_term_days,
            });
        }
        if max_intervals > limits.max_intervals {
            return Err(SpecError::TooManyIntervals {
                asked: max_intervals,
                max: limits.max_intervals,
            });
        }
        let zone: Tz = time_zone.unwrap_or(policy.time_zone);
        let months = service_months(policy.service_month, first_day, last_day, zone);
        let slice_minutes = match policy.method {
            Method::Timeslices { slice_minutes, .. } => slice_minutes,
            Method::Occurrences { .. } => 1,
        };
        let slice_seconds = i64::from(slice_minutes) * SECONDS_PER_MINUTE;
        if let Some(month) = months
            .iter()
            .find(|month| month.elapsed_seconds() % slice_seconds != 0)
        {
            return Err(SpecError::SliceMisfit {
                zone,
                month_first_day: month.first_day,
                slice_minutes,
            });
        }

        // Versions are resolved per month, once: the fold of buckets never looks them up.
        let month_policies = months
            .iter()
            .map(|month| {
                versions
                    .in_force_on(month.first_day)
                    .cloned()
                    .ok_or_else(|| SpecError::NoVersionInForce {
                        policy_id: policy.id.clone(),
                        month_first_day: month.first_day,
                        earliest: versions.earliest().effective_from,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let policy = Arc::clone(&month_policies[0]);

        let minor_unit_places = minor_unit_places(currency, &fees)?;
        check_min_amount_currency(&month_policies, currency, &fees)?;
        let fees = fees_by_month(&months, fees)?;
        check_fees_fit(currency, minor_unit_places, &fees)?;
        let unit_price = unit_price(&policy, message_unit_price, &fees)?;
        let money = Money {
            currency,
            minor_unit_places,
            unit_price,
        };
        let claim_windows = months
            .iter()
            .zip(&month_policies)
            .map(|(month, version)| match &version.claim_window {
                Some(rule) => claim_window::for_month(rule, month.last_day, &calendar).map(Some),
                None => Ok(None),
            })
            .collect::<Result<Vec<_>, _>>()?;

        Ok(Term {
            context: Context {
                time_zone: zone,
                calendar,
            },
            policy,
            month_policies,
            months,
            fees,
            money,
            claim_windows,
            limits,
            as_of,
            max_intervals,
            subscription,
        })
    }

    /// The bytes the term's empty ledgers will take: what an evaluation allocates when it starts,
    /// known before it does.
    pub fn ledger_bytes(&self) -> u64 {
        self.months
            .iter()
            .map(|month| {
                let minutes = u32::try_from(month.clock_minutes()).unwrap_or(u32::MAX);
                MonthLedger::empty_bytes(self.policy.method, minutes)
            })
            .sum()
    }

    /// The zone months and slices are cut in.
    pub fn time_zone(&self) -> Tz {
        self.context.time_zone
    }

    /// The version an outage starting at `start` is classified under: that of the month it starts
    /// in, or of the nearest month when it starts outside the term.
    pub fn policy_at(&self, start: DateTime<Utc>) -> &Arc<Policy> {
        let index = self
            .months
            .partition_point(|month| month.end <= start)
            .min(self.months.len() - 1);
        &self.month_policies[index]
    }

    /// The revisions the months were evaluated under, distinct, in month order, joined by `,`:
    /// one revision when every month has the same version, as before versions existed.
    pub fn revisions(&self) -> String {
        let mut revisions: Vec<&str> = Vec::new();
        for version in &self.month_policies {
            if !revisions.contains(&version.revision.as_str()) {
                revisions.push(&version.revision);
            }
        }
        revisions.join(",")
    }
}

/// With fees, every month's minimum credit must be in the fees' currency when its document fixes
/// one ("$1 USD"): an amount in euros cannot be compared with a dollar without a rate.
fn check_min_amount_currency(
    versions: &[Arc<Policy>],
    currency: Option<Currency>,
    fees: &[MonthlyFee],
) -> Result<(), SpecError> {
    let (Some(currency), false) = (currency, fees.is_empty()) else {
        return Ok(());
    };
    for version in versions {
        if let Some(min) = &version.min_amount
            && let Some(required) = min.currency
            && required != currency
        {
            return Err(SpecError::MinAmountCurrency {
                policy_id: version.id.clone(),
                currency: currency.code().to_string(),
                required: required.code().to_string(),
                min_amount: min.amount,
            });
        }
    }
    Ok(())
}

/// The currency's minor-unit places; a currency is needed as soon as a fee is given.
fn minor_unit_places(
    currency: Option<Currency>,
    fees: &[MonthlyFee],
) -> Result<Option<u32>, SpecError> {
    match currency {
        None if !fees.is_empty() => Err(SpecError::CurrencyRequired),
        None => Ok(None),
        Some(currency) => currency
            .exponent()
            .map(|places| Some(u32::from(places)))
            .ok_or_else(|| SpecError::CurrencyWithoutMinorUnit {
                code: currency.code().to_string(),
            }),
    }
}

/// Every amount is at most its month's eligible fee, so if the eligible fees together fit in minor
/// units, so does every amount and the total.
fn check_fees_fit(
    currency: Option<Currency>,
    minor_unit_places: Option<u32>,
    fees: &[Option<MonthlyFee>],
) -> Result<(), SpecError> {
    let (Some(currency), Some(places)) = (currency, minor_unit_places) else {
        return Ok(());
    };
    let total: Decimal = fees.iter().flatten().map(MonthlyFee::eligible).sum();
    if total * Decimal::from(10i64.pow(places)) > Decimal::from(i64::MAX) {
        return Err(SpecError::FeesTooLarge {
            total,
            currency: currency.code().to_string(),
        });
    }
    Ok(())
}

/// The list price of a message, required by message-credit policies once a fee is given. If even
/// every eligible fee together buys a countable number of messages, no amount can overflow.
fn unit_price(
    policy: &Policy,
    price: Option<Decimal>,
    fees: &[Option<MonthlyFee>],
) -> Result<Option<Decimal>, SpecError> {
    let price = match (policy.form, price) {
        (_, Some(value)) => {
            check_amount(value, true)
                .map_err(|problem| SpecError::UnitPriceInvalid { value, problem })?;
            value
        }
        (CompensationForm::MessageCredits, None) if fees.iter().any(Option::is_some) => {
            return Err(SpecError::UnitPriceRequired {
                policy_id: policy.id.clone(),
            });
        }
        (_, None) => return Ok(None),
    };
    if policy.form == CompensationForm::MessageCredits {
        let most = fees.iter().flatten().try_fold(0u64, |sum, fee| {
            sum.checked_add(compensation::message_credits(fee.eligible(), price)?)
        });
        if most.is_none() {
            return Err(SpecError::UnitPriceTooSmall { value: price });
        }
    }
    Ok(Some(price))
}

/// Lines the fees up with the months, refusing any fee that does not belong to exactly one.
fn fees_by_month(
    months: &[ServiceMonth],
    fees: Vec<MonthlyFee>,
) -> Result<Vec<Option<MonthlyFee>>, SpecError> {
    let mut by_month: Vec<Option<MonthlyFee>> = vec![None; months.len()];
    for (index, fee) in fees.into_iter().enumerate() {
        for (field, value) in [
            (FeeField::Paid, fee.paid),
            (FeeField::Deductions, fee.deductions),
        ] {
            check_amount(value, false).map_err(|problem| SpecError::FeeInvalid {
                index,
                field,
                value,
                problem,
            })?;
        }
        if fee.deductions > fee.paid {
            return Err(SpecError::DeductionsExceedPaid {
                index,
                paid: fee.paid,
                deductions: fee.deductions,
            });
        }
        let Some(slot) = months.iter().position(|m| m.first_day == fee.month_start) else {
            return Err(SpecError::FeeMonthUnknown {
                index,
                month_start: fee.month_start,
                starts: months.iter().map(|m| m.first_day).collect(),
            });
        };
        if by_month[slot].is_some() {
            return Err(SpecError::FeeMonthRepeated {
                index,
                month_start: fee.month_start,
            });
        }
        by_month[slot] = Some(fee);
    }
    Ok(by_month)
}
