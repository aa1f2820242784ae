//! One evaluation: buckets and outages folded in as they arrive, a report at the end.

use std::collections::HashSet;
use std::sync::Arc;

use chrono_tz::Tz;
use fixedbitset::FixedBitSet;

use super::availability::{self, clock_minutes};
use super::bucket::{Batch, Bucket, BucketError, Durations, IngestError, Ingested, Placement};
use super::compensation;
use super::ledger::{Counts, MonthLedger};
use super::months::ServiceMonth;
use super::placement::Placer;
use super::report::{Coverage, MonthReport, Report};
use super::spec::{EvaluationSpec, SpecError};
use super::term::{SECONDS_PER_MINUTE, Term};
use crate::classify::{self, Outage, OutageVerdict, OutageWindow, Verdict};
use crate::limits::Limits;
use crate::policy::{CompensationForm, Policy};

/// Why an outage could not be added.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutageError {
    /// Within one evaluation, a non-empty id names one outage.
    #[error("outage id '{id}' was already given")]
    DuplicateId {
        /// The repeated id.
        id: String,
    },
    /// The evaluation already holds as many outages as its limits allow.
    #[error("more than {max} outages in one evaluation")]
    TooMany {
        /// The limit.
        max: usize,
    },
}

/// An evaluation in progress.
///
/// Buckets may come in any order and any mix of sizes; each is checked and folded into its month
/// at once, so memory depends on the term's length and never on how many buckets arrive. Outages
/// are classified as they arrive and applied at [`Evaluation::finish`].
pub struct Evaluation {
    term: Term,
    placer: Placer,
    ledgers: Vec<MonthLedger>,
    ingested: Ingested,
    outages: Vec<(OutageWindow, OutageVerdict)>,
    outage_ids: HashSet<String>,
}

impl Evaluation {
    /// Checks the spec against the policy and prepares an empty ledger for every month.
    pub fn new(
        policy: Arc<Policy>,
        spec: EvaluationSpec,
        limits: Limits,
    ) -> Result<Self, SpecError> {
        let term = Term::new(policy, spec, limits)?;
        let method = term.policy.method;
        let ledgers = term
            .months
            .iter()
            .map(|month| {
                let minutes = u32::try_from(clock_minutes(month))
                    .expect("a month has far fewer than 2^32 minutes");
                MonthLedger::for_method(method, minutes)
            })
            .collect();
        Ok(Evaluation {
            placer: Placer::new(&term.months, method),
            term,
            ledgers,
            ingested: Ingested::default(),
            outages: Vec::new(),
            outage_ids: HashSet::new(),
        })
    }

    /// The service months the term was cut into.
    pub fn months(&self) -> &[ServiceMonth] {
        &self.term.months
    }

    /// The zone months and slices are cut in.
    pub fn time_zone(&self) -> Tz {
        self.term.time_zone()
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
        let batch = Batch {
            durations: Durations::Same(bucket.duration_seconds),
            starts: &[bucket.start.timestamp()],
            totals: &[bucket.total],
            failed: &[bucket.failed],
        };
        match self.add_batch(batch) {
            Ok(Ingested { accepted: 1, .. }) => Ok(Placement::Accepted),
            Ok(_) => Ok(Placement::OutsideTerm),
            Err(IngestError { error, .. }) => Err(error),
        }
    }

    /// Adds buckets that share one duration; see [`Evaluation::add_batch`].
    pub fn add_columns(
        &mut self,
        duration_seconds: u32,
        starts: &[i64],
        totals: &[u64],
        failed: &[u64],
    ) -> Result<Ingested, IngestError> {
        debug_assert!(starts.len() == totals.len() && totals.len() == failed.len());
        self.add_batch(Batch {
            durations: Durations::Same(duration_seconds),
            starts,
            totals,
            failed,
        })
    }

    /// Adds a batch of buckets and says how many were accepted and ignored; on error, which row
    /// was refused. Rows before the refused one stay added.
    ///
    /// Runs of rows inside one month go through the ledger's fast path; any row it does not take
    /// goes through [`Placer::place`], which accepts it, ignores it or says what is wrong, so
    /// every row gets the same answer whichever path it took.
    pub fn add_batch(&mut self, batch: Batch<'_>) -> Result<Ingested, IngestError> {
        let rows = batch.rows();
        let mut ingested = Ingested::default();
        let mut row = 0;
        while row < rows {
            let duration = batch.duration(row);
            let run_end = match batch.durations {
                Durations::Same(_) => rows,
                Durations::PerRow(durations) => {
                    row + durations[row..rows]
                        .iter()
                        .take_while(|&&d| d == duration)
                        .count()
                }
            };
            if let Err(error) = self.placer.check_duration(duration) {
                let error = IngestError {
                    row,
                    error,
                    before: ingested,
                };
                return Err(self.count(error));
            }
            while row < run_end {
                let month = self.placer.cursor();
                let taken = self.ledgers[month].add_run(
                    self.placer.month_start(month),
                    duration / 60,
                    &batch.starts[row..run_end],
                    &batch.totals[row..run_end],
                    &batch.failed[row..run_end],
                );
                ingested.accepted += taken as u64;
                row += taken;
                if row < run_end {
                    let (start, total, failed) =
                        (batch.starts[row], batch.totals[row], batch.failed[row]);
                    match self.place(start, duration, Counts { total, failed }) {
                        Ok(Placement::Accepted) => ingested.accepted += 1,
                        Ok(Placement::OutsideTerm) => ingested.ignored += 1,
                        Err(error) => {
                            let error = IngestError {
                                row,
                                error,
                                before: ingested,
                            };
                            return Err(self.count(error));
                        }
                    }
                    row += 1;
                }
            }
        }
        self.ingested.accepted += ingested.accepted;
        self.ingested.ignored += ingested.ignored;
        Ok(ingested)
    }

    /// Counts the rows a refused batch added before the refusal.
    fn count(&mut self, error: IngestError) -> IngestError {
        self.ingested.accepted += error.before.accepted;
        self.ingested.ignored += error.before.ignored;
        error
    }

    /// The careful path for one row.
    fn place(
        &mut self,
        start: i64,
        duration_seconds: u32,
        counts: Counts,
    ) -> Result<Placement, BucketError> {
        let Some(slot) = self
            .placer
            .place(start, duration_seconds, counts.total, counts.failed)?
        else {
            return Ok(Placement::OutsideTerm);
        };
        self.ledgers[slot.month]
            .add(slot.minute, slot.span, counts)
            .map_err(|misfit| self.placer.misfit(misfit, slot, start))?;
        Ok(Placement::Accepted)
    }

    /// Classifies an outage and keeps it for the report; an EXCLUDED one will take its window out
    /// of the count.
    pub fn add_outage(&mut self, outage: Outage) -> Result<&OutageVerdict, OutageError> {
        let max = self.term.limits.max_outages;
        if self.outages.len() >= max {
            return Err(OutageError::TooMany { max });
        }
        if !outage.id.is_empty() && !self.outage_ids.insert(outage.id.clone()) {
            return Err(OutageError::DuplicateId { id: outage.id });
        }
        let verdict = classify::classify(&self.term.policy, &outage, &self.term.context);
        self.outages.push((outage.window, verdict));
        Ok(&self.outages.last().expect("just pushed").1)
    }

    /// Closes every month and computes the report.
    pub fn finish(self) -> Report {
        let months: Vec<MonthReport> = (0..self.term.months.len())
            .map(|index| self.month_report(index))
            .collect();
        let payouts: Vec<_> = months.iter().filter_map(|m| m.payout.as_ref()).collect();
        let total_compensation =
            (!payouts.is_empty()).then(|| payouts.iter().map(|p| p.amount).sum());
        let total_message_credits = (self.term.policy.form == CompensationForm::MessageCredits
            && !payouts.is_empty())
        .then(|| payouts.iter().filter_map(|p| p.message_credits).sum());
        let total_compensation_minor_units = payouts.iter().map(|p| p.amount_minor_units).sum();
        let Term {
            policy,
            context,
            money,
            ..
        } = self.term;
        Report {
            policy_id: policy.id.clone(),
            time_zone: context.time_zone,
            currency: money.currency,
            calendar: context.calendar.name().to_string(),
            buckets_accepted: self.ingested.accepted,
            buckets_ignored: self.ingested.ignored,
            outages: self.outages.into_iter().map(|(_, v)| v).collect(),
            total_compensation,
            total_compensation_minor_units,
            total_message_credits,
            months,
        }
    }

    fn month_report(&self, index: usize) -> MonthReport {
        let term = &self.term;
        let month = &term.months[index];
        let policy = &term.policy;
        let touching: Vec<usize> = (0..self.outages.len())
            .filter(|&i| self.outages[i].0.overlaps(month.start, month.end))
            .collect();
        let tally = self.ledgers[index].tally(&self.excluded_minutes(month, &touching));
        let mut notes = Vec::new();

        let availability =
            availability::assess(policy.method, month, &tally, term.time_zone(), &mut notes);
        let standard_met = availability.fraction.at_least(policy.standard);
        let earnings = compensation::earnings(
            policy,
            availability.fraction,
            term.fees[index].as_ref(),
            &term.money,
            &mut notes,
        );
        let review: Vec<&str> = touching
            .iter()
            .map(|&i| &self.outages[i].1)
            .filter(|v| v.verdict == Verdict::NeedsReview)
            .map(|v| v.outage_id.as_str())
            .collect();
        let status = availability::status(&tally, &review, standard_met, &mut notes);

        MonthReport {
            first_day: month.first_day,
            last_day: month.last_day,
            status,
            unit: availability.unit,
            total_units: availability.total_units,
            bad_units: tally.bad,
            excluded_units: tally.excluded,
            availability_percent: availability.fraction.truncated_percent(),
            availability: availability.fraction,
            standard_met,
            tier: earnings.tier,
            compensation_percent: earnings.percent,
            form: policy.form,
            payout: earnings.payout,
            claim_window: term.claim_windows[index],
            coverage: Coverage {
                covered_minutes: tally.covered_minutes,
                minutes: clock_minutes(month),
            },
            outages: touching,
            notes,
        }
    }

    /// Clock minutes of `month` that an EXCLUDED outage among `touching` overlaps.
    fn excluded_minutes(&self, month: &ServiceMonth, touching: &[usize]) -> FixedBitSet {
        let minutes = clock_minutes(month) as usize;
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
