//! The roll-up of a run, as grouped SLO tools give one: per policy and service month, how many
//! subscriptions were evaluated, how many of their months met the standard or did not (or could
//! not be decided, or had no data), and the compensation owed in total, per currency and form.
//! Amounts are summed as decimals, exactly; a month without a fee owes a percentage only and adds
//! no amount.

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::json;

use super::short;
use super::table::Table;
use crate::api::pb;

/// What groups months: the policy, the service month, and what compensation is paid in.
type Group = (String, String, String, String, String);

/// The counts of one group.
#[derive(Clone, Debug, Default)]
struct Counts {
    subscriptions: u64,
    met: u64,
    not_met: u64,
    incomplete_data: u64,
    no_data: u64,
    needs_review: u64,
    in_progress: u64,
    /// Months with a fee, whose compensation is an amount.
    with_fee: u64,
    compensation: Decimal,
    message_credits: u64,
}

/// A run's summary, built answer by answer.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    groups: BTreeMap<Group, Counts>,
    subscriptions: u64,
    /// Subscriptions resent to another replica after the one evaluating them failed.
    pub retried: u64,
}

const HEADER: [&str; 16] = [
    "policy_id",
    "month_start",
    "month_end",
    "currency",
    "form",
    "subscriptions",
    "met",
    "not_met",
    "incomplete_data",
    "no_data",
    "needs_review",
    "in_progress",
    "with_fee",
    "compensation",
    "message_credits",
    "retried",
];

impl Summary {
    /// Adds one subscription's answer.
    pub fn add(&mut self, response: &pb::EvaluateResponse) {
        self.subscriptions += 1;
        for month in &response.months {
            let group = (
                response.policy_id.clone(),
                month.month_start.clone(),
                month.month_end.clone(),
                response.currency.clone(),
                short(
                    month.compensation_form().as_str_name(),
                    "COMPENSATION_FORM_",
                ),
            );
            let counts = self.groups.entry(group).or_default();
            counts.subscriptions += 1;
            match month.status() {
                pb::MonthStatus::Met => counts.met += 1,
                pb::MonthStatus::NotMet => counts.not_met += 1,
                pb::MonthStatus::IncompleteData => counts.incomplete_data += 1,
                pb::MonthStatus::NoData => counts.no_data += 1,
                pb::MonthStatus::NeedsReview => counts.needs_review += 1,
                pb::MonthStatus::InProgress => counts.in_progress += 1,
                pb::MonthStatus::Unspecified => {}
            }
            // The service writes amounts as decimals it parsed itself.
            if let Ok(amount) = Decimal::from_str(&month.compensation_amount) {
                counts.with_fee += 1;
                counts.compensation += amount;
            }
            counts.message_credits += month.message_credits;
        }
    }

    /// Subscriptions added.
    pub fn subscriptions(&self) -> u64 {
        self.subscriptions
    }

    /// The summary as a table for a person, under the evaluations.
    pub fn to_table(&self) -> String {
        let mut table = Table::new(&[
            "policy",
            "month",
            "subscriptions",
            "met",
            "not met",
            "incomplete",
            "no data",
            "review",
            "in progress",
            "compensation",
        ]);
        for ((policy, start, end, currency, form), counts) in &self.groups {
            let compensation = match (counts.with_fee, form.as_str()) {
                (0, _) => "-".to_string(),
                (_, "MESSAGE_CREDITS") => format!(
                    "{} {currency} ({} messages)",
                    counts.compensation, counts.message_credits
                ),
                _ => format!("{} {currency} {}", counts.compensation, form.to_lowercase()),
            };
            table.push(vec![
                policy.clone(),
                format!("{start} … {end}"),
                counts.subscriptions.to_string(),
                counts.met.to_string(),
                counts.not_met.to_string(),
                counts.incomplete_data.to_string(),
                counts.no_data.to_string(),
                counts.needs_review.to_string(),
                counts.in_progress.to_string(),
                compensation,
            ]);
        }
        let mut out = format!("summary of {} subscriptions", self.subscriptions);
        if self.retried > 0 {
            out.push_str(&format!(
                " ({} resent to another replica after theirs failed)",
                self.retried
            ));
        }
        out.push_str("\n\n");
        out.push_str(&table.to_string());
        out
    }

    /// The summary as CSV: one row per policy, service month, currency and form.
    pub fn to_csv(&self) -> String {
        let mut table = Table::new(&HEADER);
        for ((policy, start, end, currency, form), counts) in &self.groups {
            table.push(vec![
                policy.clone(),
                start.clone(),
                end.clone(),
                currency.clone(),
                form.clone(),
                counts.subscriptions.to_string(),
                counts.met.to_string(),
                counts.not_met.to_string(),
                counts.incomplete_data.to_string(),
                counts.no_data.to_string(),
                counts.needs_review.to_string(),
                counts.in_progress.to_string(),
                counts.with_fee.to_string(),
                if counts.with_fee == 0 {
                    String::new()
                } else {
                    counts.compensation.to_string()
                },
                counts.message_credits.to_string(),
                self.retried.to_string(),
            ]);
        }
        table.to_csv()
    }

    /// The summary as JSON: the run's counts and one object per group, amounts as decimal
    /// strings as the API writes them.
    pub fn to_json(&self) -> String {
        let groups: Vec<serde_json::Value> = self
            .groups
            .iter()
            .map(|((policy, start, end, currency, form), counts)| {
                json!({
                    "policyId": policy,
                    "monthStart": start,
                    "monthEnd": end,
                    "currency": currency,
                    "form": form,
                    "subscriptions": counts.subscriptions,
                    "met": counts.met,
                    "notMet": counts.not_met,
                    "incompleteData": counts.incomplete_data,
                    "noData": counts.no_data,
                    "needsReview": counts.needs_review,
                    "inProgress": counts.in_progress,
                    "withFee": counts.with_fee,
                    "compensation": if counts.with_fee == 0 {
                        String::new()
                    } else {
                        counts.compensation.to_string()
                    },
                    "messageCredits": counts.message_credits,
                })
            })
            .collect();
        let summary = json!({
            "subscriptions": self.subscriptions,
            "retried": self.retried,
            "months": groups,
        });
        let mut text = serde_json::to_string_pretty(&summary).expect("JSON of strings and numbers");
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn month(status: pb::MonthStatus, amount: &str) -> pb::MonthReport {
        pb::MonthReport {
            month_start: "2026-03-01".into(),
            month_end: "2026-03-31".into(),
            status: status as i32,
            compensation_amount: amount.into(),
            compensation_form: pb::CompensationForm::Voucher as i32,
            ..pb::MonthReport::default()
        }
    }

    #[test]
    fn counts_statuses_and_sums_amounts_exactly() {
        let mut summary = Summary::default();
        for (status, amount) in [
            (pb::MonthStatus::Met, "0.00"),
            (pb::MonthStatus::NotMet, "850.10"),
            (pb::MonthStatus::NotMet, "0.20"),
            (pb::MonthStatus::NoData, "0.00"),
        ] {
            summary.add(&pb::EvaluateResponse {
                policy_id: "tencent-im".into(),
                currency: "CNY".into(),
                months: vec![month(status, amount)],
                ..pb::EvaluateResponse::default()
            });
        }
        let csv = summary.to_csv();
        let row = csv.lines().nth(1).unwrap();
        assert_eq!(
            row,
            "tencent-im,2026-03-01,2026-03-31,CNY,VOUCHER,4,1,2,0,1,0,0,4,850.30,0,0"
        );
        let json: serde_json::Value = serde_json::from_str(&summary.to_json()).unwrap();
        assert_eq!(json["months"][0]["compensation"], "850.30");
        assert!(summary.to_table().contains("850.30 CNY voucher"));
    }
}
