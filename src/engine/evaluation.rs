//! One evaluation: buckets and outages folded in as they arrive, a report at the end.

use std::collections::HashSet;

use chrono_tz::Tz;

use super::bucket::{Batch, Bucket, BucketError, Durations, IngestError, Ingested, Placement};
use super::digest;
use super::ledger::{Counts, MonthLedger};
use super::month_report::{self, KeptOutage};
use super::months::{SECONDS_PER_MINUTE, ServiceMonth};
use super::placement::Placer;
use super::report::{MonthReport, Provenance, Report};
use super::spec::{EvaluationSpec, SpecError};
use super::term::Term;
use crate::classify::{self, Outage, OutageVerdict};
use crate::limits::Limits;
use crate::policy::{CompensationForm, PolicyVersions};

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
        /// The most outages the evaluation's limits allow.
        max: usize,
    },
    /// The outage names a cause its month's version does not declare.
    #[error(transparent)]
    UndeclaredCause(#[from] classify::UndeclaredCause),
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
    outages: Vec<KeptOutage>,
    /// Each outage's canonical form, for the input digest.
    outage_lines: Vec<String>,
    outage_ids: HashSet<String>,
}

impl Evaluation {
    /// Checks the spec against the policy and prepares an empty ledger for every month.
    pub fn new(
        policy: impl Into<PolicyVersions>,
        spec: EvaluationSpec,
        limits: Limits,
    ) -> Result<Self, SpecError> {
        Ok(Evaluation::with_term(Term::new(policy, spec, limits)?))
    }

    /// Prepares an empty ledger for every month of a checked term, allocating about
    /// [`Term::ledger_bytes`].
    pub fn with_term(term: Term) -> Self {
        let method = term.policy.method;
        // Each month's ledger judges slices by its own version's rule; every version shares the
        // slice length, so the placer and the ledgers' sizes are the same whichever is used.
        let ledgers = term
            .months
            .iter()
            .zip(&term.month_policies)
            .map(|(month, version)| {
                let minutes = u32::try_from(month.clock_minutes())
                    .expect("a month has far fewer than 2^32 minutes");
                MonthLedger::for_method(version.method, minutes)
            })
            .collect();
        Evaluation {
            placer: Placer::new(&term.months, method, term.as_of),
            term,
            ledgers,
            ingested: Ingested::default(),
            outages: Vec::new(),
            outage_lines: Vec::new(),
            outage_ids: HashSet::new(),
        }
    }

    /// The service months the term was cut into.
    pub fn months(&self) -> &[ServiceMonth] {
        &self.term.months
    }

    /// The zone months and slices are cut in.
    pub fn time_zone(&self) -> Tz {
        self.term.time_zone()
    }

    /// Heap bytes the evaluation's ledgers hold: what its memory grows with.
    pub fn ledger_bytes(&self) -> u64 {
        self.ledgers
            .iter()
            .map(|ledger| ledger.heap_bytes() as u64)
            .sum()
    }

    /// The most a batch of `rows` buckets can add to [`Evaluation::ledger_bytes`], so that a
    /// server can reserve it before the batch is taken: each bucket's record and evidence (every
    /// month's first chunk of log is reserved with the term).
    pub fn growth_bound(&self, rows: u64) -> u64 {
        rows.saturating_mul(MonthLedger::MAX_BYTES_PER_BUCKET)
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
    /// Rows go through the ledger's fast path, in the month the placer's cursor points at, as long
    /// as it takes them; any row it does not take goes through the careful path
    /// (`Placer::place`), which accepts it, ignores it or says what is wrong (and moves the
    /// cursor), so every row gets the same answer whichever path it took.
    pub fn add_batch(&mut self, batch: Batch<'_>) -> Result<Ingested, IngestError> {
        let rows = batch.rows();
        let mut ingested = Ingested::default();
        let mut row = 0;
        while row < rows {
            let duration = batch.duration(row);
            let same_duration_end = match batch.durations {
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
            while row < same_duration_end {
                let month = self.placer.cursor();
                let taken = self.ledgers[month].add_leading_rows(
                    self.placer.month_start(month),
                    self.placer.minutes_before_horizon(month),
                    duration / SECONDS_PER_MINUTE as u32,
                    (
                        &batch.starts[row..same_duration_end],
                        &batch.totals[row..same_duration_end],
                        &batch.failed[row..same_duration_end],
                    ),
                );
                ingested.accepted += taken as u64;
                row += taken;
                if row < same_duration_end {
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
        let policy = self.term.policy_at(outage.window.start());
        classify::check_cause(policy, &outage)?;
        if !outage.id.is_empty() && !self.outage_ids.insert(outage.id.clone()) {
            return Err(OutageError::DuplicateId { id: outage.id });
        }
        let verdict = classify::classify(policy, &outage, &self.term.context);
        self.outage_lines.push(digest::outage_line(&outage));
        self.outages.push((outage.window, verdict));
        Ok(&self.outages.last().expect("just pushed").1)
    }

    /// Closes every month and computes the report.
    pub fn finish(self) -> Report {
        let months: Vec<MonthReport> = (0..self.term.months.len())
            .map(|index| {
                month_report::build(
                    &self.term,
                    index,
                    &self.ledgers[index],
                    &self.outages,
                    self.placer.minutes_before_horizon(index),
                )
            })
            .collect();
        let provenance = Provenance {
            engine_version: env!("CARGO_PKG_VERSION").to_string(),
            policy_revision: self.term.revisions(),
            tzdb_version: chrono_tz::IANA_TZDB_VERSION.to_string(),
            input_digest: digest::input_digest(
                &self.term,
                &self.ledgers,
                self.ingested.ignored,
                &self.outage_lines,
            ),
        };
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
            fees,
            as_of,
            ..
        } = self.term;
        Report {
            policy_id: policy.id.clone(),
            time_zone: context.time_zone,
            // The currency of the amounts: none without a fee, whatever the spec named.
            currency: money.currency.filter(|_| fees.iter().any(Option::is_some)),
            calendar: context.calendar.name().to_string(),
            buckets_accepted: self.ingested.accepted,
            buckets_ignored: self.ingested.ignored,
            outages: self.outages.into_iter().map(|(_, v)| v).collect(),
            total_compensation,
            total_compensation_minor_units,
            total_message_credits,
            as_of,
            provenance,
            months,
        }
    }
}
