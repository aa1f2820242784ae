//! Tables for a person: aligned columns, then the lines that explain them.

use std::fmt;

use super::short;
use crate::api::pb;

/// Rows under a header, printed with aligned columns or as CSV.
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// The column names.
    pub header: Vec<String>,
    /// The rows, as wide as the header.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    /// The table as CSV with a header row.
    pub fn to_csv(&self) -> String {
        let mut writer = ::csv::Writer::from_writer(Vec::new());
        for row in std::iter::once(&self.header).chain(&self.rows) {
            writer.write_record(row).expect("CSV into memory");
        }
        let bytes = writer.into_inner().expect("CSV into memory");
        String::from_utf8(bytes).expect("CSV of UTF-8 fields is UTF-8")
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = |column: usize| {
            std::iter::once(&self.header)
                .chain(&self.rows)
                .map(|row| row.get(column).map_or(0, |cell| cell.chars().count()))
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..self.header.len()).map(width).collect();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, &width)| format!("{cell:width$}"))
                .collect();
            writeln!(f, "{}", cells.join("  ").trim_end())?;
        }
        Ok(())
    }
}

/// One evaluation: a title line, the months, then totals, outages and notes.
pub(super) fn evaluation(subscription: Option<&str>, response: &pb::EvaluateResponse) -> String {
    let mut out = String::new();
    if let Some(name) = subscription {
        out.push_str(&format!("subscription {name}\n"));
    }
    let as_of = response.as_of.map(|t| t.to_string()).unwrap_or_default();
    out.push_str(&format!(
        "{} in {}, as of {as_of}\n",
        response.policy_id, response.time_zone
    ));
    if let Some(restatement) = &response.restatement {
        let earlier = match restatement.earlier_statement_id {
            0 => restatement.restates.clone(),
            id => format!("statement {id}"),
        };
        out.push_str(&format!("restates {earlier}: {}\n", restatement.reason));
    }
    if let Some(record) = &response.record {
        let at = record
            .recorded_at
            .map(|t| t.to_string())
            .unwrap_or_default();
        out.push_str(&format!("statement {} recorded {at}\n", record.id));
    }
    if let Some(statement) = &response.statement {
        let keys: Vec<&str> = statement
            .signatures
            .iter()
            .map(|s| s.keyid.as_str())
            .collect();
        out.push_str(&format!("signed by {}\n", keys.join(", ")));
    }
    out.push('\n');
    let mut months = Table::new(&[
        "month",
        "status",
        "availability",
        "bad",
        "excluded",
        "tier",
        "compensation",
        "claims",
    ]);
    for month in &response.months {
        let unit = if month.unit == pb::Unit::Minutes as i32 {
            "min"
        } else {
            "events"
        };
        let compensation = if month.compensation_amount.is_empty() {
            format!("{}%", month.compensation_percent)
        } else {
            format!("{} {}", month.compensation_amount, response.currency)
        };
        months.push(vec![
            format!("{} … {}", month.month_start, month.month_end),
            short(month.status().as_str_name(), "MONTH_STATUS_"),
            format!("{}%", month.availability_percent),
            format!("{} {unit}", month.bad_units),
            format!("{} {unit}", month.excluded_units),
            if month.tier == 0 {
                "-".into()
            } else {
                month.tier.to_string()
            },
            compensation,
            format!("{} … {}", month.claim_opens_on, month.claim_closes_on),
        ]);
    }
    out.push_str(&months.to_string());
    if !response.total_compensation.is_empty() {
        out.push_str(&format!(
            "\ntotal compensation {} {}\n",
            response.total_compensation, response.currency
        ));
    }
    if response.total_message_credits > 0 {
        out.push_str(&format!(
            "message credits {}\n",
            response.total_message_credits
        ));
    }
    if !response.outages.is_empty() {
        out.push_str("\noutages\n");
        for verdict in &response.outages {
            out.push_str(&format!(
                "  {}: {} {}\n",
                verdict.outage_id,
                short(verdict.verdict().as_str_name(), "VERDICT_"),
                verdict.explanation
            ));
        }
    }
    let notes: Vec<String> = response
        .months
        .iter()
        .flat_map(|month| {
            month
                .notes
                .iter()
                .map(move |note| format!("  {}: {}\n", month.month_start, note.text))
        })
        .collect();
    if !notes.is_empty() {
        out.push_str("\nnotes\n");
        out.extend(notes);
    }
    out
}
