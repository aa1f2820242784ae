//! One function per clause condition, each answering "does this clause's condition hold for this
//! outage?" with yes, no, or "cannot tell without these facts".

use chrono::{DateTime, Datelike, SecondsFormat, TimeDelta, Utc};
use rust_decimal::Decimal;

use super::Context;
use super::outage::{AccountKind, Fact, Facts, Notice, OutageWindow};
use crate::policy::{Comparison, ProviderNoticeRule, SurgeMetric, SurgeRule, SurgeThreshold};

/// A three-valued answer, each with a reason that completes the sentence "…, because <reason>".
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Finding {
    Holds(String),
    Fails(String),
    Unknown { missing: Vec<Fact>, reason: String },
}

impl Finding {
    /// Both must hold. A definite "no" on either side decides, even if the other side is unknown:
    /// a surge below the threshold needs no notice facts to be counted.
    fn and(self, other: Finding) -> Finding {
        match (self, other) {
            (Finding::Fails(reason), _) | (_, Finding::Fails(reason)) => Finding::Fails(reason),
            (
                Finding::Unknown {
                    mut missing,
                    reason,
                },
                Finding::Unknown {
                    missing: more,
                    reason: more_reason,
                },
            ) => {
                missing.extend(more);
                Finding::Unknown {
                    missing,
                    reason: format!("{reason}; {more_reason}"),
                }
            }
            (unknown @ Finding::Unknown { .. }, Finding::Holds(_))
            | (Finding::Holds(_), unknown @ Finding::Unknown { .. }) => unknown,
            (Finding::Holds(first), Finding::Holds(second)) => {
                Finding::Holds(format!("{first}, and {second}"))
            }
        }
    }
}

pub(super) fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Maintenance and announced events: excluded only when the provider's notice came before the
/// outage began, at least as many hours ahead and in writing when the clause asks so
/// (docs/contract-readings.md, "Notice").
pub(super) fn provider_notice(
    rule: ProviderNoticeRule,
    window: &OutageWindow,
    facts: &Facts,
) -> Finding {
    let (at, written) = match facts.provider_notice {
        None => {
            return Finding::Unknown {
                missing: vec![Fact::ProviderNotice],
                reason: "whether and when the provider gave notice is not known".into(),
            };
        }
        Some(Notice::NotGiven) => return Finding::Fails("the provider gave no notice".into()),
        Some(Notice::Given { at, written }) => (at, written),
    };
    if at >= window.start() {
        return Finding::Fails(format!(
            "the provider's notice at {} came only after the outage began at {}",
            instant(at),
            instant(window.start())
        ));
    }
    if at + TimeDelta::hours(rule.hours.into()) > window.start() {
        return Finding::Fails(format!(
            "the provider's notice at {} came less than the {} hour(s) the clause asks for before \
             the outage began at {}",
            instant(at),
            rule.hours,
            instant(window.start())
        ));
    }
    if rule.written {
        match written {
            Some(false) => {
                return Finding::Fails(
                    "the provider's notice was not in writing, which the clause asks for".into(),
                );
            }
            None => {
                return Finding::Unknown {
                    missing: vec![Fact::ProviderNoticeWritten],
                    reason: "the clause asks for written notice and whether the provider's was \
                             written is not known"
                        .into(),
                };
            }
            Some(true) => {}
        }
    }
    Finding::Holds(format!(
        "the provider's notice at {} came before the outage began at {}",
        instant(at),
        instant(window.start())
    ))
}

/// The call centers' 5.18: the breach got the customer's own number blocked.
pub(super) fn number_blocked(facts: &Facts) -> Finding {
    match facts.number_blocked {
        Some(true) => Finding::Holds("the breach got the customer's phone number blocked".into()),
        Some(false) => Finding::Fails("the customer's phone number was not blocked".into()),
        None => Finding::Unknown {
            missing: vec![Fact::NumberBlocked],
            reason: "whether the customer's phone number was blocked is not known".into(),
        },
    }
}

/// A traffic surge is excluded when it reached the clause's threshold (if it has one) and the
/// customer did not give the notice the clause asks for.
pub(super) fn traffic_surge(
    rule: &SurgeRule,
    window: &OutageWindow,
    facts: &Facts,
    context: &Context,
) -> Finding {
    let size = match &rule.threshold {
        Some(threshold) => surge_reaches(threshold, facts),
        None => Finding::Holds("the clause names no threshold".into()),
    };
    let scope = if rule.audio_video_chatroom_only {
        match facts.audio_video_chatroom {
            Some(true) => Finding::Holds("the surge was in audio-visual chatroom use".into()),
            Some(false) => Finding::Fails(
                "the surge was not in audio-visual chatroom use, the only surge the clause covers"
                    .into(),
            ),
            None => Finding::Unknown {
                missing: vec![Fact::AudioVideoChatroom],
                reason: "the clause covers only surges in audio-visual chatroom use, and whether \
                         this one was is not known"
                    .into(),
            },
        }
    } else {
        Finding::Holds("the clause covers any surge of the customer's traffic".into())
    };
    scope
        .and(size)
        .and(notice_falls_short(rule, window, facts, context))
}

fn surge_reaches(threshold: &SurgeThreshold, facts: &Facts) -> Finding {
    let (measured, fact) = match threshold.metric {
        SurgeMetric::Concurrency => (
            facts.concurrency_surge.map(Decimal::from),
            Fact::ConcurrencySurge,
        ),
        SurgeMetric::PeakQps => (facts.peak_qps, Fact::PeakQps),
        SurgeMetric::DailyMessages => {
            (facts.daily_messages.map(Decimal::from), Fact::DailyMessages)
        }
    };
    let what = threshold.metric.name();
    let Some(measured) = measured else {
        // Whichever the volume turns out to be, a clause with a threshold per account kind also
        // needs the kind: both facts could still change the verdict.
        let mut missing = vec![fact];
        if threshold.gateway_value.is_some() && facts.account_kind.is_none() {
            missing.push(Fact::AccountKind);
        }
        return Finding::Unknown {
            missing,
            reason: format!("the surge's {what} is not known"),
        };
    };
    let sense = match threshold.comparison {
        Comparison::Above => "above",
        Comparison::AtLeast => "at least",
    };
    let judge = |bound: Decimal, whose: &str| {
        if threshold.reached_by(measured, bound) {
            Finding::Holds(format!(
                "its {what} of {measured} is {sense} the {bound} {whose}"
            ))
        } else {
            Finding::Fails(format!(
                "its {what} of {measured} is not {sense} the {bound} {whose}"
            ))
        }
    };
    let Some(gateway) = threshold.gateway_value else {
        return judge(threshold.value, "threshold");
    };
    match facts.account_kind {
        Some(AccountKind::Standard) => judge(threshold.value, "threshold for standard accounts"),
        Some(AccountKind::Gateway) => judge(gateway, "threshold for gateway accounts"),
        // Without the account kind the surge may still be decided: past both thresholds, or
        // under both.
        None => match (
            threshold.reached_by(measured, threshold.value),
            threshold.reached_by(measured, gateway),
        ) {
            (true, true) => judge(
                threshold.value.max(gateway),
                "threshold of every account kind",
            ),
            (false, false) => judge(
                threshold.value.min(gateway),
                "threshold of every account kind",
            ),
            _ => Finding::Unknown {
                missing: vec![Fact::AccountKind],
                reason: format!(
                    "its {what} of {measured} passes the threshold for one account kind but not \
                     the other, and the account kind is not known"
                ),
            },
        },
    }
}

/// Holds when the customer's notice was missing, late, not written when it had to be, or too few
/// business days ahead.
fn notice_falls_short(
    rule: &SurgeRule,
    window: &OutageWindow,
    facts: &Facts,
    context: &Context,
) -> Finding {
    let required = rule.notice;
    let (at, written) = match facts.customer_notice {
        None => {
            return Finding::Unknown {
                missing: vec![Fact::CustomerNotice],
                reason: "whether and when the customer gave notice is not known".into(),
            };
        }
        Some(Notice::NotGiven) => {
            return Finding::Holds("the customer gave no prior notice".into());
        }
        Some(Notice::Given { at, written }) => (at, written),
    };
    if at >= window.start() {
        return Finding::Holds(format!(
            "the customer's notice at {} came only after the surge began at {}",
            instant(at),
            instant(window.start())
        ));
    }
    if required.business_days > 0 {
        let noticed_on = at.with_timezone(&context.time_zone).date_naive();
        let surge_on = window
            .start()
            .with_timezone(&context.time_zone)
            .date_naive();
        let ahead =
            context
                .calendar
                .business_days_between(noticed_on, surge_on, required.business_days);
        if ahead < required.business_days {
            let unknown = [noticed_on, surge_on]
                .iter()
                .any(|day| !context.calendar.knows(day.year()));
            return Finding::Holds(format!(
                "the customer's notice on {noticed_on} came {ahead} business day(s) before the \
                 surge on {surge_on} ({} calendar{}), fewer than the {} the clause asks for",
                context.calendar.name(),
                if unknown {
                    ", counted Monday to Friday past the years it knows"
                } else {
                    ""
                },
                required.business_days
            ));
        }
    }
    if required.written {
        match written {
            Some(false) => {
                return Finding::Holds(
                    "the customer's notice was not in writing, which the clause asks for".into(),
                );
            }
            None => {
                return Finding::Unknown {
                    missing: vec![Fact::CustomerNoticeWritten],
                    reason: "the clause asks for written notice and whether it was written is \
                             not known"
                        .into(),
                };
            }
            Some(true) => {}
        }
    }
    Finding::Fails(format!(
        "the customer gave the notice the clause asks for at {}",
        instant(at)
    ))
}
