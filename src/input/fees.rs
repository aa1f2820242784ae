//! Fees from a CSV file: a header row, then one fee per row.
//!
//! | column | required | value |
//! |---|---|---|
//! | `month_start` | yes | the service month's first day, `YYYY-MM-DD` |
//! | `paid` | yes | the fee paid, a decimal such as `500.00` |
//! | `deductions` | no | the part paid with vouchers or discounts |
//! | `subscription` | no | whose fee it is, for a file of many subscriptions |
//!
//! Values are passed on as the text they are, to be checked where the gRPC service checks them:
//! a refused fee is traced back to its line here.

use std::collections::BTreeMap;
use std::path::Path;

use super::{InputError, Place, shown};
use crate::api::pb;

/// One fee and where it was read.
#[derive(Clone, Debug, PartialEq)]
pub struct Fee {
    /// Its line.
    pub place: Place,
    /// The fee.
    pub fee: pb::MonthlyFee,
}

/// The fees of a file, per subscription (`None` for a file without the column).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fees {
    /// Each subscription's fees in file order.
    pub by_subscription: BTreeMap<Option<String>, Vec<Fee>>,
}

const COLUMNS: [&str; 4] = ["subscription", "month_start", "paid", "deductions"];

/// Reads a fees file (a few rows per subscription and month: read whole).
pub fn read(path: &Path) -> Result<Fees, InputError> {
    let name = path.display().to_string();
    let at = |line: u64, column: Option<&str>, message: String| InputError {
        source_name: name.clone(),
        place: Place::Line(line),
        column: column.map(str::to_string),
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .map_err(|error| InputError::whole(&name, format!("cannot open it: {error}")))?;
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(header)) => header,
        Some(Err(error)) => return Err(at(1, None, error.to_string())),
        None => {
            return Err(at(
                1,
                None,
                "the file is empty; it needs a header row".into(),
            ));
        }
    };
    let mut found = [None; 4];
    for (index, column) in header.iter().enumerate() {
        let column = column.trim().trim_start_matches('\u{feff}');
        let known = COLUMNS.iter().position(|&c| c == column).ok_or_else(|| {
            let known = COLUMNS.join(", ");
            at(
                1,
                None,
                format!(
                    "the header names a column `{}`; the columns are {known}",
                    shown(column.as_bytes())
                ),
            )
        })?;
        if found[known].replace(index).is_some() {
            let column = shown(column.as_bytes());
            return Err(at(1, None, format!("the header names `{column}` twice")));
        }
    }
    for required in [1, 2] {
        if found[required].is_none() {
            let message = format!(
                "the header has no `{}` column; required are month_start and paid",
                COLUMNS[required]
            );
            return Err(at(1, None, message));
        }
    }
    let mut fees = Fees::default();
    for record in records {
        let record = record.map_err(|error| {
            let line = error.position().map_or(0, |p| p.line());
            at(line, None, error.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != header.len() {
            let message = format!(
                "{} fields, but the header has {}",
                record.len(),
                header.len()
            );
            return Err(at(line, None, message));
        }
        let value = |slot: usize| found[slot].map(|index| record[index].trim().to_string());
        let subscription = value(0);
        if subscription.as_deref() == Some("") {
            return Err(at(line, Some("subscription"), "is empty".into()));
        }
        let fee = pb::MonthlyFee {
            month_start: value(1).unwrap_or_default(),
            paid: value(2).unwrap_or_default(),
            deductions: value(3).unwrap_or_default(),
        };
        fees.by_subscription
            .entry(subscription)
            .or_default()
            .push(Fee {
                place: Place::Line(line),
                fee,
            });
    }
    Ok(fees)
}
