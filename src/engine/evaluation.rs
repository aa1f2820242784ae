//! One evaluation: buckets and outages folded in as they arrive, a report at the end.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use fixedbitset::FixedBitSet;
use iso_currency::Currency;
use rust_decimal::Decimal;

use super::bucket::{Bucket, BucketError, Placement};
use super::compensation::{self, ClaimWindow};
use super::ledger::{Counts, Misfit, MonthLedger};
use super::months::{ServiceMonth, service_months};
use super::report::{Coverage, MonthReport, MonthStatus, Note, NoteKind, Payout, Report, Unit};
use super::spec::{EvaluationSpec, FeeField, Limits, MonthlyFee, SpecError, check_amount};
use crate::classify::{self, Context, Outage, OutageVerdict, Verdict};
use crate::policy::{CompensationForm, Fraction, Method, Percent, Policy};

const SECONDS_PER_MINUTE: i64 = 60;

/// Why an outage could not be added.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutageError {
    #[error("outage id '{id}' was already given")]
    DuplicateId { id: String },
    #[error("more than {max} outages in one evaluation")]
    TooMany { max: usize },
}

/// Buckets taken from one batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ingested {
    pub accepted: u64,
    pub ignored: u64,
}

/// An evaluation in progress.
///
/// Buckets may come in any order and any mix of sizes; each is checked and folded into its month
/// at once, so memory depends on the term's length and never on how many buckets arrive. Outages
/// are classified as they arrive and applied at [`Evaluation::finish`].
pub struct Evaluation {
    policy: Arc<Policy>,
    context: Context,
    currency: Option<Currency>,
    minor_unit_places: Option<u32>,
    unit_price: Option<Decimal>,
    months: Vec<ServiceMonth>,
    /// Each month's first instant in Unix seconds, for the hot path's lookups.
    month_starts: Vec<i64>,
    term_end: i64,
    fees: Vec<Option<MonthlyFee>>,
    claim_windows: Vec<ClaimWindow>,
    ledgers: Vec<MonthLedger>,
    /// The month the previous bucket fell in: buckets mostly arrive in time order.
    cursor: usize,
    ingested: Ingested,
    outages: Vec<(classify::OutageWindow, OutageVerdict)>,
    outage_ids: HashSet<String>,
    limits: Limits,
}

impl Evaluation {
    /// Checks the spec against the policy and prepares an empty ledger for every month.
    pub fn new(
        policy: Arc<Policy>,
        spec: EvaluationSpec,
        limits: Limits,
    ) -> Result<Self, SpecError> {
        let EvaluationSpec {
            term_first_day: first_day,
            term_last_day: last_day,
            time_zone,
            currency,
            fees,
            message_unit_price,
            calendar,
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
        let zone: Tz = time_zone.unwrap_or(policy.time_zone);
        let months = service_months(policy.service_month, first_day, last_day, zone);

        let mut ledgers = Vec::with_capacity(months.len());
        for month in &months {
            let slice_minutes = match policy.method {
                Method::Timeslices { slice_minutes, .. } => slice_minutes,
                Method::Occurrences => 1,
            };
            let seconds = month.elapsed_seconds();
            if seconds % (i64::from(slice_minutes) * SECONDS_PER_MINUTE) != 0 {
                return Err(SpecError::SliceMisfit {
                    zone,
                    month_first_day: month.first_day,
                    slice_minutes,
                });
            }
            let minutes = u32::try_from(seconds / SECONDS_PER_MINUTE)
                .expect("a month has far fewer than 2^32 minutes");
            ledgers.push(match policy.method {
                Method::Timeslices {
                    slice_minutes,
                    bad_slice,
                } => MonthLedger::slices(minutes, slice_minutes, bad_slice),
                Method::Occurrences => MonthLedger::events(minutes),
            });
        }

        let minor_unit_places = match currency {
            None if !fees.is_empty() => return Err(SpecError::CurrencyRequired),
            None => None,
            Some(currency) => Some(u32::from(currency.exponent().ok_or_else(|| {
                SpecError::CurrencyWithoutMinorUnit {
                    code: currency.code().to_string(),
                }
            })?)),
        };
        let fees = fees_by_month(&months, fees)?;
        if let (Some(currency), Some(places)) = (currency, minor_unit_places) {
            // Every amount is at most its month's eligible fee, so if their sum fits in minor
            // units, so does every amount and the total.
            let total: Decimal = fees.iter().flatten().map(|f| f.paid - f.deductions).sum();
            let in_minor_units = total * Decimal::from(10i64.pow(places));
            if in_minor_units > Decimal::from(i64::MAX) {
                return Err(SpecError::FeesTooLarge {
                    total,
                    currency: currency.code().to_string(),
                });
            }
        }
        let unit_price = match (policy.form, message_unit_price) {
            (_, Some(value)) => {
                check_amount(value, true)
                    .map_err(|problem| SpecError::UnitPriceInvalid { value, problem })?;
                Some(value)
            }
            (CompensationForm::MessageCredits, None) if fees.iter().any(Option::is_some) => {
                return Err(SpecError::UnitPriceRequired {
                    policy_id: policy.id.clone(),
                });
            }
            (_, None) => None,
        };
        if let (CompensationForm::MessageCredits, Some(price)) = (policy.form, unit_price) {
            // The most any month can pay is its eligible fee; if even all of those together buy a
            // countable number of messages, no amount below them can overflow.
            let most = fees.iter().flatten().try_fold(0u64, |sum, fee| {
                let credits = compensation::message_credits(fee.paid - fee.deductions, price)?;
                sum.checked_add(credits)
            });
            if most.is_none() {
                return Err(SpecError::UnitPriceTooSmall { value: price });
            }
        }
        let claim_windows = months
            .iter()
            .map(|month| {
                let window =
                    compensation::claim_window(&policy.claim_window, month.last_day, &calendar)
                        .map_err(|(year, month)| SpecError::TooFewBusinessDays {
                            calendar: calendar.name().to_string(),
                            year,
                            month,
                            needed: policy.claim_window.opens_after_business_day,
                        })?;
                if window.opens_on > window.closes_on {
                    return Err(SpecError::ClaimWindowEmpty {
                        calendar: calendar.name().to_string(),
                        last_day: month.last_day,
                        opens_on: window.opens_on,
                        closes_on: window.closes_on,
                    });
                }
                Ok(window)
            })
            .collect::<Result<Vec<_>, _>>()?;

        Ok(Evaluation {
            month_starts: months.iter().map(|m| m.start.timestamp()).collect(),
            term_end: months.last().expect("a term has a month").end.timestamp(),
            context: Context {
                time_zone: zone,
                calendar,
            },
            policy,
            currency,
            minor_unit_places,
            unit_price,
            months,
            fees,
            claim_windows,
            ledgers,
            cursor: 0,
            ingested: Ingested::default(),
            outages: Vec::new(),
            outage_ids: HashSet::new(),
            limits,
        })
    }

    /// The service months the term was cut into.
    pub fn months(&self) -> &[ServiceMonth] {
        &self.months
    }

    pub fn time_zone(&self) -> Tz {
        self.context.time_zone
    }

    /// Buckets accepted and ignored so far.
    pub fn ingested(&self) -> Ingested {
        self.ingested
    }

    /// Adds one bucket.
    pub fn add_bucket(&mut self, bucket: Bucket) -> Result<Placement, BucketError> {
        if bucket.start.timestamp_subsec_nanos() != 0 {
            return Err(BucketError::FractionalSecond {
                start: bucket.start,
            });
        }
        self.add(
            bucket.start.timestamp(),
            bucket.duration_seconds,
            bucket.total,
            bucket.failed,
        )
    }

    /// Adds buckets given as columns of equal length sharing one duration; on error, says which
    /// row. Rows before the failing one stay added.
    ///
    /// Runs of rows inside one month go through the ledger's fast path; any row it does not take
    /// goes through the same careful path as a single bucket, which accepts it, ignores it or says
    /// what is wrong, so both forms give the same answers and the same errors.
    pub fn add_columns(
        &mut self,
        duration_seconds: u32,
        starts: &[i64],
        totals: &[u64],
        failed: &[u64],
    ) -> Result<Ingested, (usize, BucketError)> {
        debug_assert!(starts.len() == totals.len() && totals.len() == failed.len());
        let rows = starts.len().min(totals.len()).min(failed.len());
        let before = self.ingested;
        if rows > 0 {
            self.check_duration(duration_seconds)
                .map_err(|error| (0, error))?;
        }
        let span = duration_seconds / 60;
        let mut row = 0;
        while row < rows {
            let month = self.cursor;
            let taken = self.ledgers[month].add_run(
                self.month_starts[month],
                span,
                &starts[row..rows],
                &totals[row..rows],
                &failed[row..rows],
            );
            self.ingested.accepted += taken as u64;
            row += taken;
            if row < rows {
                self.add(starts[row], duration_seconds, totals[row], failed[row])
                    .map_err(|error| (row, error))?;
                row += 1;
            }
        }
        Ok(Ingested {
            accepted: self.ingested.accepted - before.accepted,
            ignored: self.ingested.ignored - before.ignored,
        })
    }

    /// A duration must be a positive whole number of minutes and, under timeslices, divide the
    /// slice.
    fn check_duration(&self, duration_seconds: u32) -> Result<(), BucketError> {
        if duration_seconds == 0 {
            return Err(BucketError::ZeroDuration);
        }
        if i64::from(duration_seconds) % SECONDS_PER_MINUTE != 0 {
            return Err(BucketError::DurationNotWholeMinutes {
                seconds: duration_seconds,
            });
        }
        if let Method::Timeslices { slice_minutes, .. } = self.policy.method
            && !(slice_minutes * 60).is_multiple_of(duration_seconds)
        {
            return Err(BucketError::DurationDoesNotDivideSlice {
                seconds: duration_seconds,
                slice_minutes,
            });
        }
        Ok(())
    }

    fn add(
        &mut self,
        start: i64,
        duration_seconds: u32,
        total: u64,
        failed: u64,
    ) -> Result<Placement, BucketError> {
        self.check_duration(duration_seconds)?;
        if failed > total {
            return Err(BucketError::FailedExceedsTotal { total, failed });
        }
        let end = start.saturating_add(i64::from(duration_seconds));
        let term_start = self.month_starts[0];
        if end <= term_start || start >= self.term_end {
            self.ingested.ignored += 1;
            return Ok(Placement::OutsideTerm);
        }
        if start < term_start {
            return Err(BucketError::CrossesServiceMonth {
                start: instant(start),
                end: instant(end),
                boundary: instant(term_start),
            });
        }
        let month = self.month_of(start);
        let month_start = self.month_starts[month];
        let month_end = self
            .month_starts
            .get(month + 1)
            .copied()
            .unwrap_or(self.term_end);
        if end > month_end {
            return Err(BucketError::CrossesServiceMonth {
                start: instant(start),
                end: instant(end),
                boundary: instant(month_end),
            });
        }
        let offset = start - month_start;
        if offset % SECONDS_PER_MINUTE != 0 {
            return Err(BucketError::NotOnAMinute {
                start: instant(start),
                month_start: instant(month_start),
            });
        }
        let minute = (offset / SECONDS_PER_MINUTE) as u32;
        let span = duration_seconds / 60;
        self.ledgers[month]
            .add(minute, span, Counts { total, failed })
            .map_err(|misfit| match misfit {
                Misfit::DoesNotDivideSlice => BucketError::DurationDoesNotDivideSlice {
                    seconds: duration_seconds,
                    slice_minutes: span_of_slice(&self.policy),
                },
                Misfit::CrossesSlice { slice_start_minute } => BucketError::CrossesSlice {
                    start: instant(start),
                    end: instant(end),
                    slice_start: instant(
                        month_start + i64::from(slice_start_minute) * SECONDS_PER_MINUTE,
                    ),
                    slice_minutes: span_of_slice(&self.policy),
                },
                Misfit::Overlaps => BucketError::Overlaps {
                    start: instant(start),
                    end: instant(end),
                },
                Misfit::CountOverflow => BucketError::CountOverflow {
                    start: instant(start),
                },
            })?;
        self.ingested.accepted += 1;
        Ok(Placement::Accepted)
    }

    /// The month containing `start`, which lies inside the term.
    fn month_of(&mut self, start: i64) -> usize {
        let cursor = self.cursor;
        let inside = |index: usize| {
            self.month_starts[index] <= start
                && self
                    .month_starts
                    .get(index + 1)
                    .is_none_or(|&next| start < next)
        };
        if !inside(cursor) {
            self.cursor = self.month_starts.partition_point(|&s| s <= start) - 1;
        }
        self.cursor
    }

    /// Classifies an outage and keeps it for the report; an EXCLUDED one will take its window out
    /// of the count.
    pub fn add_outage(&mut self, outage: Outage) -> Result<&OutageVerdict, OutageError> {
        if self.outages.len() >= self.limits.max_outages {
            return Err(OutageError::TooMany {
                max: self.limits.max_outages,
            });
        }
        if !outage.id.is_empty() && !self.outage_ids.insert(outage.id.clone()) {
            return Err(OutageError::DuplicateId { id: outage.id });
        }
        let verdict = classify::classify(&self.policy, &outage, &self.context);
        self.outages.push((outage.window, verdict));
        Ok(&self.outages.last().expect("just pushed").1)
    }

    /// Closes every month and computes the report.
    pub fn finish(self) -> Report {
        let months: Vec<MonthReport> = (0..self.months.len())
            .map(|index| self.month_report(index))
            .collect();
        let payouts: Vec<&Payout> = months.iter().filter_map(|m| m.payout.as_ref()).collect();
        let total_compensation =
            (!payouts.is_empty()).then(|| payouts.iter().map(|p| p.amount).sum());
        let total_message_credits = (self.policy.form == CompensationForm::MessageCredits
            && !payouts.is_empty())
        .then(|| payouts.iter().filter_map(|p| p.message_credits).sum());
        Report {
            policy_id: self.policy.id.clone(),
            time_zone: self.context.time_zone,
            currency: self.currency,
            calendar: self.context.calendar.name().to_string(),
            buckets_accepted: self.ingested.accepted,
            buckets_ignored: self.ingested.ignored,
            outages: self.outages.iter().map(|(_, v)| v.clone()).collect(),
            total_compensation,
            total_message_credits,
            months,
        }
    }

    fn month_report(&self, index: usize) -> MonthReport {
        let month = &self.months[index];
        let policy = &self.policy;
        let touching: Vec<usize> = (0..self.outages.len())
            .filter(|&i| self.outages[i].0.overlaps(month.start, month.end))
            .collect();
        let ledger = &self.ledgers[index];
        let tally = ledger.tally(&self.excluded_minutes(index, &touching));
        let mut notes = Vec::new();

        let clock_minutes = (month.elapsed_seconds() / SECONDS_PER_MINUTE) as u64;
        let (unit, total_units, availability) = match policy.method {
            Method::Timeslices { .. } => {
                let total = month.contract_minutes();
                if clock_minutes != total {
                    notes.push(Note {
                        kind: NoteKind::ClockChange,
                        text: format!(
                            "A clock change in {} makes this month {clock_minutes} minutes long on \
                             the clock; availability is computed over the contract's {} days × \
                             1440 = {total} minutes.",
                            self.context.time_zone,
                            month.days()
                        ),
                    });
                }
                if tally.bad > total {
                    notes.push(Note {
                        kind: NoteKind::AvailabilityFloored,
                        text: format!(
                            "{} unavailable minutes exceed the contract's {total}; availability \
                             is floored at 0%.",
                            tally.bad
                        ),
                    });
                }
                let good = total - tally.bad.min(total);
                (Unit::Minutes, total, Fraction::new(good, total))
            }
            Method::Occurrences => {
                if tally.events == 0 {
                    notes.push(Note {
                        kind: NoteKind::NoEvents,
                        text: "No events were counted this month; availability is 100% as \
                               nothing failed (contract-readings.md, \"No data\")."
                            .into(),
                    });
                }
                (
                    Unit::Events,
                    tally.events,
                    Fraction::new(tally.events - tally.bad, tally.events),
                )
            }
        };

        let standard_met = availability.at_least(policy.standard);
        let tier = compensation::earned_tier(policy, availability);
        if let Some(written) = compensation::tier_above_standard(policy, availability) {
            notes.push(Note {
                kind: NoteKind::TierAboveStandard,
                text: format!(
                    "The compensation table lists [{}%, {}%) for {}% of the fee, but the standard \
                     is {}% and compensation is due only below it, so a month at {}% earns \
                     nothing (contract-readings.md).",
                    written.at_least,
                    written.below,
                    written.fee_percent,
                    policy.standard,
                    availability.truncated_percent()
                ),
            });
        }
        let compensation_percent = tier.map_or(Percent::ZERO, |(_, tier)| tier.fee_percent);
        let payout = self.payout(index, tier.map(|(_, tier)| tier));
        if payout.is_none() {
            notes.push(Note {
                kind: NoteKind::FeeMissing,
                text: "No fee was given for this month, so only the percentage is reported.".into(),
            });
        }

        let review: Vec<&str> = touching
            .iter()
            .map(|&i| &self.outages[i].1)
            .filter(|v| v.verdict == Verdict::NeedsReview)
            .map(|v| v.outage_id.as_str())
            .collect();
        if !review.is_empty() {
            notes.push(Note {
                kind: NoteKind::OutagesNeedReview,
                text: format!(
                    "{} outage(s) touching this month need a person's review ({}); they count \
                     until decided.",
                    review.len(),
                    review.join(", ")
                ),
            });
        }
        let status = if tally.covered_minutes == 0 {
            MonthStatus::NoData
        } else if !review.is_empty() {
            MonthStatus::NeedsReview
        } else if standard_met {
            MonthStatus::Met
        } else {
            MonthStatus::NotMet
        };

        MonthReport {
            first_day: month.first_day,
            last_day: month.last_day,
            status,
            unit,
            total_units,
            bad_units: tally.bad,
            excluded_units: tally.excluded,
            availability_percent: availability.truncated_percent(),
            availability,
            standard_met,
            tier,
            compensation_percent,
            form: policy.form,
            payout,
            claim_window: self.claim_windows[index],
            coverage: Coverage {
                covered_minutes: tally.covered_minutes,
                minutes: clock_minutes,
            },
            outages: touching,
            notes,
        }
    }

    fn payout(&self, index: usize, tier: Option<crate::policy::Tier>) -> Option<Payout> {
        let fee = self.fees[index].as_ref()?;
        let places = self.minor_unit_places?;
        let eligible_fee = fee.paid - fee.deductions;
        let amount = match &tier {
            Some(tier) => compensation::compensation_amount(eligible_fee, tier, places),
            None => Decimal::new(0, places),
        };
        let message_credits = match (self.policy.form, self.unit_price) {
            (CompensationForm::MessageCredits, Some(price)) => {
                Some(compensation::message_credits(amount, price).expect(
                    "checked in Evaluation::new: the eligible fee's credits fit, and the amount \
                     never exceeds it",
                ))
            }
            _ => None,
        };
        Some(Payout {
            eligible_fee,
            amount_minor_units: compensation::minor_units(amount, places)
                .expect("checked in Evaluation::new: the eligible fees fit in minor units"),
            amount,
            message_credits,
        })
    }

    /// Clock minutes of month `index` that an EXCLUDED outage overlaps.
    fn excluded_minutes(&self, index: usize, touching: &[usize]) -> FixedBitSet {
        let month = &self.months[index];
        let minutes = (month.elapsed_seconds() / SECONDS_PER_MINUTE) as usize;
        let mut excluded = FixedBitSet::with_capacity(minutes);
        let month_start = month.start.timestamp();
        for (window, verdict) in touching.iter().map(|&i| &self.outages[i]) {
            if verdict.verdict != Verdict::Excluded {
                continue;
            }
            // Every minute the window touches, down to a fraction of a second at either end:
            // the start rounds down to its second, the end up.
            let end =
                window.end().timestamp() + i64::from(window.end().timestamp_subsec_nanos() > 0);
            let from = window.start().timestamp().max(month_start) - month_start;
            let to = end.min(month.end.timestamp()) - month_start;
            let first = (from / SECONDS_PER_MINUTE) as usize;
            let last = ((to + SECONDS_PER_MINUTE - 1) / SECONDS_PER_MINUTE) as usize;
            excluded.insert_range(first..last.min(minutes));
        }
        excluded
    }
}

fn span_of_slice(policy: &Policy) -> u32 {
    match policy.method {
        Method::Timeslices { slice_minutes, .. } => slice_minutes,
        Method::Occurrences => 1,
    }
}

/// A Unix time as an instant; the callers only pass times near a validated term.
fn instant(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
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
