//! The contract terms around the measurement: when claims may be filed, how a table's bounds read,
//! what a credit must reach to be paid and may not pass, and which causes a policy knows.
//!
//! Public SLAs differ from the Tencent documents in each of these (AWS, Google, Azure, GitHub,
//! Atlassian: docs/contract-readings.md, "Public SLAs"), so each is a value of the policy, with a
//! default that keeps the built-in policies' reading.

use iso_currency::Currency;
use rust_decimal::Decimal;

use super::{CauseId, Fraction, Percent, Policy, Tier};

/// When a claim for one service month may be filed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimWindowRule {
    /// The first day claims are accepted.
    pub opens: ClaimOpens,
    /// The last day claims are accepted.
    pub closes: ClaimCloses,
}

/// The first day of a claim window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimOpens {
    /// The day after this business day of the calendar month that follows the service month's
    /// last day (the Tencent documents: the 5th).
    AfterBusinessDay(u32),
    /// The day after the service month's last day: claims open when the period ends (AWS, Google,
    /// Azure, Atlassian).
    AfterPeriod,
}

/// The last day of a claim window, inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimCloses {
    /// This many calendar days after the service month's last day.
    AfterDays(u32),
    /// The last day of the N-th calendar month after the calendar month of the service month's
    /// last day: March → May 31 for N = 2 ("by the end of the second billing cycle after").
    AtEndOfMonth(u32),
}

/// Which side of a bound a value exactly on it belongs to: the standard's (a month exactly at it
/// meets it, or does not) and the minimum credit's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Edge {
    /// A value exactly on the bound reaches it (today's reading of every built-in policy).
    #[default]
    AtLeast,
    /// Only a value strictly above the bound reaches it ("greater than one dollar").
    Above,
}

impl Edge {
    /// The name in policy files.
    pub fn name(self) -> &'static str {
        match self {
            Edge::AtLeast => "at_least",
            Edge::Above => "above",
        }
    }
}

/// How the rows of a compensation table bound availability; one convention per file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TierBounds {
    /// `[lower, upper)`: "less than 99.9% but at least 99.0%" (the Tencent documents, AWS).
    #[default]
    AtLeastBelow,
    /// `(lower, upper]`: "less than or equal to 99.9% but greater than 99.0%" (GitHub). The
    /// bottom tier reaches down to 0% inclusive.
    AboveAtMost,
}

impl TierBounds {
    /// True when `availability` lies in `tier`'s band.
    pub fn contains(self, tier: &Tier, availability: Fraction) -> bool {
        match self {
            TierBounds::AtLeastBelow => {
                availability.at_least(tier.lower) && availability.below(tier.upper)
            }
            TierBounds::AboveAtMost => {
                // Only the bottom tier starts at 0% (the tiers meet), and it includes 0%.
                (tier.lower == Percent::ZERO || availability.above(tier.lower))
                    && availability.at_most(tier.upper)
            }
        }
    }

    /// The band as a table prints it: `[99%, 99.9%)` or `(99%, 99.9%]`.
    pub fn show(self, tier: &Tier) -> String {
        match self {
            TierBounds::AtLeastBelow => format!("[{}%, {}%)", tier.lower, tier.upper),
            TierBounds::AboveAtMost if tier.lower == Percent::ZERO => {
                format!("[0%, {}%]", tier.upper)
            }
            TierBounds::AboveAtMost => format!("({}%, {}%]", tier.lower, tier.upper),
        }
    }

    /// Whether a band's upper bound belongs to it.
    pub fn upper_included(self) -> bool {
        self == TierBounds::AboveAtMost
    }
}

/// What a month's credit must reach to be paid, in the evaluation's currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MinAmount {
    /// The amount ("1.00").
    pub amount: Decimal,
    /// The currency the document fixes it in ("$1 USD"), if any: an evaluation with fees in
    /// another currency is refused, since no exchange rate is ours to choose.
    pub currency: Option<Currency>,
    /// Whether an amount exactly at the minimum is paid (`AtLeast`) or not (`Above`, AWS's
    /// "greater than one dollar").
    pub met_at: Edge,
}

impl MinAmount {
    /// True when `amount` is paid.
    pub fn pays(&self, amount: Decimal) -> bool {
        match self.met_at {
            Edge::AtLeast => amount >= self.amount,
            Edge::Above => amount > self.amount,
        }
    }
}

/// An edge of a band of availability: a bound, and whether a value exactly on it is inside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpperEdge {
    /// The bound.
    pub bound: Percent,
    /// A value exactly on the bound is inside the band.
    pub included: bool,
}

impl UpperEdge {
    /// The lower of two edges: the smaller bound, or at the same bound the one that leaves the
    /// bound out.
    pub fn min(self, other: UpperEdge) -> UpperEdge {
        match self.bound.cmp(&other.bound) {
            std::cmp::Ordering::Less => self,
            std::cmp::Ordering::Greater => other,
            std::cmp::Ordering::Equal => UpperEdge {
                bound: self.bound,
                included: self.included && other.included,
            },
        }
    }

    /// True when `availability` lies below the edge (inside a band that ends here).
    pub fn holds(self, availability: Fraction) -> bool {
        if self.included {
            availability.at_most(self.bound)
        } else {
            availability.below(self.bound)
        }
    }
}

impl Policy {
    /// True when `availability` meets the standard: at or above it, or strictly above it when the
    /// policy's `standard_met_at` is `above`.
    pub fn meets_standard(&self, availability: Fraction) -> bool {
        match self.standard_met_at {
            Edge::AtLeast => availability.at_least(self.standard),
            Edge::Above => availability.above(self.standard),
        }
    }

    /// Where the months that miss the standard end: below the standard, or up to it inclusive
    /// when a month exactly on it misses it.
    pub fn missed_edge(&self) -> UpperEdge {
        UpperEdge {
            bound: self.standard,
            included: self.standard_met_at == Edge::Above,
        }
    }

    /// Where `tier`'s band ends.
    pub fn tier_edge(&self, tier: &Tier) -> UpperEdge {
        UpperEdge {
            bound: tier.upper,
            included: self.tier_bounds.upper_included(),
        }
    }

    /// The tier whose band holds `availability`, 1-based as the table prints it, whether or not
    /// the month met the standard.
    pub fn tier_holding(&self, availability: Fraction) -> Option<(usize, Tier)> {
        self.tiers
            .iter()
            .enumerate()
            .find(|(_, tier)| self.tier_bounds.contains(tier, availability))
            .map(|(index, tier)| (index + 1, *tier))
    }

    /// True when an outage may carry `cause` under this policy: every shared cause, and the causes
    /// the policy declares.
    pub fn declares(&self, cause: &CauseId) -> bool {
        match cause {
            CauseId::Shared(_) => true,
            CauseId::Declared(id) => self.causes.iter().any(|c| &c.id == id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(lower: &str, upper: &str) -> Tier {
        Tier {
            lower: lower.parse().unwrap(),
            upper: upper.parse().unwrap(),
            fee_percent: "10".parse().unwrap(),
        }
    }

    #[test]
    fn the_two_conventions_put_a_month_exactly_on_a_bound_in_different_tiers() {
        let band = tier("99", "99.9");
        let at_upper = Fraction::new(999, 1000);
        let at_lower = Fraction::new(99, 100);
        assert!(!TierBounds::AtLeastBelow.contains(&band, at_upper));
        assert!(TierBounds::AtLeastBelow.contains(&band, at_lower));
        assert!(TierBounds::AboveAtMost.contains(&band, at_upper));
        assert!(!TierBounds::AboveAtMost.contains(&band, at_lower));
        let bottom = tier("0", "99");
        assert!(TierBounds::AboveAtMost.contains(&bottom, Fraction::new(0, 10)));
        assert_eq!(TierBounds::AboveAtMost.show(&band), "(99%, 99.9%]");
        assert_eq!(TierBounds::AboveAtMost.show(&bottom), "[0%, 99%]");
        assert_eq!(TierBounds::AtLeastBelow.show(&band), "[99%, 99.9%)");
    }

    #[test]
    fn the_lower_edge_leaves_a_shared_bound_out() {
        let p = |s: &str| s.parse::<Percent>().unwrap();
        let open = UpperEdge {
            bound: p("99.9"),
            included: false,
        };
        let closed = UpperEdge {
            bound: p("99.9"),
            included: true,
        };
        assert_eq!(closed.min(open), open);
        assert_eq!(
            closed
                .min(UpperEdge {
                    bound: p("99.5"),
                    included: false
                })
                .bound,
            p("99.5")
        );
        assert!(closed.holds(Fraction::new(999, 1000)));
        assert!(!open.holds(Fraction::new(999, 1000)));
    }

    #[test]
    fn a_minimum_above_pays_nothing_exactly_at_it() {
        let dollar = |met_at| MinAmount {
            amount: Decimal::ONE,
            currency: None,
            met_at,
        };
        assert!(!dollar(Edge::Above).pays(Decimal::ONE));
        assert!(dollar(Edge::AtLeast).pays(Decimal::ONE));
        assert!(dollar(Edge::Above).pays(Decimal::new(101, 2)));
    }
}
