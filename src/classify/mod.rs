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
use crate::policy::{Cause, CauseId, Clause, Condition, Policy};
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
    /// Excluded, counted, or for a person to decide.
    pub verdict: Verdict,
    /// The clause that excludes (EXCLUDED), that might (NEEDS_REVIEW), or that was weighed and
    /// did not apply (COUNTED); `None` when no clause was in question.
    pub clause: Option<ClauseRef>,
    /// A sentence a customer could be shown.
    pub explanation: String,
    /// For NEEDS_REVIEW: the facts that would decide it, in a stable order.
    pub missing_facts: Vec<Fact>,
}

/// An outage names a cause its policy neither shares nor declares: refused, since no clause could
/// ever weigh a name that means nothing to the policy.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "policy {policy_id} declares no cause '{cause}'; its own causes are: {}",
    if declared.is_empty() { "none".to_string() } else { declared.join(", ") }
)]
pub struct UndeclaredCause {
    /// The policy (the version that classifies the outage).
    pub policy_id: String,
    /// The name the outage carried.
    pub cause: String,
    /// The causes the policy declares, in file order.
    pub declared: Vec<String>,
}

/// Refuses an outage whose cause the policy does not declare (shared causes always pass).
pub fn check_cause(policy: &Policy, outage: &Outage) -> Result<(), UndeclaredCause> {
    match &outage.cause {
        Some(cause) if !policy.declares(cause) => Err(UndeclaredCause {
            policy_id: policy.id.clone(),
            cause: cause.to_string(),
            declared: policy.causes.iter().map(|c| c.id.clone()).collect(),
        }),
        _ => Ok(()),
    }
}

/// Classifies one outage under one policy: the decision first ([`decide`]), then its words
/// ([`explain`]), so that rewording an explanation cannot change a verdict.
pub fn classify(policy: &Policy, outage: &Outage, context: &Context) -> OutageVerdict {
    let decision = decide(policy, outage, context);
    OutageVerdict {
        outage_id: outage.id.clone(),
        verdict: decision.verdict(),
        clause: decision.clause().map(ClauseRef::from),
        explanation: explain(&decision, policy),
        missing_facts: decision.missing_facts(),
    }
}

/// Why an outage gets its verdict, before it is worded.
#[derive(Debug)]
enum Decision<'a> {
    /// No cause is given, so no clause can be weighed: a person decides.
    NoCause,
    /// A provider fault counts; no clause excludes it.
    ProviderFault,
    /// No clause of the policy names the cause: a person decides, under the catch-all clause
    /// when the policy has one.
    Unnamed {
        cause: &'a CauseId,
        catch_all: Option<&'a Clause>,
        /// The law or rule an exemption is claimed under, if any.
        claimed: Option<&'a str>,
    },
    /// The first clause whose condition holds excludes the outage.
    Excluded {
        cause: &'a CauseId,
        clause: &'a Clause,
        reason: String,
    },
    /// No clause's condition holds, and the first that could not be decided might: the facts
    /// that would decide it are missing.
    Undecided {
        cause: &'a CauseId,
        clause: &'a Clause,
        reason: String,
        missing: Vec<Fact>,
    },
    /// Every clause for the cause was weighed and fails: the outage counts.
    Rejected { clause: &'a Clause, reason: String },
    /// An exemption is claimed under `basis` and the policy has a catch-all clause: whatever the
    /// clauses alone decided (`under`: no cause, undecided or rejected), a person weighs it
    /// (docs/contract-readings.md, "Which clause a NEEDS_REVIEW names").
    Exemption {
        basis: &'a str,
        catch_all: &'a Clause,
        under: Box<Decision<'a>>,
    },
}

impl Decision<'_> {
    fn verdict(&self) -> Verdict {
        match self {
            Decision::ProviderFault | Decision::Rejected { .. } => Verdict::Counted,
            Decision::Excluded { .. } => Verdict::Excluded,
            Decision::NoCause
            | Decision::Unnamed { .. }
            | Decision::Undecided { .. }
            | Decision::Exemption { .. } => Verdict::NeedsReview,
        }
    }

    /// The clause the verdict names.
    fn clause(&self) -> Option<&Clause> {
        match self {
            Decision::NoCause | Decision::ProviderFault => None,
            Decision::Unnamed { catch_all, .. } => *catch_all,
            Decision::Excluded { clause, .. }
            | Decision::Undecided { clause, .. }
            | Decision::Rejected { clause, .. } => Some(clause),
            Decision::Exemption { catch_all, .. } => Some(catch_all),
        }
    }

    fn missing_facts(&self) -> Vec<Fact> {
        match self {
            Decision::NoCause => vec![Fact::Cause],
            Decision::Undecided { missing, .. } => missing.clone(),
            Decision::Exemption { under, .. } => under.missing_facts(),
            Decision::ProviderFault
            | Decision::Unnamed { .. }
            | Decision::Excluded { .. }
            | Decision::Rejected { .. } => vec![],
        }
    }
}

/// The one rule for every policy (see the module's documentation).
fn decide<'a>(policy: &'a Policy, outage: &'a Outage, context: &Context) -> Decision<'a> {
    let claimed = outage.facts.exemption_basis.as_deref();
    // An exemption claimed under a law or published rule is the catch-all clause's to weigh.
    let weighed = |under: Decision<'a>| match (claimed, policy.case_by_case_clause()) {
        (Some(basis), Some(catch_all)) => Decision::Exemption {
            basis,
            catch_all,
            under: Box::new(under),
        },
        _ => under,
    };
    let Some(cause) = &outage.cause else {
        return weighed(Decision::NoCause);
    };
    if *cause == CauseId::Shared(Cause::ProviderFault) {
        return Decision::ProviderFault;
    }
    let candidates = policy.clauses_for(cause);
    if candidates.is_empty() {
        return Decision::Unnamed {
            cause,
            catch_all: policy.case_by_case_clause(),
            claimed,
        };
    }
    let mut undecided: Option<(&Clause, String)> = None;
    let mut missing = BTreeSet::new();
    let mut rejected: Option<(&Clause, String)> = None;
    for clause in candidates {
        match check(clause, outage, context) {
            Finding::Holds(reason) => {
                return Decision::Excluded {
                    cause,
                    clause,
                    reason,
                };
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
    let decided = match undecided {
        Some((clause, reason)) => Decision::Undecided {
            cause,
            clause,
            reason,
            missing: missing.into_iter().collect(),
        },
        None => {
            let (clause, reason) =
                rejected.expect("every candidate either held, was undecided or failed");
            Decision::Rejected { clause, reason }
        }
    };
    weighed(decided)
}

/// A sentence a customer could be shown, saying why.
fn explain(decision: &Decision, policy: &Policy) -> String {
    match decision {
        Decision::NoCause => "The outage's cause is not given, so no clause can be weighed.".into(),
        Decision::ProviderFault => {
            "A provider fault counts against availability; no exclusion clause covers it.".into()
        }
        Decision::Unnamed {
            cause,
            catch_all: Some(clause),
            claimed,
        } => {
            let claimed = match claimed {
                Some(basis) => format!(" An exemption is claimed under \"{basis}\"."),
                None => String::new(),
            };
            format!(
                "No clause of {} names {cause}.{claimed} Clause {} ({}) may still exempt it, but \
                 only a person can tell whether a law, agreement or published rule applies.",
                policy.id, clause.id, clause.title
            )
        }
        Decision::Unnamed {
            cause,
            catch_all: None,
            ..
        } => format!(
            "No clause of {} names {cause}; a person must decide whether it counts.",
            policy.id
        ),
        Decision::Excluded {
            cause,
            clause,
            reason,
        } => format!(
            "Clause {} ({}) excludes this {cause} outage: {reason}.",
            clause.id, clause.title
        ),
        Decision::Undecided {
            cause,
            clause,
            reason,
            ..
        } => format!(
            "Clause {} ({}) may exclude this {cause} outage, but {reason}.",
            clause.id, clause.title
        ),
        Decision::Rejected { clause, reason } => format!(
            "Clause {} ({}) does not apply: {reason}; the outage counts against availability.",
            clause.id, clause.title
        ),
        Decision::Exemption {
            basis,
            catch_all,
            under,
        } => match under.as_ref() {
            Decision::NoCause => format!(
                "The outage's cause is not given, but an exemption is claimed under \
                 \"{basis}\"; clause {} ({}) covers such exemptions and only a person can \
                 weigh it.",
                catch_all.id, catch_all.title
            ),
            under => format!(
                "{} An exemption is claimed under \"{basis}\"; clause {} ({}) covers such \
                 exemptions and only a person can weigh it.",
                explain(under, policy),
                catch_all.id,
                catch_all.title
            ),
        },
    }
}

fn check(clause: &Clause, outage: &Outage, context: &Context) -> Finding {
    match &clause.condition {
        Condition::Always => Finding::Holds(format!(
            "the clause excludes every outage caused by {}",
            clause
                .cause
                .as_ref()
                .map_or("its cause".to_string(), |c| c.to_string())
        )),
        Condition::ProviderNotice(rule) => {
            conditions::provider_notice(*rule, &outage.window, &outage.facts)
        }
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
