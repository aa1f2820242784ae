//! The outage classifier: which exclusion clause, if any, takes an outage out of the count.
//!
//! One rule for every policy: a provider fault counts; an unknown cause, or one no clause names,
//! goes to a person; otherwise the policy's clauses for the cause are tried narrowest first and the
//! first whose condition holds excludes the outage. When none holds the outage counts, unless some
//! condition could not be decided, in which case the verdict lists the facts that would decide it.
//! A claimed exemption under a law or published rule (`exemption_basis`) sends an outage that no
//! specific clause excludes to the catch-all clause, for a person to weigh.

mod conditions;
mod outage;

use std::collections::BTreeSet;

use chrono_tz::Tz;

pub use outage::{AccountKind, EmptyWindow, Fact, Facts, Notice, Outage, OutageWindow};

use crate::calendar::BusinessCalendar;
use crate::policy::{Cause, Clause, Condition, Policy};
use conditions::Finding;

/// What the classifier needs besides the policy: business days are counted in a zone's local
/// dates and a calendar's holidays.
#[derive(Clone, Debug)]
pub struct Context {
    /// The zone whose local dates business days are counted in.
    pub time_zone: Tz,
    /// The holidays and make-up working days.
    pub calendar: BusinessCalendar,
}

/// The three possible answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// A clause takes the outage out of the availability count.
    Excluded,
    /// The outage counts against availability.
    Counted,
    /// The facts given cannot decide it; a person must.
    NeedsReview,
}

/// A clause, as a verdict names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClauseRef {
    /// The clause number as the document prints it.
    pub id: String,
    /// The clause's title.
    pub title: String,
}

impl From<&Clause> for ClauseRef {
    fn from(clause: &Clause) -> Self {
        ClauseRef {
            id: clause.id.clone(),
            title: clause.title.clone(),
        }
    }
}

/// The classifier's answer for one outage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutageVerdict {
    /// The outage's id, as given.
    pub outage_id: String,
    /// The answer.
    pub verdict: Verdict,
    /// The clause that excludes (EXCLUDED), that might (NEEDS_REVIEW), or that was weighed and
    /// did not apply (COUNTED); `None` when no clause was in question.
    pub clause: Option<ClauseRef>,
    /// A sentence a customer could be shown.
    pub explanation: String,
    /// For NEEDS_REVIEW: the facts that would decide it, in a stable order.
    pub missing_facts: Vec<Fact>,
}

/// Classifies one outage under one policy.
pub fn classify(policy: &Policy, outage: &Outage, context: &Context) -> OutageVerdict {
    let verdict =
        |verdict, clause: Option<&Clause>, explanation: String, missing: Vec<Fact>| OutageVerdict {
            outage_id: outage.id.clone(),
            verdict,
            clause: clause.map(ClauseRef::from),
            explanation,
            missing_facts: missing,
        };
    let Some(cause) = outage.cause else {
        // An exemption claimed under a law or published rule is the catch-all clause's to weigh,
        // whatever the cause (docs/contract-readings.md, "Which clause a NEEDS_REVIEW names").
        return match (&outage.facts.exemption_basis, policy.case_by_case_clause()) {
            (Some(basis), Some(catch_all)) => verdict(
                Verdict::NeedsReview,
                Some(catch_all),
                format!(
                    "The outage's cause is not given, but an exemption is claimed under \
                     \"{basis}\"; clause {} ({}) covers such exemptions and only a person can \
                     weigh it.",
                    catch_all.id, catch_all.title
                ),
                vec![Fact::Cause],
            ),
            _ => verdict(
                Verdict::NeedsReview,
                None,
                "The outage's cause is not given, so no clause can be weighed.".into(),
                vec![Fact::Cause],
            ),
        };
    };
    if cause == Cause::ProviderFault {
        return verdict(
            Verdict::Counted,
            None,
            "A provider fault counts against availability; no exclusion clause covers it.".into(),
            vec![],
        );
    }
    let candidates = policy.clauses_for(cause);
    if candidates.is_empty() {
        let catch_all = policy.case_by_case_clause();
        let claimed = match &outage.facts.exemption_basis {
            Some(basis) => format!(" An exemption is claimed under \"{basis}\"."),
            None => String::new(),
        };
        let explanation = match catch_all {
            Some(clause) => format!(
                "No clause of {} names {cause}.{claimed} Clause {} ({}) may still exempt it, but \
                 only a person can tell whether a law, agreement or published rule applies.",
                policy.id, clause.id, clause.title
            ),
            None => format!(
                "No clause of {} names {cause}; a person must decide whether it counts.",
                policy.id
            ),
        };
        return verdict(Verdict::NeedsReview, catch_all, explanation, vec![]);
    }

    let mut undecided: Option<(&Clause, String)> = None;
    let mut missing = BTreeSet::new();
    let mut rejected: Option<(&Clause, String)> = None;
    for clause in &candidates {
        match check(clause, outage, context) {
            Finding::Holds(reason) => {
                return verdict(
                    Verdict::Excluded,
                    Some(clause),
                    format!(
                        "Clause {} ({}) excludes this {cause} outage: {reason}.",
                        clause.id, clause.title
                    ),
                    vec![],
                );
            }
            Finding::Unknown {
                missing: facts,
                reason,
            } => {
                missing.extend(facts);
                undecided.get_or_insert((clause, reason));
            }
            Finding::Fails(reason) => {
                rejected.get_or_insert((clause, reason));
            }
        }
    }
    let (kind, clause, explanation) = match undecided {
        Some((clause, reason)) => (
            Verdict::NeedsReview,
            clause,
            format!(
                "Clause {} ({}) may exclude this {cause} outage, but {reason}.",
                clause.id, clause.title
            ),
        ),
        None => {
            let (clause, reason) =
                rejected.expect("every candidate either held, was undecided or failed");
            (
                Verdict::Counted,
                clause,
                format!(
                    "Clause {} ({}) does not apply: {reason}; the outage counts against \
                     availability.",
                    clause.id, clause.title
                ),
            )
        }
    };
    let missing: Vec<Fact> = missing.into_iter().collect();
    match (&outage.facts.exemption_basis, policy.case_by_case_clause()) {
        (Some(basis), Some(catch_all)) => verdict(
            Verdict::NeedsReview,
            Some(catch_all),
            format!(
                "{explanation} An exemption is claimed under \"{basis}\"; clause {} ({}) covers \
                 such exemptions and only a person can weigh it.",
                catch_all.id, catch_all.title
            ),
            missing,
        ),
        _ => verdict(kind, Some(clause), explanation, missing),
    }
}

fn check(clause: &Clause, outage: &Outage, context: &Context) -> Finding {
    match &clause.condition {
        Condition::Always => Finding::Holds(format!(
            "the clause excludes every outage caused by {}",
            clause
                .cause
                .map_or("its cause".to_string(), |c| c.to_string())
        )),
        Condition::ProviderNotice => conditions::provider_notice(&outage.window, &outage.facts),
        Condition::TrafficSurge(rule) => {
            conditions::traffic_surge(rule, &outage.window, &outage.facts, context)
        }
        Condition::NumberBlocked => conditions::number_blocked(&outage.facts),
        // Never a candidate: a case-by-case clause names no cause.
        Condition::CaseByCase => Finding::Unknown {
            missing: vec![],
            reason: "only a person can tell whether it applies".into(),
        },
    }
}
