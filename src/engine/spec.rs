//! What an evaluation is asked: the term, zone, money and calendar, and what is wrong with them.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use iso_currency::Currency;
use rust_decimal::Decimal;

use crate::calendar::BusinessCalendar;

/// Everything about an evaluation except the measurements.
#[derive(Clone, Debug, PartialEq)]
pub struct EvaluationSpec {
    /// First day of the term, local to the zone.
    pub term_first_day: NaiveDate,
    /// Last day of the term, inclusive.
    pub term_last_day: NaiveDate,
    /// `None` uses the policy's default zone.
    pub time_zone: Option<Tz>,
    /// Needed as soon as a fee is given: it fixes the minor unit amounts are rounded to.
    pub currency: Option<Currency>,
    /// Fees of the months that have one; a month without one gets no amount, only a percentage.
    pub fees: Vec<MonthlyFee>,
    /// List price of one message, for policies that compensate in message credits.
    pub message_unit_price: Option<Decimal>,
    /// The business calendar claim windows and notice periods are counted in.
    pub calendar: BusinessCalendar,
    /// The instant the evaluation is as of: a month ending after it is in progress, minutes after
    /// it are neither gaps nor bad, and buckets starting at or after it are ignored.
    pub as_of: DateTime<Utc>,
    /// How many intervals of each kind a month's evidence lists.
    pub max_intervals: u32,
    /// The subscription evaluated, an opaque id; it enters the input digest when given.
    pub subscription: Option<String>,
}

/// What was paid for one service month.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonthlyFee {
    /// The service month's first day.
    pub month_start: NaiveDate,
    /// The fee paid for the month.
    pub paid: Decimal,
    /// The part paid with vouchers, coupons or discounts, which earns no compensation.
    pub deductions: Decimal,
}

impl MonthlyFee {
    /// The part of the fee compensation is computed on: paid minus deductions.
    pub fn eligible(&self) -> Decimal {
        self.paid - self.deductions
    }
}

/// The fee field at fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeeField {
    /// The fee paid.
    Paid,
    /// The part paid with vouchers, coupons or discounts.
    Deductions,
}

impl FeeField {
    /// The field's name in the spec.
    pub fn name(self) -> &'static str {
        match self {
            FeeField::Paid => "paid",
            FeeField::Deductions => "deductions",
        }
    }
}

/// What is wrong with an amount of money.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AmountProblem {
    /// Below zero.
    Negative,
    /// Zero where only a positive amount makes sense (a price).
    NotPositive,
    /// At or above 10^15.
    TooLarge,
    /// More than 10 decimal places.
    TooPrecise,
}

impl AmountProblem {
    /// The rule broken, to follow the amount in a message.
    pub fn describe(self) -> &'static str {
        match self {
            AmountProblem::Negative => "must not be negative",
            AmountProblem::NotPositive => "must be above zero",
            AmountProblem::TooLarge => "must be below 10^15",
            AmountProblem::TooPrecise => "must have at most 10 decimal places",
        }
    }
}

/// Largest amount accepted (exclusive) and most decimal places: together they keep every product
/// and quotient of money exact in a `Decimal`.
const MAX_AMOUNT: i64 = 1_000_000_000_000_000;
const MAX_AMOUNT_PLACES: u32 = 10;

/// Checks an amount of money; `positive` asks for a value above zero, not just non-negative.
pub fn check_amount(value: Decimal, positive: bool) -> Result<(), AmountProblem> {
    if value.is_sign_negative() && !value.is_zero() {
        return Err(AmountProblem::Negative);
    }
    if positive && value.is_zero() {
        return Err(AmountProblem::NotPositive);
    }
    if value >= Decimal::from(MAX_AMOUNT) {
        return Err(AmountProblem::TooLarge);
    }
    if value.normalize().scale() > MAX_AMOUNT_PLACES {
        return Err(AmountProblem::TooPrecise);
    }
    Ok(())
}

/// Why an evaluation cannot start. Each variant names the values at fault so that the message
/// alone lets a caller fix the request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The term ends before it starts.
    #[error("term_end {last_day} is before term_start {first_day}")]
    TermEndsBeforeStart {
        /// The term's first day.
        first_day: NaiveDate,
        /// The term's last day.
        last_day: NaiveDate,
    },
    /// The term is longer than the limits allow.
    #[error(
        "the term from {first_day} to {last_day} is {days} days long; at most {max_days} are accepted"
    )]
    TermTooLong {
        /// The term's first day.
        first_day: NaiveDate,
        /// The term's last day.
        last_day: NaiveDate,
        /// Its length in days.
        days: i64,
        /// The longest accepted.
        max_days: u32,
    },
    /// A zone whose offsets are not whole minutes cannot be cut into slices.
    #[error(
        "in {zone}, the service month starting {month_first_day} is not a whole number of \
         {slice_minutes}-minute slices long (a historical offset of seconds?)"
    )]
    SliceMisfit {
        /// The evaluation's zone.
        zone: Tz,
        /// The month that does not tile.
        month_first_day: NaiveDate,
        /// The policy's slice.
        slice_minutes: u32,
    },
    /// Fees without a currency have no minor unit to round to.
    #[error("currency is required when fees are given")]
    CurrencyRequired,
    /// A currency such as XAU has no minor unit.
    #[error("currency {code} has no minor unit to round amounts to")]
    CurrencyWithoutMinorUnit {
        /// The ISO 4217 code given.
        code: String,
    },
    /// A fee names a day on which no service month starts.
    #[error(
        "fees[{index}].month_start {month_start} is not the first day of a service month; the \
         term's service months start on {}",
        list_days(starts)
    )]
    FeeMonthUnknown {
        /// The fee's position in the spec.
        index: usize,
        /// The day it names.
        month_start: NaiveDate,
        /// The days the term's months start on.
        starts: Vec<NaiveDate>,
    },
    /// Two fees for one month.
    #[error("fees[{index}].month_start {month_start} was already given a fee")]
    FeeMonthRepeated {
        /// The second fee's position in the spec.
        index: usize,
        /// The month both name.
        month_start: NaiveDate,
    },
    /// An amount of a fee is out of range.
    #[error("fees[{index}].{} {value} {}", field.name(), problem.describe())]
    FeeInvalid {
        /// The fee's position in the spec.
        index: usize,
        /// The amount at fault.
        field: FeeField,
        /// The amount given.
        value: Decimal,
        /// What is wrong with it.
        problem: AmountProblem,
    },
    /// Deductions cannot exceed what was paid.
    #[error("fees[{index}].deductions {deductions} exceed paid {paid}")]
    DeductionsExceedPaid {
        /// The fee's position in the spec.
        index: usize,
        /// What was paid.
        paid: Decimal,
        /// The deductions claimed.
        deductions: Decimal,
    },
    /// A month begins before the policy's earliest version takes effect.
    #[error(
        "policy {policy_id} has no version in force on {month_first_day}, the first day of a \
         service month{}",
        earliest.map(|day| format!(" (its earliest version takes effect on {day})")).unwrap_or_default()
    )]
    NoVersionInForce {
        /// The policy's id.
        policy_id: String,
        /// The month's first day.
        month_first_day: NaiveDate,
        /// When the earliest version takes effect.
        earliest: Option<NaiveDate>,
    },
    /// Message credits cannot be counted without a price.
    #[error("message_unit_price is required: policy {policy_id} compensates in message credits")]
    UnitPriceRequired {
        /// The message-credit policy.
        policy_id: String,
    },
    /// The unit price is out of range.
    #[error("message_unit_price {value} {}", problem.describe())]
    UnitPriceInvalid {
        /// The price given.
        value: Decimal,
        /// What is wrong with it.
        problem: AmountProblem,
    },
    /// So small a price would count more messages than 64 bits hold.
    #[error(
        "message_unit_price {value} is so small that the fees would buy more than 2^64 - 1 messages"
    )]
    UnitPriceTooSmall {
        /// The price given.
        value: Decimal,
    },
    /// The fees together do not fit a 64-bit count of minor units.
    #[error(
        "the eligible fees add up to {total} {currency}, too much to express in minor units as a \
         64-bit count"
    )]
    FeesTooLarge {
        /// Their sum.
        total: Decimal,
        /// The currency's code.
        currency: String,
    },
    /// The calendar opens a claim window only after it has closed.
    #[error(
        "calendar '{calendar}' opens the claim window of the month ending {last_day} on {opens_on}, \
         after it closes on {closes_on}"
    )]
    ClaimWindowEmpty {
        /// The calendar's name.
        calendar: String,
        /// The service month's last day.
        last_day: NaiveDate,
        /// When the window would open.
        opens_on: NaiveDate,
        /// When it closes.
        closes_on: NaiveDate,
    },
    /// More intervals asked for than the limits allow.
    #[error("max_intervals {asked} is above the limit of {max}")]
    TooManyIntervals {
        /// The number asked for.
        asked: u32,
        /// The most the evaluation's limits allow.
        max: u32,
    },
    /// The policy's minimum credit is fixed in a currency other than the fees'; no exchange rate is
    /// ours to choose (docs/contract-readings.md, "A minimum in a document's currency").
    #[error(
        "currency {currency} differs from {required}, the currency policy {policy_id} fixes its \
         minimum credit of {min_amount} in: give the fees in {required}"
    )]
    MinAmountCurrency {
        /// The policy.
        policy_id: String,
        /// The spec's currency.
        currency: String,
        /// The policy's.
        required: String,
        /// The minimum, in `required`.
        min_amount: Decimal,
    },
    /// The calendar month after a service month has too few business days to open its window.
    #[error(
        "calendar '{calendar}' leaves {year}-{month:02} fewer than {needed} business days, so the \
         claim window cannot open"
    )]
    TooFewBusinessDays {
        /// The calendar's name.
        calendar: String,
        /// The year of the month at fault.
        year: i32,
        /// The month at fault, 1-12.
        month: u32,
        /// The business days the policy needs.
        needed: u32,
    },
}

fn list_days(days: &[NaiveDate]) -> String {
    days.iter()
        .map(NaiveDate::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
