//! Evaluations as CSV: one row per subscription and service month, the figures a billing run
//! loads into a spreadsheet or a database.

use super::short;
use super::table::Table;
use crate::api::pb;

const HEADER: [&str; 24] = [
    "subscription",
    "policy_id",
    "month_start",
    "month_end",
    "status",
    "availability_percent",
    "standard_met",
    "tier",
    "compensation_percent",
    "eligible_fee",
    "compensation_amount",
    "currency",
    "message_credits",
    "unit",
    "bad_units",
    "excluded_units",
    "total_units",
    "covered_minutes",
    "elapsed_minutes",
    "worst_case_availability_percent",
    "worst_case_tier",
    "bad_units_remaining",
    "claim_opens_on",
    "claim_closes_on",
];

pub(super) fn evaluations(results: &[(Option<String>, pb::EvaluateResponse)]) -> String {
    let mut table = Table::new(&HEADER);
    for (key, response) in results {
        for month in &response.months {
            let worst = month.worst_case.as_ref();
            table.push(vec![
                key.clone().unwrap_or_default(),
                response.policy_id.clone(),
                month.month_start.clone(),
                month.month_end.clone(),
                short(month.status().as_str_name(), "MONTH_STATUS_"),
                month.availability_percent.clone(),
                month.standard_met.to_string(),
                month.tier.to_string(),
                month.compensation_percent.clone(),
                month.eligible_fee.clone(),
                month.compensation_amount.clone(),
                response.currency.clone(),
                month.message_credits.to_string(),
                short(month.unit().as_str_name(), "UNIT_"),
                month.bad_units.to_string(),
                month.excluded_units.to_string(),
                month.total_units.to_string(),
                month.covered_minutes.to_string(),
                month.elapsed_minutes.to_string(),
                worst
                    .map(|w| w.availability_percent.clone())
                    .unwrap_or_default(),
                worst.map(|w| w.tier.to_string()).unwrap_or_default(),
                month
                    .budget
                    .as_ref()
                    .map(|b| b.bad_units_remaining.to_string())
                    .unwrap_or_default(),
                month.claim_opens_on.clone(),
                month.claim_closes_on.clone(),
            ]);
        }
    }
    table.to_csv()
}
