//! The README's policy table must say what the loaded policies say.

use sla_evaluator::policy::{Method, PolicySet, TimesliceRule};

fn row(policy: &sla_evaluator::policy::Policy) -> String {
    let document = &policy.source.file[..3];
    let updated = policy
        .source
        .last_updated
        .map_or("undated".to_string(), |d| d.to_string());
    let month = match policy.service_month {
        sla_evaluator::policy::ServiceMonthKind::Calendar => "calendar",
        sla_evaluator::policy::ServiceMonthKind::Anniversary => "anniversary",
    };
    let method = match policy.method {
        Method::Occurrences => "occurrences: failed / all".to_string(),
        Method::Timeslices {
            slice_minutes,
            bad_slice: TimesliceRule::AllFailed,
        } => {
            format!("timeslices: {slice_minutes} min, bad when every attempt failed")
        }
        Method::Timeslices {
            slice_minutes,
            bad_slice: TimesliceRule::SuccessRateBelow(p),
        } => {
            format!("timeslices: {slice_minutes} min, bad when success rate < {p}%")
        }
    };
    let tiers: Vec<String> = policy
        .tiers
        .iter()
        .map(|t| format!("[{}%, {}%) → {}%", t.at_least, t.below, t.fee_percent))
        .collect();
    format!(
        "| `{}` | {document}, {updated} | {month} | {method} | {}% | {} | {} |",
        policy.id,
        policy.standard,
        tiers.join("; "),
        policy.form.name()
    )
}

#[test]
fn the_readme_policy_table_matches_the_built_in_policies() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for policy in PolicySet::built_in().unwrap().iter() {
        let row = row(policy);
        assert!(readme.contains(&row), "README.md lacks the row\n{row}");
    }
}
