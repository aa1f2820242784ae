//! The evaluation's answer: one report per service month and the totals.

use chrono::NaiveDate;
use chrono_tz::Tz;
use iso_currency::Currency;
use rust_decimal::Decimal;

use super::claim_window::ClaimWindow;
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
}

/// One service month.
#[derive(Clone, Debug, PartialEq)]
pub struct MonthReport {
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
    /// When a claim for the month may be filed.
    pub claim_window: ClaimWindow,
    /// How much of the month had data.
    pub coverage: Coverage,
    /// The outages whose window touched the month, as indexes into [`Report::outages`]: a verdict
    /// is kept once however many months its outage spans.
    pub outages: Vec<usize>,
    /// Why the result reads the way it does, wherever a reading of the contract decided.
    pub notes: Vec<Note>,
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
    /// Occurrences month without events reads as 100% (contract-readings.md).
    NoEvents,
    /// Availability lies in a tier although it meets the standard (contract-readings.md).
    TierAboveStandard,
    /// A clock change makes the month longer or shorter than days × 1440.
    ClockChange,
    /// More bad minutes than the contract's minutes: availability is floored at 0%.
    AvailabilityFloored,
    /// No fee was given for the month, so no amount was computed.
    FeeMissing,
    /// Outages needing review touched the month.
    OutagesNeedReview,
}
