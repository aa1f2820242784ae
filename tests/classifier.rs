//! The outage classifier against each policy's clauses, read from the documents.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use common::engine::*;
use rust_decimal::Decimal;
use sla_evaluator::calendar::BusinessCalendar;
use sla_evaluator::classify::{
    AccountKind, Context, Fact, Facts, Notice, OutageVerdict, Verdict, classify,
};
use sla_evaluator::policy::Cause;

/// The outage under test starts Monday 2024-03-11 10:00 Shanghai time.
fn start() -> DateTime<Utc> {
    local(SHANGHAI, "2024-03-11 10:00")
}

fn context() -> Context {
    Context {
        time_zone: Tz::Asia__Shanghai,
        calendar: BusinessCalendar::default(),
    }
}

fn judge(policy_id: &str, cause: Option<Cause>, facts: Facts) -> OutageVerdict {
    let mut outage = outage(
        "o-1",
        start(),
        local(SHANGHAI, "2024-03-11 11:00"),
        Cause::ProviderFault,
        facts,
    );
    outage.cause = cause.map(Into::into);
    classify(&policy(policy_id), &outage, &context())
}

fn notice_at(text: &str, written: Option<bool>) -> Option<Notice> {
    Some(Notice::Given {
        at: local(SHANGHAI, text),
        written,
    })
}

fn provider_notice_before() -> Facts {
    Facts {
        provider_notice: notice_at("2024-03-04 09:00", Some(true)),
        ..Facts::default()
    }
}

fn no_customer_notice() -> Facts {
    Facts {
        customer_notice: Some(Notice::NotGiven),
        ..Facts::default()
    }
}

fn basis(text: &str) -> Facts {
    Facts {
        exemption_basis: Some(text.into()),
        ..Facts::default()
    }
}

/// One outage per clause that the clause decides, as read from the documents.
fn clause_table(policy_id: &str) -> Vec<(&'static str, Option<Cause>, Facts, Verdict)> {
    use Cause::*;
    let always = |clause, cause| (clause, Some(cause), Facts::default(), Verdict::Excluded);
    let notice = |clause, cause| {
        (
            clause,
            Some(cause),
            provider_notice_before(),
            Verdict::Excluded,
        )
    };
    match policy_id {
        "tencent-im" => vec![
            always("4.1", CustomerFault),
            always("4.2", CredentialLeak),
            always("4.3", AttackOnCustomer),
            always("4.4", GuidelineViolation),
            always("4.5", CustomerNegligence),
            always("4.6", IllegalContent),
            (
                "4.7",
                Some(TrafficSurge),
                Facts {
                    audio_video_chatroom: Some(true),
                    ..no_customer_notice()
                },
                Verdict::Excluded,
            ),
            always("4.8", TrialFeature),
            notice("4.9", AnnouncedEvent),
            notice("4.10", ScheduledMaintenance),
            always("4.11", ThirdPartyNetwork),
            always("4.12", ForceMajeure),
            always("4.13", NotAttributableToProvider),
            (
                "4.14",
                Some(InvalidNumber),
                Facts::default(),
                Verdict::NeedsReview,
            ),
        ],
        "tencent-sms" => vec![
            always("4.1", CustomerFault),
            always("4.2", CredentialLeak),
            always("4.3", AttackOnCustomer),
            always("4.4", GuidelineViolation),
            always("4.5", CustomerNegligence),
            always("4.6", PlatformRuleViolation),
            always("4.7", RecipientHarassmentReport),
            always("4.8", RegulatoryControl),
            always("4.9", IllegalContent),
            (
                "4.10",
                Some(TrafficSurge),
                Facts {
                    daily_messages: Some(1_000_000),
                    account_kind: Some(AccountKind::Standard),
                    ..no_customer_notice()
                },
                Verdict::Excluded,
            ),
            always("4.11", TrialFeature),
            notice("4.12", AnnouncedEvent),
            notice("4.13", ScheduledMaintenance),
            always("4.14", ThirdPartyNetwork),
            always("4.15", ForceMajeure),
            always("4.16", NotAttributableToProvider),
            // SMS names every cause, so its catch-all is reached by a claimed exemption.
            (
                "4.17",
                Some(ScheduledMaintenance),
                basis("MIIT emergency order 2024-7"),
                Verdict::NeedsReview,
            ),
        ],
        "tencent-ccc-intl" | "tencent-ccc-cn" => vec![
            always("5.1", CustomerFault),
            always("5.2", CredentialLeak),
            always("5.3", AttackOnCustomer),
            always("5.4", GuidelineViolation),
            always("5.5", CustomerNegligence),
            always("5.6", IllegalContent),
            (
                "5.7",
                Some(TrafficSurge),
                Facts {
                    peak_qps: Some(dec("5.0")),
                    ..no_customer_notice()
                },
                Verdict::Excluded,
            ),
            always("5.8", TrialFeature),
            always("5.9", RegulatoryControl),
            always("5.10", InvalidNumber),
            notice("5.11", AnnouncedEvent),
            notice("5.12", ScheduledMaintenance),
            always("5.13", ThirdPartyNetwork),
            always("5.14", ForceMajeure),
            always("5.15", NotAttributableToProvider),
            (
                "5.16",
                Some(RecipientHarassmentReport),
                Facts::default(),
                Verdict::NeedsReview,
            ),
            always("5.17", PlatformRuleViolation),
            (
                "5.18",
                Some(PlatformRuleViolation),
                Facts {
                    number_blocked: Some(true),
                    ..Facts::default()
                },
                Verdict::Excluded,
            ),
        ],
        "tencent-trtc" => vec![
            always("4.1", CustomerFault),
            always("4.2", CustomerNegligence),
            always("4.3", CredentialLeak),
            always("4.4", AttackOnCustomer),
            always("4.5", GuidelineViolation),
            (
                "4.6",
                Some(TrafficSurge),
                Facts {
                    concurrency_surge: Some(3001),
                    ..no_customer_notice()
                },
                Verdict::Excluded,
            ),
            always("4.7", TrialFeature),
            always("4.8", IllegalContent),
            notice("4.9", AnnouncedEvent),
            notice("4.10", ScheduledMaintenance),
            always("4.11", ThirdPartyNetwork),
            always("4.12", ForceMajeure),
            always("4.13", NotAttributableToProvider),
            (
                "4.14",
                Some(RegulatoryControl),
                Facts::default(),
                Verdict::NeedsReview,
            ),
        ],
        other => panic!("no table for {other}"),
    }
}

#[test]
fn every_clause_of_every_policy_is_reached() {
    for policy_id in [
        "tencent-im",
        "tencent-sms",
        "tencent-ccc-intl",
        "tencent-trtc",
        "tencent-ccc-cn",
    ] {
        let mut reached = BTreeSet::new();
        for (clause, cause, facts, expected) in clause_table(policy_id) {
            let verdict = judge(policy_id, cause, facts);
            assert_eq!(
                verdict.verdict, expected,
                "{policy_id} {clause}: {}",
                verdict.explanation
            );
            let named = verdict.clause.as_ref().map(|c| c.id.as_str());
            assert_eq!(named, Some(clause), "{policy_id}: {}", verdict.explanation);
            assert!(
                verdict.explanation.contains(&format!("lause {clause} (")),
                "{}",
                verdict.explanation
            );
            reached.insert(clause.to_string());
        }
        let all: BTreeSet<String> = policy(policy_id)
            .clauses
            .iter()
            .map(|c| c.id.clone())
            .collect();
        assert_eq!(reached, all, "{policy_id}: every clause must be reached");
    }
}

#[test]
fn provider_fault_counts_and_an_unknown_cause_needs_review() {
    let fault = judge(
        "tencent-im",
        Some(Cause::ProviderFault),
        provider_notice_before(),
    );
    assert_eq!(
        (fault.verdict, fault.clause.is_none()),
        (Verdict::Counted, true)
    );
    let unknown = judge("tencent-im", None, Facts::default());
    assert_eq!(unknown.verdict, Verdict::NeedsReview);
    assert_eq!(unknown.missing_facts, [Fact::Cause]);
    assert_eq!(unknown.outage_id, "o-1");
}

#[test]
fn maintenance_needs_notice_given_before_the_outage_began() {
    let cases = [
        (notice_at("2024-03-11 09:59", None), Verdict::Excluded),
        (notice_at("2024-03-11 10:00", None), Verdict::Counted),
        (notice_at("2024-03-11 10:30", None), Verdict::Counted),
        (Some(Notice::NotGiven), Verdict::Counted),
        (None, Verdict::NeedsReview),
    ];
    for policy_id in [
        "tencent-im",
        "tencent-sms",
        "tencent-ccc-intl",
        "tencent-trtc",
        "tencent-ccc-cn",
    ] {
        for (notice, expected) in cases {
            for cause in [Cause::ScheduledMaintenance, Cause::AnnouncedEvent] {
                let facts = Facts {
                    provider_notice: notice,
                    ..Facts::default()
                };
                let verdict = judge(policy_id, Some(cause), facts);
                assert_eq!(
                    verdict.verdict, expected,
                    "{policy_id} {cause} {notice:?}: {}",
                    verdict.explanation
                );
                if expected == Verdict::NeedsReview {
                    assert_eq!(verdict.missing_facts, [Fact::ProviderNotice]);
                }
            }
        }
    }
}

#[test]
fn trtc_surges_turn_on_3000_concurrent_and_written_notice_five_business_days_ahead() {
    let surge = |concurrency: Option<u64>, notice: Option<Notice>| {
        judge(
            "tencent-trtc",
            Some(Cause::TrafficSurge),
            Facts {
                concurrency_surge: concurrency,
                customer_notice: notice,
                ..Facts::default()
            },
        )
    };
    // At or below 3000: counted, whatever the notice.
    assert_eq!(
        surge(Some(3000), Some(Notice::NotGiven)).verdict,
        Verdict::Counted
    );
    assert_eq!(surge(Some(3000), None).verdict, Verdict::Counted);
    // Monday 2024-03-04 is 5 business days before Monday 2024-03-11: enough, if written.
    assert_eq!(
        surge(Some(5000), notice_at("2024-03-04 18:00", Some(true))).verdict,
        Verdict::Counted
    );
    // Tuesday 2024-03-05 is only 4.
    let late = surge(Some(5000), notice_at("2024-03-05 09:00", Some(true)));
    assert_eq!(late.verdict, Verdict::Excluded);
    assert!(
        late.explanation.contains("4 business day(s)"),
        "{}",
        late.explanation
    );
    // Not in writing.
    assert_eq!(
        surge(Some(5000), notice_at("2024-03-01 09:00", Some(false))).verdict,
        Verdict::Excluded
    );
    // Writing unknown.
    let unsure = surge(Some(5000), notice_at("2024-03-01 09:00", None));
    assert_eq!(
        (unsure.verdict, unsure.missing_facts.clone()),
        (Verdict::NeedsReview, vec![Fact::CustomerNoticeWritten])
    );
    // Size unknown: a qualifying notice still decides it; no notice cannot.
    assert_eq!(
        surge(None, notice_at("2024-03-01 09:00", Some(true))).verdict,
        Verdict::Counted
    );
    let unknown = surge(None, Some(Notice::NotGiven));
    assert_eq!(
        (unknown.verdict, unknown.missing_facts.clone()),
        (Verdict::NeedsReview, vec![Fact::ConcurrencySurge])
    );
    let both = surge(None, None);
    assert_eq!(
        both.missing_facts,
        [Fact::CustomerNotice, Fact::ConcurrencySurge]
    );
}

#[test]
fn trtc_notice_days_follow_the_business_calendar() {
    // With Friday 2024-03-08 a holiday, a Monday 2024-03-04 notice is only 4 business days ahead.
    let calendar = BusinessCalendar::new("with-holiday", [day("2024-03-08")], []).unwrap();
    let context = Context {
        time_zone: Tz::Asia__Shanghai,
        calendar,
    };
    let facts = Facts {
        concurrency_surge: Some(5000),
        customer_notice: notice_at("2024-03-04 09:00", Some(true)),
        ..Facts::default()
    };
    let outage = outage(
        "o",
        start(),
        local(SHANGHAI, "2024-03-11 11:00"),
        Cause::TrafficSurge,
        facts,
    );
    let verdict = classify(&policy("tencent-trtc"), &outage, &context);
    assert_eq!(verdict.verdict, Verdict::Excluded);
    assert!(
        verdict.explanation.contains("with-holiday"),
        "{}",
        verdict.explanation
    );
}

#[test]
fn call_center_surges_turn_on_5_qps_and_prior_notice() {
    for policy_id in ["tencent-ccc-intl", "tencent-ccc-cn"] {
        let surge = |qps: &str, notice| {
            judge(
                policy_id,
                Some(Cause::TrafficSurge),
                Facts {
                    peak_qps: Some(dec(qps)),
                    customer_notice: notice,
                    ..Facts::default()
                },
            )
            .verdict
        };
        assert_eq!(surge("4.99", Some(Notice::NotGiven)), Verdict::Counted);
        assert_eq!(surge("5", Some(Notice::NotGiven)), Verdict::Excluded);
        assert_eq!(
            surge("12.5", notice_at("2024-03-11 09:00", None)),
            Verdict::Counted
        );
        assert_eq!(
            surge("12.5", notice_at("2024-03-11 10:05", None)),
            Verdict::Excluded
        );
        assert_eq!(surge("12.5", None), Verdict::NeedsReview);
    }
}

#[test]
fn sms_surges_turn_on_daily_volume_and_account_kind() {
    let surge = |messages: u64, kind: Option<AccountKind>| {
        judge(
            "tencent-sms",
            Some(Cause::TrafficSurge),
            Facts {
                daily_messages: Some(messages),
                account_kind: kind,
                ..no_customer_notice()
            },
        )
    };
    use AccountKind::*;
    assert_eq!(surge(999_999, Some(Standard)).verdict, Verdict::Counted);
    assert_eq!(surge(1_000_000, Some(Standard)).verdict, Verdict::Excluded);
    assert_eq!(surge(1_000_000, Some(Gateway)).verdict, Verdict::Counted);
    assert_eq!(surge(99_999_999, Some(Gateway)).verdict, Verdict::Counted);
    assert_eq!(surge(100_000_000, Some(Gateway)).verdict, Verdict::Excluded);
    // Without the account kind, only volumes between the two thresholds are undecided.
    assert_eq!(surge(500, None).verdict, Verdict::Counted);
    assert_eq!(surge(200_000_000, None).verdict, Verdict::Excluded);
    let unsure = surge(50_000_000, None);
    assert_eq!(
        (unsure.verdict, unsure.missing_facts.clone()),
        (Verdict::NeedsReview, vec![Fact::AccountKind])
    );
}

#[test]
fn im_surges_count_unless_they_are_unannounced_audio_visual_chatroom_surges() {
    let surge = |chatroom: Option<bool>, notice| {
        judge(
            "tencent-im",
            Some(Cause::TrafficSurge),
            Facts {
                audio_video_chatroom: chatroom,
                customer_notice: notice,
                ..Facts::default()
            },
        )
    };
    let chatroom = Some(true);
    assert_eq!(
        surge(chatroom, Some(Notice::NotGiven)).verdict,
        Verdict::Excluded
    );
    assert_eq!(
        surge(chatroom, notice_at("2024-03-10 09:00", None)).verdict,
        Verdict::Counted
    );
    assert_eq!(
        surge(chatroom, notice_at("2024-03-11 10:00", None)).verdict,
        Verdict::Excluded
    );
    assert_eq!(surge(chatroom, None).verdict, Verdict::NeedsReview);
    // A login or message storm is not 4.7's: it counts, whatever the notice.
    assert_eq!(
        surge(Some(false), Some(Notice::NotGiven)).verdict,
        Verdict::Counted
    );
    let unknown = surge(None, Some(Notice::NotGiven));
    assert_eq!(unknown.verdict, Verdict::NeedsReview);
    assert_eq!(unknown.missing_facts, [Fact::AudioVideoChatroom]);
}

#[test]
fn sms_sends_invalid_number_outages_to_review() {
    // Messages to invalid numbers must not be in the buckets at all (1.3/1.4), so no clause
    // excludes them: the catch-all 4.17 names the case for a person.
    let verdict = judge("tencent-sms", Some(Cause::InvalidNumber), Facts::default());
    assert_eq!(verdict.verdict, Verdict::NeedsReview);
    assert_eq!(verdict.clause.unwrap().id, "4.17");
}

#[test]
fn call_center_number_blocking_picks_the_narrower_clause() {
    for policy_id in ["tencent-ccc-intl", "tencent-ccc-cn"] {
        let breach = |blocked| {
            judge(
                policy_id,
                Some(Cause::PlatformRuleViolation),
                Facts {
                    number_blocked: blocked,
                    ..Facts::default()
                },
            )
        };
        assert_eq!(breach(Some(true)).clause.unwrap().id, "5.18");
        assert_eq!(breach(Some(false)).clause.unwrap().id, "5.17");
        assert_eq!(breach(None).clause.unwrap().id, "5.17");
    }
}

#[test]
fn a_claimed_exemption_sends_an_otherwise_counted_outage_to_review() {
    let late = Facts {
        provider_notice: notice_at("2024-03-11 10:30", None),
        ..basis("Service Agreement 8.2")
    };
    let verdict = judge("tencent-trtc", Some(Cause::ScheduledMaintenance), late);
    assert_eq!(verdict.verdict, Verdict::NeedsReview);
    assert_eq!(verdict.clause.unwrap().id, "4.14");
    assert!(
        verdict.explanation.contains("Service Agreement 8.2"),
        "{}",
        verdict.explanation
    );
    // An outage a specific clause excludes stays excluded.
    let excluded = judge("tencent-trtc", Some(Cause::ForceMajeure), basis("anything"));
    assert_eq!(excluded.verdict, Verdict::Excluded);
    // A provider fault is counted whatever is claimed.
    assert_eq!(
        judge("tencent-trtc", Some(Cause::ProviderFault), basis("x")).verdict,
        Verdict::Counted
    );
}

#[test]
fn explanations_name_the_instants_and_figures_that_decided() {
    let verdict = judge(
        "tencent-ccc-cn",
        Some(Cause::TrafficSurge),
        Facts {
            peak_qps: Some(Decimal::new(42, 1)),
            ..no_customer_notice()
        },
    );
    assert_eq!(verdict.verdict, Verdict::Counted);
    assert!(
        verdict
            .explanation
            .contains("4.2 is not at least the 5.0 threshold"),
        "{}",
        verdict.explanation
    );
    let verdict = judge(
        "tencent-im",
        Some(Cause::ScheduledMaintenance),
        Facts {
            provider_notice: notice_at("2024-03-11 10:30", None),
            ..Facts::default()
        },
    );
    assert!(
        verdict.explanation.contains("2024-03-11T02:30:00Z"),
        "{}",
        verdict.explanation
    );
}
