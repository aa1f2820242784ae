//! The format's refusals, each at the line of the offending value.

use super::*;
use crate::policy::{
    Cause, CauseId, ClaimCloses, ClaimOpens, ClaimWindowRule, CompensationForm, Condition, Edge,
    ProviderNoticeRule, TierBounds,
};

const MINIMAL: &str = r#"
id = "custom"
name = "Custom"
service_month = "calendar"
time_zone = "America/New_York"
standard_percent = "99"

[source]
document = "custom.txt"
title = "Custom SLA"

[method]
kind = "timeslices"
slice_minutes = 1
bad_slice = "all_failed"

[compensation]
form = "cash"
tiers = [
  { at_least = "95", below = "99", fee_percent = "10" },
  { below = "95", fee_percent = "25" },
]

[claim_window]
opens_after_business_day = 5
closes_after_days = 60
"#;

fn error_for(text: &str) -> PolicyFileError {
    parse_policy("p.toml", text).expect_err("the file should be refused")
}

#[test]
fn a_minimal_policy_parses() {
    let policy = parse_policy("p.toml", MINIMAL).unwrap();
    assert_eq!(policy.id, "custom");
    assert_eq!(policy.tiers.len(), 2);
    assert_eq!(policy.tiers[1].lower, Percent::ZERO);
    assert!(policy.clauses.is_empty());
}

#[test]
fn a_gap_between_tiers_is_refused_at_its_line() {
    let text = MINIMAL.replace(r#"{ below = "95""#, r#"{ below = "94""#);
    let error = error_for(&text);
    assert_eq!(error.line, 21, "{error}");
    assert!(error.message.contains("tiers must meet"), "{error}");
    assert!(error.to_string().starts_with("p.toml:21:"), "{error}");
}

#[test]
fn a_typo_in_a_key_is_refused_with_its_line() {
    let text = MINIMAL.replace("closes_after_days", "closes_after_dayz");
    let error = error_for(&text);
    assert!(error.message.contains("closes_after_dayz"), "{error}");
    assert!(error.line >= 25, "{error}");
}

#[test]
fn an_unknown_zone_and_a_too_precise_standard_are_refused() {
    let error = error_for(&MINIMAL.replace("America/New_York", "Mars/Olympus"));
    assert_eq!(
        (error.line, error.message.contains("Mars/Olympus")),
        (5, true)
    );
    let error = error_for(&MINIMAL.replace(
        r#""99"
"#,
        r#""99.123456"
"#,
    ));
    assert!(
        error.message.contains("more than 4 decimal places"),
        "{error}"
    );
}

#[test]
fn a_table_that_stops_short_of_the_standard_is_refused() {
    let text = MINIMAL.replace(r#"below = "99""#, r#"below = "98""#);
    assert!(error_for(&text).message.contains("would earn nothing"));
}

#[test]
fn compensation_that_falls_with_availability_is_refused() {
    let text = MINIMAL.replace(r#"fee_percent = "25""#, r#"fee_percent = "5""#);
    assert!(error_for(&text).message.contains("must not fall"));
}

#[test]
fn clause_mistakes_are_refused() {
    let unknown =
        format!("{MINIMAL}\n[[clauses]]\nid = \"9.1\"\ncause = \"gremlins\"\ntitle = \"x\"\n");
    let error = error_for(&unknown);
    assert!(
        error.message.contains("unknown cause 'gremlins'"),
        "{error}"
    );
    // At the cause's own line, two below the clause's `[[clauses]]`.
    assert_eq!(error.line, 30, "{error}");

    let twice = format!(
        "{MINIMAL}\n[[clauses]]\nid = \"9.1\"\ncause = \"force_majeure\"\ntitle = \"x\"\n\
         [[clauses]]\nid = \"9.2\"\ncause = \"force_majeure\"\ntitle = \"y\"\n"
    );
    assert!(error_for(&twice).message.contains("already covers cause"));

    let provider = format!(
        "{MINIMAL}\n[[clauses]]\nid = \"9.1\"\ncause = \"provider_fault\"\ntitle = \"x\"\n"
    );
    assert!(error_for(&provider).message.contains("always counts"));
}

/// A provider-notice clause without a `notice` table keeps the Tencent reading (any notice before
/// the outage); with one, it asks for a lead time and written notice, within bounds.
#[test]
fn provider_notice_takes_a_lead_time_and_a_form() {
    let clause = |condition: &str| {
        format!(
            "{MINIMAL}\n[[clauses]]\nid = \"4.2\"\ncause = \"scheduled_maintenance\"\n\
             title = \"x\"\ncondition = {condition}\n"
        )
    };
    let rule = |text: &str| match &parse_policy("p.toml", text).unwrap().clauses[0].condition {
        Condition::ProviderNotice(rule) => *rule,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        rule(&clause("{ kind = \"provider_notice\" }")),
        ProviderNoticeRule::default()
    );
    assert_eq!(
        rule(&clause(
            "{ kind = \"provider_notice\", notice = { written = true, hours = 24 } }"
        )),
        ProviderNoticeRule {
            written: true,
            hours: 24
        }
    );
    let long = error_for(&clause(
        "{ kind = \"provider_notice\", notice = { hours = 8761 } }",
    ));
    assert!(
        long.message.contains("hours 8761 is more than 8760"),
        "{long}"
    );
    let typo = error_for(&clause(
        "{ kind = \"provider_notice\", notice = { business_days = 2 } }",
    ));
    assert!(typo.message.contains("business_days"), "{typo}");
}

#[test]
fn an_unknown_cause_lists_the_valid_ones() {
    let text =
        format!("{MINIMAL}\n[[clauses]]\nid = \"1\"\ncause = \"customer_falt\"\ntitle = \"x\"\n");
    let error = error_for(&text);
    assert!(
        error.message.contains("unknown cause 'customer_falt'"),
        "{error}"
    );
    for cause in Cause::ALL {
        assert!(error.message.contains(cause.name()), "{error}");
    }
}

#[test]
fn version_defaults_to_effective_from_and_a_bad_date_is_refused() {
    let dated = MINIMAL.replace(
        "name = \"Custom\"",
        "name = \"Custom\"\neffective_from = \"2024-05-01\"",
    );
    let policy = parse_policy("p.toml", &dated).unwrap();
    assert_eq!(policy.version, "2024-05-01");
    assert_eq!(policy.effective_from, crate::strict::date("2024-05-01"));
    assert_eq!(parse_policy("p.toml", MINIMAL).unwrap().version, "1");
    let error = error_for(&dated.replace("2024-05-01", "2024-13-01"));
    assert_eq!(error.line, 4, "{error}");
    assert!(error.message.contains("effective_from"), "{error}");
}

#[test]
fn min_attempts_defaults_to_one_and_zero_is_refused() {
    let method = |text: &str| match parse_policy("p.toml", text).unwrap().method {
        crate::policy::Method::Timeslices { min_attempts, .. } => min_attempts,
        other => panic!("{other:?}"),
    };
    assert_eq!(method(MINIMAL), 1);
    let text = MINIMAL.replace(
        "bad_slice = \"all_failed\"",
        "bad_slice = \"all_failed\"\nmin_attempts = 10",
    );
    assert_eq!(method(&text), 10);
    let error = error_for(&text.replace("min_attempts = 10", "min_attempts = 0"));
    assert!(error.message.contains("min_attempts"), "{error}");
    // At the [method] table, as its other values are.
    assert_eq!(error.line, 12, "{error}");
}

#[test]
fn a_policy_names_its_calendar() {
    assert_eq!(parse_policy("p.toml", MINIMAL).unwrap().calendar, None);
    let text = MINIMAL.replace(
        "standard_percent = \"99\"",
        "standard_percent = \"99\"\ncalendar = \"cn-mainland\"",
    );
    let policy = parse_policy("p.toml", &text).unwrap();
    assert_eq!(policy.calendar.as_deref(), Some("cn-mainland"));
    let error = error_for(&text.replace("\"cn-mainland\"", "\"CN\""));
    assert_eq!(error.line, 7, "{error}");
}

// The terms of public SLAs: claim windows, tier bounds, credits and causes of a policy's own.

/// MINIMAL with its claim window, compensation table and form replaced.
fn with_terms(window: &str, compensation: &str) -> String {
    let head = MINIMAL.split("[compensation]").next().unwrap();
    format!("{head}[compensation]\n{compensation}\n{window}")
}

const HALF_CLOSED: &str = r#"form = "service_credit"
tiers = [
  { above = "95", at_most = "99", fee_percent = "10" },
  { at_most = "95", fee_percent = "25" },
]"#;

#[test]
fn a_claim_window_takes_one_rule_of_each_pair() {
    let aws = with_terms(
        "[claim_window]\nopens = \"after_period\"\ncloses_at_end_of_month = 2\n",
        HALF_CLOSED,
    );
    let policy = parse_policy("p.toml", &aws).unwrap();
    assert_eq!(
        policy.claim_window,
        Some(ClaimWindowRule {
            opens: ClaimOpens::AfterPeriod,
            closes: ClaimCloses::AtEndOfMonth(2),
        })
    );
    let both = with_terms(
        "[claim_window]\nopens = \"after_period\"\nopens_after_business_day = 5\ncloses_after_days = 30\n",
        HALF_CLOSED,
    );
    assert!(
        error_for(&both).message.contains("not both"),
        "{}",
        error_for(&both)
    );
    let neither = with_terms("[claim_window]\ncloses_after_days = 30\n", HALF_CLOSED);
    assert!(
        error_for(&neither)
            .message
            .contains("opens = \"after_period\" is required"),
        "{}",
        error_for(&neither)
    );
    let no_close = with_terms("[claim_window]\nopens = \"after_period\"\n", HALF_CLOSED);
    assert!(error_for(&no_close).message.contains("is required"));
    let far = with_terms(
        "[claim_window]\nopens = \"after_period\"\ncloses_at_end_of_month = 13\n",
        HALF_CLOSED,
    );
    assert!(
        error_for(&far).message.contains("1-12"),
        "{}",
        error_for(&far)
    );
    // Without the table the policy states no window.
    let none = with_terms("", HALF_CLOSED);
    assert_eq!(parse_policy("p.toml", &none).unwrap().claim_window, None);
}

#[test]
fn half_closed_tiers_tile_up_to_the_standard_included() {
    let policy = parse_policy("p.toml", &with_terms("", HALF_CLOSED)).unwrap();
    assert_eq!(policy.tier_bounds, TierBounds::AboveAtMost);
    assert_eq!(policy.form, CompensationForm::ServiceCredit);
    assert_eq!(policy.tiers[0].lower, "95".parse().unwrap());
    assert_eq!(policy.tiers[0].upper, "99".parse().unwrap());
    // One convention per file.
    let mixed = with_terms(
        "",
        r#"form = "cash"
tiers = [
  { above = "95", at_most = "99", fee_percent = "10" },
  { below = "95", fee_percent = "25" },
]"#,
    );
    assert!(
        error_for(&mixed)
            .message
            .contains("one convention per file")
    );
    let both_kinds = with_terms(
        "",
        r#"form = "cash"
tiers = [
  { at_least = "95", at_most = "99", fee_percent = "10" },
  { at_most = "95", fee_percent = "25" },
]"#,
    );
    assert!(error_for(&both_kinds).message.contains("mixes"));
    // A gap between (a, b] tiers is refused as one between [a, b) tiers is.
    let gap = with_terms(
        "",
        &HALF_CLOSED.replace("at_most = \"95\"", "at_most = \"94\""),
    );
    assert!(error_for(&gap).message.contains("tiers must meet"));
}

#[test]
fn the_standards_own_edge_must_be_covered() {
    // Met only above 99%: a month exactly at 99% misses it, and [95, 99) leaves it unpaid.
    let open_top = MINIMAL.replace(
        "standard_percent = \"99\"",
        "standard_percent = \"99\"\nstandard_met_at = \"above\"",
    );
    let error = error_for(&open_top);
    assert!(
        error
            .message
            .contains("a month exactly at the standard misses it"),
        "{error}"
    );
    // (95, 99] covers it.
    let closed_top = with_terms("", HALF_CLOSED).replace(
        "standard_percent = \"99\"",
        "standard_percent = \"99\"\nstandard_met_at = \"above\"",
    );
    let policy = parse_policy("p.toml", &closed_top).unwrap();
    assert_eq!(policy.standard_met_at, Edge::Above);
    // A [a, b) tier starting exactly at a standard met only above it pays that one value.
    let at_edge = with_terms(
        "",
        r#"form = "cash"
tiers = [
  { at_least = "99", below = "99.5", fee_percent = "5" },
  { at_least = "95", below = "99", fee_percent = "10" },
  { below = "95", fee_percent = "25" },
]"#,
    )
    .replace(
        "standard_percent = \"99\"",
        "standard_percent = \"99\"\nstandard_met_at = \"above\"",
    );
    assert!(parse_policy("p.toml", &at_edge).is_ok());
    // A (a, b] tier starting at the standard holds only months that meet it.
    let never = with_terms(
        "",
        r#"form = "cash"
tiers = [
  { above = "99", at_most = "99.5", fee_percent = "5" },
  { above = "95", at_most = "99", fee_percent = "10" },
  { at_most = "95", fee_percent = "25" },
]"#,
    );
    assert!(
        error_for(&never).message.contains("could never pay"),
        "{}",
        error_for(&never)
    );
    // 100% met only above it could never be met.
    let impossible = MINIMAL.replace(
        "standard_percent = \"99\"",
        "standard_percent = \"100\"\nstandard_met_at = \"above\"",
    );
    assert!(
        error_for(&impossible)
            .message
            .contains("could never be met")
    );
}

#[test]
fn credits_take_a_minimum_and_a_cap() {
    let text = with_terms(
        "",
        &format!(
            "{HALF_CLOSED}\nmin_amount = \"1.00\"\nmin_amount_currency = \"USD\"\nmin_amount_met_at = \"above\"\ncap_percent = \"50\""
        ),
    );
    let policy = parse_policy("p.toml", &text).unwrap();
    let minimum = policy.min_amount.unwrap();
    assert_eq!(minimum.amount.to_string(), "1.00");
    assert_eq!(minimum.currency.map(|c| c.code()), Some("USD"));
    assert_eq!(minimum.met_at, Edge::Above);
    assert_eq!(policy.cap, "50".parse().unwrap());
    let bad_currency = text.replace("\"USD\"", "\"DOLLARS\"");
    assert!(error_for(&bad_currency).message.contains("ISO 4217"));
    let zero = text.replace("min_amount = \"1.00\"", "min_amount = \"0\"");
    assert!(error_for(&zero).message.contains("above 0"));
    let orphan = with_terms("", &format!("{HALF_CLOSED}\nmin_amount_currency = \"USD\""));
    assert!(error_for(&orphan).message.contains("needs min_amount"));
    let no_cap = text.replace("cap_percent = \"50\"", "cap_percent = \"0\"");
    assert!(
        error_for(&no_cap)
            .message
            .contains("cap_percent must be above 0")
    );
    // Defaults: no minimum, a cap of 100%.
    let plain = parse_policy("p.toml", MINIMAL).unwrap();
    assert_eq!((plain.min_amount, plain.cap), (None, Percent::HUNDRED));
}

#[test]
fn a_policy_declares_causes_its_clauses_name() {
    let text = format!(
        "{MINIMAL}\n[[causes]]\nid = \"account_suspension\"\ntitle = \"The account was suspended\"\n\n\
         [[clauses]]\nid = \"x\"\ncause = \"account_suspension\"\ntitle = \"Suspension\"\n"
    );
    let policy = parse_policy("p.toml", &text).unwrap();
    assert_eq!(policy.causes[0].id, "account_suspension");
    assert_eq!(
        policy.clauses[0].cause,
        Some(CauseId::Declared("account_suspension".into()))
    );
    // An undeclared name lists the shared causes and the policy's own.
    let typo = text.replace(
        "cause = \"account_suspension\"",
        "cause = \"account_suspended\"",
    );
    let error = error_for(&typo);
    assert!(
        error
            .message
            .contains("the policy's own [[causes]]: account_suspension"),
        "{error}"
    );
    // A shared name cannot be declared again, nor one twice, nor a bad id.
    let shared = text.replace("id = \"account_suspension\"", "id = \"force_majeure\"");
    assert!(
        error_for(&shared)
            .message
            .contains("shared vocabulary already")
    );
    let twice = format!("{text}\n[[causes]]\nid = \"account_suspension\"\ntitle = \"Again\"\n");
    assert!(error_for(&twice).message.contains("declared twice"));
    let bad = text.replace("id = \"account_suspension\"", "id = \"Account-Suspension\"");
    assert!(
        error_for(&bad)
            .message
            .contains("lowercase letters, digits and '_'")
    );
}
