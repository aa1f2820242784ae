//! The library of public SLAs and the terms they brought, through a real server: each built-in
//! public policy evaluates a month built from its document's definitions, with the expected
//! availability, tier and amount worked by hand below; the format's example of every new key
//! (docs/policy-format.md, "Example: a public SLA's terms") is loaded and evaluated key by key;
//! outages carry causes a policy declares; the command line and the claim report show the terms.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::cli::{Files, arg, refused, sla, stdout};
use common::requests::{instant, spec_message};
use common::server::TestServer;
use sla_evaluator::api::pb::{self, evaluate_request::Item};
use sla_evaluator::limits::Limits;
use sla_evaluator::policy::PolicySet;
use tonic::Code;
use tonic_types::StatusExt;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// 2024-04-01T00:00:00Z.
const APRIL_2024_UTC: i64 = 1_711_929_600;
/// 2024-03-01T00:00:00Z.
const MARCH_2024_UTC: i64 = 1_709_251_200;
/// 2025-01-01T00:00:00Z.
const JANUARY_2025_UTC: i64 = 1_735_689_600;

/// The format's example of every new key, from docs/policy-format.md.
fn example_public() -> String {
    let doc = std::fs::read_to_string(Path::new(ROOT).join("docs/policy-format.md")).unwrap();
    doc.split("```toml\n")
        .filter_map(|block| block.split("```").next())
        .find(|block| block.starts_with("id = \"example-public\""))
        .expect("docs/policy-format.md has the example-public file")
        .to_string()
}

/// The same policy without its claim window: what a document whose deadline could not be
/// confirmed becomes.
fn example_silent() -> String {
    let text = example_public().replace("id = \"example-public\"", "id = \"example-silent\"");
    let start = text
        .find("# \"by the end of the second billing cycle")
        .unwrap();
    let end = text.find("[[causes]]").unwrap();
    format!("{}{}", &text[..start], &text[end..])
}

/// A server with the built-in policies and the two examples.
fn server_with_examples(files: &Files) -> TestServer {
    files.write("example-public.toml", &example_public());
    files.write("example-silent.toml", &example_silent());
    let policies = PolicySet::built_in()
        .unwrap()
        .with_directory(files.dir())
        .unwrap();
    TestServer::start_with(policies, Limits::default())
}

/// `minutes` one-minute buckets from `first` (Unix seconds), each of `total` attempts with
/// `failed` failures.
fn minutes(first: i64, minutes: i64, total: u64, failed: u64) -> pb::EvaluateRequest {
    pb::EvaluateRequest {
        item: Some(Item::Columns(pb::BucketColumns {
            duration_seconds: 60,
            start_unix_seconds: (0..minutes).map(|m| first + 60 * m).collect(),
            total: vec![total; minutes as usize],
            failed: vec![failed; minutes as usize],
            ..Default::default()
        })),
    }
}

/// A spec over `[start, end]` in UTC with one fee in `currency`, as of 2026.
fn spec(policy_id: &str, start: &str, end: &str, currency: &str, paid: &str) -> pb::EvaluationSpec {
    pb::EvaluationSpec {
        policy_id: policy_id.into(),
        term_start: start.into(),
        term_end: end.into(),
        time_zone: "UTC".into(),
        currency: currency.into(),
        fees: vec![pb::MonthlyFee {
            month_start: start.into(),
            paid: paid.into(),
            deductions: String::new(),
        }],
        as_of: Some(instant("2026-01-01T00:00:00Z")),
        ..Default::default()
    }
}

fn outage(id: &str, start: i64, end: i64, policy_cause: &str) -> pb::Outage {
    pb::Outage {
        id: id.into(),
        start: Some(prost_types::Timestamp {
            seconds: start,
            nanos: 0,
        }),
        end: Some(prost_types::Timestamp {
            seconds: end,
            nanos: 0,
        }),
        cause: pb::Cause::Unspecified as i32,
        facts: None,
        policy_cause: policy_cause.into(),
    }
}

async fn evaluate(
    server: &TestServer,
    messages: Vec<pb::EvaluateRequest>,
) -> Result<pb::EvaluateResponse, tonic::Status> {
    server
        .client()
        .await
        .evaluate(tokio_stream::iter(messages))
        .await
        .map(|r| r.into_inner())
}

/// `status` is INVALID_ARGUMENT on `field` and its message says `words`.
fn assert_invalid(status: &tonic::Status, field: &str, words: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{}", status.message());
    let details = status.get_error_details();
    let violations = &details.bad_request().expect("BadRequest").field_violations;
    assert_eq!(violations[0].field, field, "{}", status.message());
    assert!(
        status.message().contains(words),
        "'{}' should say '{words}'",
        status.message()
    );
}

fn note_kinds(month: &pb::MonthReport) -> Vec<pb::NoteKind> {
    month.notes.iter().map(|n| n.kind()).collect()
}

fn note(month: &pb::MonthReport, kind: pb::NoteKind) -> &str {
    &month
        .notes
        .iter()
        .find(|n| n.kind() == kind)
        .unwrap_or_else(|| panic!("no {kind:?} note in {:?}", month.notes))
        .text
}

// The library, one month per policy built from its document's definitions.

/// "Cloud Functions Service Level Agreement (SLA)", 2018-04-06: April 2024 in UTC, 30 days =
/// 43,200 minutes, every minute measured with 1,000 executions and no errors except:
/// - minutes 0-249: 150 errors of 1,000, an Error Rate of 15%, "more than a ten percent Error
///   Rate": 250 Downtime minutes;
/// - minutes 1,000-1,029: 100 errors of 1,000, exactly 10%, not "more than" 10%: not Downtime;
/// - minutes 2,000-2,059: 99 executions, all failed, under "a minimum of 100 attempted
///   executions": not judged, available (60 slices under min_attempts).
///
/// Monthly Uptime Percentage = (43,200 − 250) / 43,200 = 42,950 / 43,200 = 99.421296…%, shown
/// truncated as 99.4212; below the 99.5% SLO and in "99% to < 99.5%": tier 1, 10% of the monthly
/// bill: 10% × 200.00 USD = 20.00 USD, credited to future bills. Budget: 99.5% of 43,200 is
/// 42,984 good minutes, so 216 bad minutes were allowed (none left); tier 2 (< 99%) starts past
/// 43,200 − 42,768 = 432 bad minutes, 183 more than 250; tier 3 (< 95%) past 2,160, 1,911 more.
/// Claims: "within 30 days" from "the close of the month": May 1 to May 30.
#[tokio::test]
async fn google_cloud_functions_month_from_its_definitions() {
    let server = TestServer::start();
    let start = APRIL_2024_UTC;
    let messages = vec![
        spec_message(spec(
            "google-cloud-functions",
            "2024-04-01",
            "2024-04-30",
            "USD",
            "200.00",
        )),
        minutes(start, 250, 1000, 150),
        minutes(start + 60 * 250, 750, 1000, 0),
        minutes(start + 60 * 1000, 30, 1000, 100),
        minutes(start + 60 * 1030, 970, 1000, 0),
        minutes(start + 60 * 2000, 60, 99, 99),
        minutes(start + 60 * 2060, 43_200 - 2060, 1000, 0),
    ];
    let response = evaluate(&server, messages).await.unwrap();
    let month = &response.months[0];
    assert_eq!(month.total_units, 43_200);
    assert_eq!(month.bad_units, 250);
    assert_eq!(month.availability_percent, "99.4212");
    assert_eq!(
        (month.availability_numerator, month.availability_denominator),
        (42_950, 43_200)
    );
    assert_eq!(month.slices_under_min_attempts, 60);
    assert!(!month.standard_met);
    assert_eq!(month.status(), pb::MonthStatus::NotMet);
    assert_eq!((month.tier, month.compensation_percent.as_str()), (1, "10"));
    assert_eq!(month.compensation_amount, "20.00");
    assert_eq!(month.compensation_minor_units, 2000);
    assert_eq!(
        month.compensation_form(),
        pb::CompensationForm::ServiceCredit
    );
    assert_eq!(
        (
            month.claim_opens_on.as_str(),
            month.claim_closes_on.as_str()
        ),
        ("2024-05-01", "2024-05-30")
    );
    let budget = month.budget.as_ref().unwrap();
    assert_eq!(
        (budget.bad_units_allowed, budget.bad_units_remaining),
        (216, 0)
    );
    let until: Vec<u64> = budget.tiers.iter().map(|t| t.bad_units_until).collect();
    assert_eq!(until, [0, 183, 1911]);
    // Nothing in this document's terms holds a credit back or leaves a window unstated.
    assert!(
        !note_kinds(month).iter().any(|k| matches!(
            k,
            pb::NoteKind::Capped
                | pb::NoteKind::BelowMinAmount
                | pb::NoteKind::ClaimWindowNotStated
        )),
        "{:?}",
        month.notes
    );
}

/// "DigitalOcean CPU Droplet SLA" (2025-06-03): April 2024 in UTC, 43,200 minutes, every minute
/// probed twice. Minutes 0-4 lost every probe: 5 Minutes of Unavailability. Minute 10 lost one
/// probe of two, which is not a loss of connectivity. Minutes 100-109 lost every probe during
/// scheduled maintenance, which the SLA "does not cover": 10 excluded minutes.
///
/// Monthly Uptime Percentage = (43,200 − 5) / 43,200 = 99.988425…%, shown 99.9884: "less than
/// 99.99%", the one tier, 100% of the Droplet's 12.00 USD = 12.00 USD, "credited towards future
/// invoices". 99.99% of 43,200 is 43,195.68, so 43,196 good minutes are needed: 4 unavailable
/// minutes would have met the commitment (the budget allows 4), the fifth missed it.
#[tokio::test]
async fn digitalocean_droplet_month_from_its_definitions() {
    let server = TestServer::start();
    let start = APRIL_2024_UTC;
    let maintenance = pb::Outage {
        cause: pb::Cause::ScheduledMaintenance as i32,
        ..outage("maint", start + 60 * 100, start + 60 * 110, "")
    };
    let messages = vec![
        spec_message(spec(
            "digitalocean-droplet",
            "2024-04-01",
            "2024-04-30",
            "USD",
            "12.00",
        )),
        minutes(start, 5, 2, 2),
        minutes(start + 60 * 5, 5, 2, 0),
        minutes(start + 60 * 10, 1, 2, 1),
        minutes(start + 60 * 11, 89, 2, 0),
        minutes(start + 60 * 100, 10, 2, 2),
        minutes(start + 60 * 110, 43_200 - 110, 2, 0),
        pb::EvaluateRequest {
            item: Some(Item::Outage(maintenance)),
        },
    ];
    let response = evaluate(&server, messages).await.unwrap();
    assert_eq!(response.outages[0].verdict(), pb::Verdict::Excluded);
    assert_eq!(response.outages[0].clause_id, "exclusions-maintenance");
    let month = &response.months[0];
    assert_eq!((month.bad_units, month.excluded_units), (5, 10));
    assert_eq!(month.availability_percent, "99.9884");
    assert!(!month.standard_met);
    assert_eq!(
        (month.tier, month.compensation_percent.as_str()),
        (1, "100")
    );
    assert_eq!(month.compensation_amount, "12.00");
    assert_eq!(
        month.compensation_form(),
        pb::CompensationForm::ServiceCredit
    );
    assert_eq!(month.budget.as_ref().unwrap().bad_units_allowed, 4);
    assert!(note_kinds(month).contains(&pb::NoteKind::ClaimWindowNotStated));
}

/// Supabase's maintenance outage from `start` for `minutes` minutes, with the provider's notice
/// given `hours_before` hours before it began, written or not (None: not known).
fn supabase_maintenance(
    id: &str,
    start: i64,
    minutes: i64,
    hours_before: i64,
    written: Option<bool>,
) -> pb::Outage {
    pb::Outage {
        cause: pb::Cause::ScheduledMaintenance as i32,
        facts: Some(pb::OutageFacts {
            provider_notice: Some(pb::Notice {
                status: pb::NoticeStatus::Given as i32,
                given_at: Some(prost_types::Timestamp {
                    seconds: start - 3600 * hours_before,
                    nanos: 0,
                }),
                written,
            }),
            ..Default::default()
        }),
        ..outage(id, start, start + 60 * minutes, "")
    }
}

/// "Service Level Agreement | Supabase" (Enterprise Platform Uptime SLA, the page's source at
/// commit 741e6bb): April 2024 in UTC, 43,200 minutes, every minute probed 10 times, all answered
/// except:
/// - minutes 0-59: every probe failed, "not generally accessible": 60 minutes of Unscheduled
///   Downtime;
/// - minute 100: 5 of 10 failed, still generally accessible: not Downtime;
/// - minutes 200-229: every probe failed in scheduled maintenance "disclosed with at least 24
///   hours' notice by email" (the email came 25 hours before): excluded, 30 minutes;
/// - minutes 300-309: every probe failed in scheduled maintenance announced by email only 2 hours
///   before: not excluded, 10 minutes of Downtime;
/// - minutes 400-404: every probe failed in a "hacking or virus attack", a cause of this policy's
///   own: excluded, 5 minutes.
///
/// Actual Availability = (43,200 − 70) / 43,200 = 43,130 / 43,200 = 99.837962…%, shown 99.8379:
/// "Less than 99.9% but greater than or equal to 99.0%", 10% of the month's 100.00 USD = 10.00
/// USD, "only used against future billing charges". 99.9% of 43,200 is 43,156.8 good minutes, so
/// 43 bad minutes were allowed. Claims "within thirty (30) days of the end of the month": May 1
/// to May 30.
#[tokio::test]
async fn supabase_enterprise_month_from_its_definitions() {
    let server = TestServer::start();
    let start = APRIL_2024_UTC;
    let at = |minute: i64| start + 60 * minute;
    let messages = vec![
        spec_message(spec(
            "supabase-enterprise-platform",
            "2024-04-01",
            "2024-04-30",
            "USD",
            "100.00",
        )),
        minutes(start, 60, 10, 10),
        minutes(at(60), 40, 10, 0),
        minutes(at(100), 1, 10, 5),
        minutes(at(101), 99, 10, 0),
        minutes(at(200), 30, 10, 10),
        minutes(at(230), 70, 10, 0),
        minutes(at(300), 10, 10, 10),
        minutes(at(310), 90, 10, 0),
        minutes(at(400), 5, 10, 10),
        minutes(at(405), 43_200 - 405, 10, 0),
        pb::EvaluateRequest {
            item: Some(Item::Outage(supabase_maintenance(
                "noticed",
                at(200),
                30,
                25,
                Some(true),
            ))),
        },
        pb::EvaluateRequest {
            item: Some(Item::Outage(supabase_maintenance(
                "late",
                at(300),
                10,
                2,
                Some(true),
            ))),
        },
        pb::EvaluateRequest {
            item: Some(Item::Outage(outage(
                "attack",
                at(400),
                at(405),
                "hacking_or_virus_attack",
            ))),
        },
    ];
    let response = evaluate(&server, messages).await.unwrap();
    let verdicts: Vec<(&str, pb::Verdict, &str)> = response
        .outages
        .iter()
        .map(|o| (o.outage_id.as_str(), o.verdict(), o.clause_id.as_str()))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("noticed", pb::Verdict::Excluded, "4.2-maintenance"),
            ("late", pb::Verdict::Counted, "4.2-maintenance"),
            ("attack", pb::Verdict::Excluded, "4.2-attacks"),
        ]
    );
    assert!(
        response.outages[1]
            .explanation
            .contains("less than the 24 hour(s)"),
        "{}",
        response.outages[1].explanation
    );
    let month = &response.months[0];
    assert_eq!((month.bad_units, month.excluded_units), (70, 35));
    assert_eq!(month.availability_percent, "99.8379");
    assert_eq!(
        (month.availability_numerator, month.availability_denominator),
        (43_130, 43_200)
    );
    assert_eq!(month.status(), pb::MonthStatus::NotMet);
    assert_eq!((month.tier, month.compensation_percent.as_str()), (1, "10"));
    assert_eq!(month.compensation_amount, "10.00");
    assert_eq!(
        month.compensation_form(),
        pb::CompensationForm::ServiceCredit
    );
    assert_eq!(month.budget.as_ref().unwrap().bad_units_allowed, 43);
    assert_eq!(
        (
            month.claim_opens_on.as_str(),
            month.claim_closes_on.as_str()
        ),
        ("2024-05-01", "2024-05-30")
    );

    // The notice's form decides too: not known whether it was an email, a person must look.
    let classified = server
        .client()
        .await
        .classify_outages(pb::ClassifyOutagesRequest {
            policy_id: "supabase-enterprise-platform".into(),
            outages: vec![
                supabase_maintenance("unknown-form", at(200), 30, 25, None),
                supabase_maintenance("not-written", at(200), 30, 25, Some(false)),
            ],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let unknown = &classified.verdicts[0];
    assert_eq!(unknown.verdict(), pb::Verdict::NeedsReview);
    assert_eq!(unknown.missing_facts, ["facts.provider_notice.written"]);
    assert_eq!(classified.verdicts[1].verdict(), pb::Verdict::Counted);

    // GetPolicy shows what the clause asks of the notice.
    let policy = server
        .client()
        .await
        .get_policy(pb::GetPolicyRequest {
            policy_id: "supabase-enterprise-platform".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let maintenance = policy
        .clauses
        .iter()
        .find(|c| c.id == "4.2-maintenance")
        .unwrap();
    assert_eq!(
        maintenance.provider_notice,
        Some(pb::ProviderNoticeRule {
            must_be_written: true,
            hours_ahead: 24
        })
    );
    assert!(policy.clauses.iter().all(
        |c| (c.condition() == pb::ConditionKind::ProviderNotice) == c.provider_notice.is_some()
    ));
}

/// "Database-as-a-Service Service Level Agreement", PlanetScale, last updated 2019-02-15: April
/// 2024 in UTC, 43,200 one-minute periods, each with 20 connection requests. In minutes 0-29
/// "all connection requests ... fail": 30 minutes Unavailable. In minutes 50-59, 19 of 20 failed:
/// not all, so not Unavailable.
///
/// Monthly Uptime Percentage = 100% − 30 / 43,200 = 43,170 / 43,200 = 99.930555…%, shown
/// 99.9305: "Less than 99.95% but equal to or greater than 99.0%", 10%. On a fee of 100.00 USD
/// that is 10.00 USD, credited against future payments. On a fee of 10.00 USD it is 1.00 USD,
/// not "greater than one dollar ($1 USD)": the month reports 0.00 with a BELOW_MIN_AMOUNT note.
/// The claim deadline counts 30 days from the incident, which no claim window rule expresses, so
/// the policy states none. 99.95% of 43,200 is 43,178.4 good minutes: 21 bad minutes allowed.
#[tokio::test]
async fn planetscale_month_from_its_definitions_and_its_one_dollar_minimum() {
    let server = TestServer::start();
    let start = APRIL_2024_UTC;
    let month_for = |paid: &str| {
        vec![
            spec_message(spec(
                "planetscale-dbaas",
                "2024-04-01",
                "2024-04-30",
                "USD",
                paid,
            )),
            minutes(start, 30, 20, 20),
            minutes(start + 60 * 30, 20, 20, 0),
            minutes(start + 60 * 50, 10, 20, 19),
            minutes(start + 60 * 60, 43_200 - 60, 20, 0),
        ]
    };
    let response = evaluate(&server, month_for("100.00")).await.unwrap();
    let month = &response.months[0];
    assert_eq!(month.bad_units, 30);
    assert_eq!(month.availability_percent, "99.9305");
    assert_eq!(month.status(), pb::MonthStatus::NotMet);
    assert_eq!((month.tier, month.compensation_percent.as_str()), (1, "10"));
    assert_eq!(month.compensation_amount, "10.00");
    assert_eq!(
        month.compensation_form(),
        pb::CompensationForm::ServiceCredit
    );
    assert_eq!(month.budget.as_ref().unwrap().bad_units_allowed, 21);
    assert!(note_kinds(month).contains(&pb::NoteKind::ClaimWindowNotStated));
    assert!(month.claim_opens_on.is_empty() && month.claim_closes_on.is_empty());

    let response = evaluate(&server, month_for("10.00")).await.unwrap();
    let month = &response.months[0];
    assert_eq!((month.tier, month.compensation_percent.as_str()), (1, "10"));
    assert_eq!(month.compensation_amount, "0.00");
    let below = note(month, pb::NoteKind::BelowMinAmount);
    assert!(
        below.contains("The credit of 1.00 is not above the policy's minimum of 1.00 USD"),
        "{below}"
    );
    // "$1 USD" fixes the currency: fees in euros cannot be compared with it.
    let mut euros = month_for("100.00");
    if let Some(Item::Spec(spec)) = &mut euros[0].item {
        spec.currency = "EUR".into();
    }
    let status = evaluate(&server, euros).await.unwrap_err();
    assert_invalid(&status, "spec.currency", "USD");
}

/// "Xata Service Level Agreement (SLA)" (Pro plan, the page's source at commit 055b303): March
/// 2024 in UTC, 31 days = 44,640 one-minute intervals, each with 4 connection requests to the
/// main branch. In minutes 0-446 all four failed: 447 intervals "Unavailable". Minutes 1,000-1,099
/// were in an Alpha feature, excluded ("Functionality marked as Alpha or Beta is not part of the
/// SLA"), though every request failed.
///
/// Availability = (44,640 − 447) / 44,640 = 44,193 / 44,640 = 98.998655…%, shown 98.9986: just
/// under 99.0%, so "Less than 99.0% but equal to or greater than 95.0%": 25% of 40.00 USD = 10.00
/// USD in Service Credits. One interval fewer (446) would have been 99.000896…%, the 10% tier.
/// Claims "within thirty (30) days of the end of the billing cycle": April 1 to April 30.
#[tokio::test]
async fn xata_month_from_its_definitions() {
    let server = TestServer::start();
    let start = MARCH_2024_UTC;
    let beta = pb::Outage {
        cause: pb::Cause::TrialFeature as i32,
        ..outage("beta", start + 60 * 1000, start + 60 * 1100, "")
    };
    let messages = vec![
        spec_message(spec("xata-pro", "2024-03-01", "2024-03-31", "USD", "40.00")),
        minutes(start, 447, 4, 4),
        minutes(start + 60 * 447, 1000 - 447, 4, 0),
        minutes(start + 60 * 1000, 100, 4, 4),
        minutes(start + 60 * 1100, 44_640 - 1100, 4, 0),
        pb::EvaluateRequest {
            item: Some(Item::Outage(beta)),
        },
    ];
    let response = evaluate(&server, messages).await.unwrap();
    assert_eq!(response.outages[0].clause_id, "exclusions-alpha-beta");
    let month = &response.months[0];
    assert_eq!((month.bad_units, month.excluded_units), (447, 100));
    assert_eq!(month.total_units, 44_640);
    assert_eq!(month.availability_percent, "98.9986");
    assert_eq!((month.tier, month.compensation_percent.as_str()), (2, "25"));
    assert_eq!(month.compensation_amount, "10.00");
    assert_eq!(
        (
            month.claim_opens_on.as_str(),
            month.claim_closes_on.as_str()
        ),
        ("2024-04-01", "2024-04-30")
    );
}

#[tokio::test]
async fn list_policies_shows_the_library_after_the_tencent_policies() {
    let server = TestServer::start();
    let list = server
        .client()
        .await
        .list_policies(pb::ListPoliciesRequest {})
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = list.policies.iter().map(|p| p.id.as_str()).collect();
    assert!(
        ids[..5].iter().all(|id| id.starts_with("tencent-")),
        "{ids:?}"
    );
    for id in [
        "digitalocean-droplet",
        "google-cloud-functions",
        "planetscale-dbaas",
        "supabase-enterprise-platform",
        "xata-pro",
    ] {
        assert!(ids.contains(&id), "{ids:?}");
    }
    let functions = list
        .policies
        .iter()
        .find(|p| p.id == "google-cloud-functions")
        .unwrap();
    let source = functions.source.as_ref().unwrap();
    assert_eq!(
        source.file,
        "https://cloud.google.com/functions/sla-20180406"
    );
    assert_eq!(source.last_updated, "2018-04-06");
    let window = functions.claim_window.as_ref().unwrap();
    assert!(window.opens_after_period);
    assert_eq!(
        (window.opens_after_business_day, window.closes_after_days),
        (0, 30)
    );
}

// Every new key, through the format's example file.

/// The example's terms as GetPolicy shows them.
#[tokio::test]
async fn get_policy_shows_every_new_term() {
    let files = Files::new();
    let server = server_with_examples(&files);
    let policy = server
        .client()
        .await
        .get_policy(pb::GetPolicyRequest {
            policy_id: "example-public".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(policy.standard_met_only_above);
    assert_eq!(
        policy.compensation_form(),
        pb::CompensationForm::ServiceCredit
    );
    let limits = policy.credit_limits.as_ref().unwrap();
    assert_eq!(
        (
            limits.min_amount.as_str(),
            limits.min_amount_currency.as_str(),
            limits.min_amount_only_above,
            limits.cap_percent.as_str()
        ),
        ("1.00", "USD", true, "50")
    );
    let bands: Vec<(&str, &str, &str, &str)> = policy
        .tiers
        .iter()
        .map(|t| {
            (
                t.above_percent.as_str(),
                t.at_most_percent.as_str(),
                t.at_least_percent.as_str(),
                t.below_percent.as_str(),
            )
        })
        .collect();
    assert_eq!(
        bands,
        [
            ("99", "99.9", "", ""),
            ("95", "99", "", ""),
            ("0", "95", "", "")
        ]
    );
    let window = policy.claim_window.as_ref().unwrap();
    assert!(window.opens_after_period);
    assert_eq!(window.closes_at_end_of_month, 2);
    assert_eq!(policy.causes[0].id, "account_suspension");
    assert_eq!(policy.clauses[0].policy_cause, "account_suspension");
    assert_eq!(policy.clauses[0].cause(), pb::Cause::Unspecified);
    assert_eq!(policy.clauses[1].cause(), pb::Cause::ForceMajeure);
    // A built-in Tencent policy shows none of them: its answer is as before.
    let im = server
        .client()
        .await
        .get_policy(pb::GetPolicyRequest {
            policy_id: "tencent-im".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!im.standard_met_only_above && im.credit_limits.is_none() && im.causes.is_empty());
    assert_eq!(im.claim_window.unwrap().opens_after_business_day, 5);
}

/// January 1-25, 2025 in UTC: 25 days, 36,000 minutes, every minute measured with 100 calls.
/// Minutes 0-35 are bad (10 failures of 100: 90% success, below the 95% bound): 36 bad minutes.
/// Minutes 100-159 are bad too, but inside an outage of the policy's own cause
/// `account_suspension`, which clause `exclusions-i` excludes: 60 excluded minutes.
///
/// Availability = (36,000 − 36) / 36,000 = 99.9% exactly. `standard_met_at = "above"`: a month
/// exactly at 99.9% misses the standard, and `(99, 99.9]` holds it: tier 1, 10%. Of a 10.00 USD
/// fee that is 1.00 USD, and a credit is paid only when "greater than one dollar": nothing is paid,
/// with a note. Of 10.10 USD it is 1.01 USD, paid. Budget: only months above 99.9% meet the
/// standard, i.e. more than 35,964 good minutes, so 35 bad minutes were allowed. Claims open the
/// day after the term's last day (January 26) and close at the end of the second calendar month
/// after January: March 31.
#[tokio::test]
async fn a_month_exactly_at_a_standard_met_only_above_earns_its_tier_and_a_dollar_is_not_paid() {
    let files = Files::new();
    let server = server_with_examples(&files);
    let start = JANUARY_2025_UTC;
    let month_of = |paid: &str| {
        vec![
            spec_message(spec(
                "example-public",
                "2025-01-01",
                "2025-01-25",
                "USD",
                paid,
            )),
            minutes(start, 36, 100, 10),
            minutes(start + 60 * 36, 64, 100, 0),
            minutes(start + 60 * 100, 60, 100, 10),
            minutes(start + 60 * 160, 36_000 - 160, 100, 0),
            pb::EvaluateRequest {
                item: Some(Item::Outage(outage(
                    "suspended",
                    start + 60 * 100,
                    start + 60 * 160,
                    "account_suspension",
                ))),
            },
        ]
    };
    let response = evaluate(&server, month_of("10.00")).await.unwrap();
    let verdict = &response.outages[0];
    assert_eq!(verdict.verdict(), pb::Verdict::Excluded);
    assert_eq!(verdict.clause_id, "exclusions-i");
    let month = &response.months[0];
    assert_eq!((month.bad_units, month.excluded_units), (36, 60));
    assert_eq!(month.availability_percent, "99.9000");
    assert!(!month.standard_met);
    assert_eq!((month.tier, month.compensation_percent.as_str()), (1, "10"));
    assert_eq!(month.compensation_amount, "0.00");
    assert!(
        note(month, pb::NoteKind::BelowMinAmount).contains("credit of 1.00 is not above"),
        "{:?}",
        month.notes
    );
    assert_eq!(month.budget.as_ref().unwrap().bad_units_allowed, 35);
    assert_eq!(
        (
            month.claim_opens_on.as_str(),
            month.claim_closes_on.as_str()
        ),
        ("2025-01-26", "2025-03-31")
    );
    // The claim report words the terms: the standard's edge, the half-closed band, the form and
    // the note.
    let policies = PolicySet::built_in()
        .unwrap()
        .with_directory(files.dir())
        .unwrap();
    let page = sla_evaluator::render::html(
        &response,
        policies.get("example-public").map(|p| &**p),
        None,
    );
    for words in [
        "above 99.9%: missed",
        "(availability above 99% up to 99.9%)",
        "a credit against future bills",
        "Below the minimum credit",
        "2025-01-26 to 2025-03-31",
    ] {
        assert!(page.contains(words), "the claim report lacks {words}");
    }

    let response = evaluate(&server, month_of("10.10")).await.unwrap();
    let month = &response.months[0];
    assert_eq!(month.compensation_amount, "1.01");
    assert!(!note_kinds(month).contains(&pb::NoteKind::BelowMinAmount));
    assert_eq!(response.total_compensation, "1.01");
}

/// The same 36,000 minutes with 360 bad ones: 35,640 / 36,000 = 99% exactly, the upper bound of
/// `(95, 99]` (included) and the lower bound of `(99, 99.9]` (excluded): tier 2, 25% of 100.00 USD
/// = 25.00 USD. With 2,000 bad minutes: 34,000 / 36,000 = 94.4444%, in `[0, 95]`: tier 3, 100% of
/// the fee, 100.00 USD, cut by the 50% cap to 50.00 USD, with a note.
#[tokio::test]
async fn half_closed_tiers_hold_their_upper_bound_and_the_cap_cuts_the_bottom_tier() {
    let files = Files::new();
    let server = server_with_examples(&files);
    let start = JANUARY_2025_UTC;
    let with_bad = |bad: i64| {
        vec![
            spec_message(spec(
                "example-public",
                "2025-01-01",
                "2025-01-25",
                "USD",
                "100.00",
            )),
            minutes(start, bad, 100, 10),
            minutes(start + 60 * bad, 36_000 - bad, 100, 0),
        ]
    };
    let response = evaluate(&server, with_bad(360)).await.unwrap();
    let month = &response.months[0];
    assert_eq!(month.availability_percent, "99.0000");
    assert_eq!(
        (month.tier, month.compensation_amount.as_str()),
        (2, "25.00")
    );

    let response = evaluate(&server, with_bad(2000)).await.unwrap();
    let month = &response.months[0];
    assert_eq!(month.availability_percent, "94.4444");
    assert_eq!(
        (month.tier, month.compensation_percent.as_str()),
        (3, "100")
    );
    assert_eq!(month.compensation_amount, "50.00");
    assert!(
        note(month, pb::NoteKind::Capped).contains("cap of 50% of the eligible fee 100.00"),
        "{:?}",
        month.notes
    );
}

#[tokio::test]
async fn fees_in_another_currency_than_the_minimums_are_refused() {
    let files = Files::new();
    let server = server_with_examples(&files);
    let status = evaluate(
        &server,
        vec![spec_message(spec(
            "example-public",
            "2025-01-01",
            "2025-01-25",
            "EUR",
            "10.00",
        ))],
    )
    .await
    .unwrap_err();
    assert_invalid(
        &status,
        "spec.currency",
        "fixes its minimum credit of 1.00 in",
    );
    assert!(status.message().contains("USD"), "{}", status.message());
}

#[tokio::test]
async fn an_outage_naming_a_cause_its_policy_does_not_declare_is_refused() {
    let files = Files::new();
    let server = server_with_examples(&files);
    let start = JANUARY_2025_UTC;
    // Evaluate: the stream ends at the outage, naming the causes the policy declares.
    let status = evaluate(
        &server,
        vec![
            spec_message(spec(
                "example-public",
                "2025-01-01",
                "2025-01-25",
                "USD",
                "10.00",
            )),
            pb::EvaluateRequest {
                item: Some(Item::Outage(outage(
                    "typo",
                    start,
                    start + 3600,
                    "account_suspended",
                ))),
            },
        ],
    )
    .await
    .unwrap_err();
    assert_invalid(
        &status,
        "outage.policy_cause",
        "declares no cause 'account_suspended'; its own causes are: account_suspension",
    );
    // ClassifyOutages: the same, at the outage's index; a declared cause is excluded.
    let classify = |outages: Vec<pb::Outage>, policy_id: &str| {
        let server = &server;
        let policy_id = policy_id.to_string();
        async move {
            server
                .client()
                .await
                .classify_outages(pb::ClassifyOutagesRequest {
                    policy_id,
                    outages,
                    ..Default::default()
                })
                .await
        }
    };
    let status = classify(
        vec![
            outage("ok", start, start + 3600, "account_suspension"),
            outage("typo", start, start + 3600, "acount_suspension"),
        ],
        "example-public",
    )
    .await
    .unwrap_err();
    assert_invalid(
        &status,
        "outages[1].policy_cause",
        "its own causes are: account_suspension",
    );
    // A Tencent policy declares none.
    let status = classify(
        vec![outage("x", start, start + 3600, "account_suspension")],
        "tencent-im",
    )
    .await
    .unwrap_err();
    assert_invalid(
        &status,
        "outages[0].policy_cause",
        "its own causes are: none",
    );
    // An outage has one cause.
    let mut both = outage("both", start, start + 3600, "account_suspension");
    both.cause = pb::Cause::ForceMajeure as i32;
    let status = classify(vec![both], "example-public").await.unwrap_err();
    assert_invalid(&status, "outages[0].policy_cause", "both set");
    let answer = classify(
        vec![outage("ok", start, start + 3600, "account_suspension")],
        "example-public",
    )
    .await
    .unwrap()
    .into_inner();
    assert_eq!(answer.verdicts[0].verdict(), pb::Verdict::Excluded);
    assert_eq!(answer.verdicts[0].clause_id, "exclusions-i");
    assert!(
        answer.verdicts[0]
            .explanation
            .contains("account_suspension"),
        "{}",
        answer.verdicts[0].explanation
    );
}

/// A policy without `[claim_window]`: its months carry no claim dates and a note, and the claim
/// report says the policy states none.
#[tokio::test]
async fn a_policy_that_states_no_claim_window_gives_no_dates() {
    let files = Files::new();
    let server = server_with_examples(&files);
    let response = evaluate(
        &server,
        vec![
            spec_message(spec(
                "example-silent",
                "2025-01-01",
                "2025-01-25",
                "USD",
                "10.00",
            )),
            minutes(JANUARY_2025_UTC, 36_000, 100, 0),
        ],
    )
    .await
    .unwrap();
    let month = &response.months[0];
    assert_eq!(
        (
            month.claim_opens_on.as_str(),
            month.claim_closes_on.as_str()
        ),
        ("", "")
    );
    assert!(note(month, pb::NoteKind::ClaimWindowNotStated).contains("no claim dates"));
    let policies = PolicySet::built_in()
        .unwrap()
        .with_directory(files.dir())
        .unwrap();
    let page = sla_evaluator::render::html(
        &response,
        policies.get("example-silent").map(|p| &**p),
        None,
    );
    assert!(
        page.contains("not stated by the policy"),
        "the claim report should say the window is not stated"
    );
    assert!(
        page.contains("No claim window stated"),
        "the note's heading"
    );
}

// The command line.

#[test]
fn the_command_line_lists_the_library_and_shows_and_classifies_by_the_new_terms() {
    let files = Files::new();
    let policies = files.path("policies");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(policies.join("example-public.toml"), example_public()).unwrap();

    let list = stdout(sla(&["policies", "list", "--format", "table"]));
    assert!(list.contains("google-cloud-functions"), "{list}");
    let show = stdout(sla(&[
        "policies",
        "show",
        "example-public",
        "--policy-dir",
        arg(&policies),
        "--format",
        "csv",
    ]));
    for expected in [
        "standard,above 99.9%",
        "tier 1,\"(99%, 99.9%] → 10%\"",
        "tier 3,\"[0%, 95%] → 100%\"",
        "credit minimum,above 1.00 USD: a smaller credit is not paid",
        "credit cap,50% of the eligible fee",
        "\"opens the day after the service month, closes at the end of calendar month 2 after it\"",
        "cause account_suspension,",
        "(cause account_suspension)",
        "form,service_credit",
    ] {
        assert!(show.contains(expected), "no {expected} in\n{show}");
    }

    let outages = files.write(
        "outages.jsonl",
        r#"{"id": "s", "start": "2025-01-02T00:00:00Z", "end": "2025-01-02T01:00:00Z", "policyCause": "account_suspension"}
"#,
    );
    let verdicts = stdout(sla(&[
        "classify",
        "--policy",
        "example-public",
        "--policy-dir",
        arg(&policies),
        "--format",
        "json",
        arg(&outages),
    ]));
    assert!(verdicts.contains("VERDICT_EXCLUDED"), "{verdicts}");
    assert!(verdicts.contains("exclusions-i"), "{verdicts}");

    let typo = files.write(
        "typo.jsonl",
        r#"{"id": "t", "start": "2025-01-02T00:00:00Z", "end": "2025-01-02T01:00:00Z", "policyCause": "suspension"}
"#,
    );
    let stderr = refused(
        sla(&[
            "classify",
            "--policy",
            "example-public",
            "--policy-dir",
            arg(&policies),
            arg(&typo),
        ]),
        1,
    );
    assert!(
        stderr.contains("its own causes are: account_suspension"),
        "{stderr}"
    );
}

#[test]
fn check_policy_passes_every_built_in_file_and_the_example() {
    let files = Files::new();
    let example = files.write("example-public.toml", &example_public());
    let mut args = vec!["check-policy".to_string()];
    for entry in std::fs::read_dir(Path::new(ROOT).join("policies")).unwrap() {
        args.push(entry.unwrap().path().display().to_string());
    }
    args.push(example.display().to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let table = stdout(sla(&args));
    assert!(table.contains("google-cloud-functions"), "{table}");
    assert!(table.contains("above 99.9%"), "{table}");
}
