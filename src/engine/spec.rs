//! What an evaluation is asked: the term, zone, money and calendar, and what is wrong with them.

use chrono::NaiveDate;
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
    pub calendar: BusinessCalendar,
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
    Paid,
    Deductions,
}

impl FeeField {
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
    Negative,
    NotPositive,
    /// At or above 10^15.
    TooLarge,
    /// More than 10 decimal places.
    TooPrecise,
}

impl AmountProblem {
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

/// Why an evaluation cannot start.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("term_end {last_day} is before term_start {first_day}")]
    TermEndsBeforeStart {
        first_day: NaiveDate,
        last_day: NaiveDate,
    },
    #[error(
        "the term from {first_day} to {last_day} is {days} days long; at most {max_days} are accepted"
    )]
    TermTooLong {
        first_day: NaiveDate,
        last_day: NaiveDate,
        days: i64,
        max_days: u32,
    },
    #[error(
        "in {zone}, the service month starting {month_first_day} is not a whole number of \
         {slice_minutes}-minute slices long (a historical offset of seconds?)"
    )]
    SliceMisfit {
        zone: Tz,
        month_first_day: NaiveDate,
        slice_minutes: u32,
    },
    #[error("currency is required when fees are given")]
    CurrencyRequired,
    #[error("currency {code} has no minor unit to round amounts to")]
    CurrencyWithoutMinorUnit { code: String },
    #[error(
        "fees[{index}].month_start {month_start} is not the first day of a service month; the \
         term's service months start on {}",
        list_days(starts)
    )]
    FeeMonthUnknown {
        index: usize,
        month_start: NaiveDate,
        starts: Vec<NaiveDate>,
    },
    #[error("fees[{index}].month_start {month_start} was already given a fee")]
    FeeMonthRepeated {
        index: usize,
        month_start: NaiveDate,
    },
    #[error("fees[{index}].{} {value} {}", field.name(), problem.describe())]
    FeeInvalid {
        index: usize,
        field: FeeField,
        value: Decimal,
        problem: AmountProblem,
    },
    #[error("fees[{index}].deductions {deductions} exceed paid {paid}")]
    DeductionsExceedPaid {
        index: usize,
        paid: Decimal,
        deductions: Decimal,
    },
    #[error("message_unit_price is required: policy {policy_id} compensates in message credits")]
    UnitPriceRequired { policy_id: String },
    #[error("message_unit_price {value} {}", problem.describe())]
    UnitPriceInvalid {
        value: Decimal,
        problem: AmountProblem,
    },
    #[error(
        "message_unit_price {value} is so small that the fees would buy more than 2^64 - 1 messages"
    )]
    UnitPriceTooSmall { value: Decimal },
    #[error(
        "the eligible fees add up to {total} {currency}, too much to express in minor units as a \
         64-bit count"
    )]
    FeesTooLarge { total: Decimal, currency: String },
    #[error(
        "calendar '{calendar}' opens the claim window of the month ending {last_day} on {opens_on}, \
         after it closes on {closes_on}"
    )]
    ClaimWindowEmpty {
        calendar: String,
        last_day: NaiveDate,
        opens_on: NaiveDate,
        closes_on: NaiveDate,
    },
    #[error(
        "calendar '{calendar}' leaves {year}-{month:02} fewer than {needed} business days, so the \
         claim window cannot open"
    )]
    TooFewBusinessDays {
        calendar: String,
        year: i32,
        month: u32,
        needed: u32,
    },
}

fn list_days(days: &[NaiveDate]) -> String {
    days.iter()
        .map(NaiveDate::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
