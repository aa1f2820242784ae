//! The evaluation's answer: one report per service month and the totals.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use iso_currency::Currency;
use rust_decimal::Decimal;

use crate::classify::OutageVerdict;
use crate::policy::{CompensationForm, Fraction, Percent, Tier};

/// The evaluation of a whole term.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The policy evaluated under.
    pub policy_id: String,
    /// The zone months and slices were cut in.
    pub time_zone: Tz,
    /// The currency of every amount; `None` when no fee was given.
    pub currency: Option<Currency>,
    /// The business calendar claim windows and notice periods were counted in.
    pub calendar: String,
    /// One report per service month, in order.
    pub months: Vec<MonthReport>,
    /// Buckets folded into a month.
    pub buckets_accepted: u64,
    /// Buckets entirely outside the term.
    pub buckets_ignored: u64,
    /// Every outage given, in the order given.
    pub outages: Vec<OutageVerdict>,
    /// Sum of the amounts of the months that had a fee, in `currency`.
    pub total_compensation: Option<Decimal>,
    /// `total_compensation` in the currency's minor units; 0 when no month had a fee.
    pub total_compensation_minor_units: i64,
    /// Sum of the message credits (message-credit policies only).
    pub total_message_credits: Option<u64>,
    /// The instant the evaluation is as of.
    pub as_of: DateTime<Utc>,
    /// What produced the report, to replay and check it.
    pub provenance: Provenance,
}

/// What produced a report: the inputs' digest and the versions of everything that read them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provenance {
    /// This program's version.
    pub engine_version: String,
    /// The revisions of the policy versions evaluated under, in month order, distinct, joined by
    /// `,`: one revision when one version covers the whole term.
    pub policy_revision: String,
    /// The IANA time-zone database the months were cut with.
    pub tzdb_version: String,
    /// `sha256:` and the SHA-256 of the inputs' canonical form (docs/provenance.md): the same
    /// spec, buckets and outages give the same digest, whatever their order or form.
    pub input_digest: String,
}

/// What a month's units are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Timeslices: minutes of the contract's month.
    Minutes,
    /// Occurrences: requests, messages or calls.
    Events,
}

/// A month at a glance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MonthStatus {
    /// The standard was met.
    Met,
    /// Availability fell below the standard.
    NotMet,
    /// An outage that needs a person's decision touched the month; the result may change.
    NeedsReview,
    /// No bucket covered any of the month: the figures are those of silence.
    NoData,
    /// The data cannot decide the month: the minutes without data could change whether the
    /// standard was met, or the tier.
    IncompleteData,
    /// The month ends after the evaluation's `as_of`: the figures are the month's so far.
    InProgress,
}

/// One service month.
#[derive(Clone, Debug, PartialEq)]
pub struct MonthReport {
    /// The label of the policy version the month was evaluated under.
    pub policy_version: String,
    /// That version's revision: the SHA-256 of its file as loaded.
    pub policy_revision: String,
    /// The month's first day.
    pub first_day: NaiveDate,
    /// The month's last day, inclusive.
    pub last_day: NaiveDate,
    /// The month at a glance.
    pub status: MonthStatus,
    /// What the units count.
    pub unit: Unit,
    /// Timeslices: the contract's minutes (days × 1440). Occurrences: events counted.
    pub total_units: u64,
    /// Unavailable minutes or failed events that count.
    pub bad_units: u64,
    /// Minutes or events an excluded outage took out.
    pub excluded_units: u64,
    /// Exact availability.
    pub availability: Fraction,
    /// `availability` as a percentage truncated to four places.
    pub availability_percent: String,
    /// Availability is at or above the policy's standard.
    pub standard_met: bool,
    /// The tier earned (1-based, as the table prints it) when the standard was not met.
    pub tier: Option<(usize, Tier)>,
    /// The tier's fee percentage, or zero.
    pub compensation_percent: Percent,
    /// What compensation is paid in.
    pub form: CompensationForm,
    /// Present when a fee was given for the month.
    pub payout: Option<Payout>,
    /// When a claim for the month may be filed; `None` when the policy states no window.
    pub claim_window: Option<ClaimWindow>,
    /// How much of the month had data.
    pub coverage: Coverage,
    /// The outages whose window touched the month, as indexes into [`Report::outages`]: a verdict
    /// is kept once however many months its outage spans.
    pub outages: Vec<usize>,
    /// Why the result reads the way it does, wherever a reading of the contract decided.
    pub notes: Vec<Note>,
    /// Clock minutes of the month before `as_of`.
    pub elapsed_minutes: u64,
    /// Timeslices: the month's figures if every slice with a minute of silence before `as_of` had
    /// been bad. `None` under occurrences, whose missing volume cannot be known.
    pub worst_case: Option<Bound>,
    /// How many more bad units the month can take.
    pub budget: Budget,
    /// What the figures rest on.
    pub evidence: Evidence,
    /// Timeslices: slices with some attempts but fewer than the policy's `min_attempts`, judged
    /// available whatever failed in them. 0 under occurrences.
    pub slices_under_min_attempts: u64,
}

/// A month's figures under one reading of its data.
#[derive(Clone, Debug, PartialEq)]
pub struct Bound {
    /// Unavailable minutes or failed events that count.
    pub bad_units: u64,
    /// Exact availability.
    pub availability: Fraction,
    /// Availability is at or above the standard.
    pub standard_met: bool,
    /// The tier earned (1-based) when the standard was not met.
    pub tier: Option<(usize, Tier)>,
    /// The tier's fee percentage, or zero.
    pub compensation_percent: Percent,
    /// Present when a fee was given for the month.
    pub payout: Option<Payout>,
}

/// How many more bad units (minutes of bad slices, or failed events at the month's event count so
/// far) a month can take: the error budget, in the contract's terms.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Budget {
    /// The most bad units that still meet the standard.
    pub bad_units_allowed: u64,
    /// Of those, how many are left; 0 once the standard is missed.
    pub bad_units_remaining: u64,
    /// For each tier, how many more bad units until the month falls into it; 0 once it has.
    pub tiers: Vec<TierBudget>,
}

/// The bad units until a month falls into one tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TierBudget {
    /// The tier, 1-based.
    pub tier: usize,
    /// More bad units until the month falls into it; 0 when it already has, or lower.
    pub bad_units_until: u64,
}

/// The intervals behind a month's figures: what was unavailable, what exclusions took out, and
/// where data was missing. Each list holds at most the evaluation's `max_intervals` items, the
/// earliest first, and says how many there were in all.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evidence {
    /// Consecutive bad slices (timeslices) or buckets with failures (occurrences) that count.
    pub unavailable: Listed<UnavailableInterval>,
    /// What each excluded outage touching the month took out.
    pub excluded: Listed<ExcludedInterval>,
    /// Minutes before `as_of` no bucket covered, merged.
    pub gaps: Listed<Gap>,
}

/// At most a fixed number of items, and how many there were in all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed<T> {
    /// The first items, in time order.
    pub items: Vec<T>,
    /// How many there were in all.
    pub total: u64,
}

impl<T> Default for Listed<T> {
    fn default() -> Self {
        Listed {
            items: Vec::new(),
            total: 0,
        }
    }
}

/// Consecutive units that counted as unavailable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnavailableInterval {
    /// Its first instant.
    pub start: DateTime<Utc>,
    /// The instant after it.
    pub end: DateTime<Utc>,
    /// Its clock minutes.
    pub minutes: u64,
    /// Attempts in it.
    pub total: u64,
    /// Failures in it.
    pub failed: u64,
    /// The lowest success rate of one of its slices (or buckets).
    pub lowest_success_rate: Fraction,
}

/// What one excluded outage took out of a month.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExcludedInterval {
    /// The outage's window, cut to the month: its start.
    pub start: DateTime<Utc>,
    /// Its end.
    pub end: DateTime<Utc>,
    /// Minutes of bad slices or events it took out.
    pub units: u64,
    /// The outage, as an index into [`Report::outages`].
    pub outage: usize,
    /// The clause that excluded it.
    pub clause_id: String,
}

/// Minutes without data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gap {
    /// Its first instant.
    pub start: DateTime<Utc>,
    /// The instant after it.
    pub end: DateTime<Utc>,
    /// Its clock minutes.
    pub minutes: u64,
}

/// Money owed for one month.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payout {
    /// Paid minus deductions.
    pub eligible_fee: Decimal,
    /// Rounded half-up to the currency's minor unit, at most `eligible_fee`.
    pub amount: Decimal,
    /// `amount` in minor units (cents).
    pub amount_minor_units: i64,
    /// Message-credit policies: whole messages `amount` buys at the list price.
    pub message_credits: Option<u64>,
    /// What the terms held back from the tier's amount, if anything: a cap or a minimum.
    pub withheld: Option<Withheld>,
}

/// Why a month is paid less than its tier's share of the eligible fee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Withheld {
    /// The tier's amount passed the policy's cap, and was cut to it.
    Capped {
        /// The tier's amount before the cap.
        tier_amount: Decimal,
    },
    /// The amount did not reach the policy's minimum, so nothing is paid.
    BelowMinimum {
        /// The amount that would have been paid.
        amount: Decimal,
    },
}

/// When a claim for a month may be filed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimWindow {
    /// The first day a claim is accepted: the day after the N-th business day of the calendar
    /// month that follows the month's last day, or the day after that last day.
    pub opens_on: NaiveDate,
    /// The last day a claim is accepted: N calendar days after the month's last day, or the last
    /// day of the N-th calendar month after it.
    pub closes_on: NaiveDate,
}

/// How much of a month had data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Coverage {
    /// Clock minutes some bucket covered.
    pub covered_minutes: u64,
    /// Clock minutes in the month (differs from the contract's on a clock change).
    pub minutes: u64,
}

impl Coverage {
    /// The covered share of the month's clock minutes.
    pub fn fraction(&self) -> Fraction {
        Fraction::new(self.covered_minutes, self.minutes)
    }
}

/// Why a month's result reads the way it does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// What kind of note, for clients that act on it.
    pub kind: NoteKind,
    /// The note, for a person.
    pub text: String,
}

/// The kinds of note.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoteKind {
    /// Occurrences month without events reads as 100% (docs/contract-readings.md).
    NoEvents,
    /// Availability lies in a tier although it meets the standard (docs/contract-readings.md).
    TierAboveStandard,
    /// A clock change makes the month longer or shorter than days × 1440.
    ClockChange,
    /// More bad minutes than the contract's minutes: availability is floored at 0%.
    AvailabilityFloored,
    /// No fee was given for the month, so no amount was computed.
    FeeMissing,
    /// Outages needing review touched the month.
    OutagesNeedReview,
    /// The minutes without data could change the month's result.
    IncompleteData,
    /// The month ends after `as_of`.
    InProgress,
    /// Minutes without data that could not change the month's result.
    DataGaps,
    /// The claim window was counted in a year the calendar does not know: Monday to Friday.
    CalendarOutOfRange,
    /// The month's amount did not reach the policy's minimum credit, so nothing is paid.
    BelowMinAmount,
    /// The tier's amount passed the policy's cap and was cut to it.
    Capped,
    /// The policy states no claim window, so the month has no claim dates.
    ClaimWindowNotStated,
}
