//! Text for the page: escaping, the names of the response's enums, and dates and times.
//!
//! Every string that comes from a response or a policy reaches the page through [`Esc`]: a
//! response read from a file may carry anything, and a report must never run what it quotes.

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

use crate::api::pb;

/// Writes a string HTML-escaped, for text and for attribute values in double quotes.
pub(super) struct Esc<'a>(pub(super) &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

/// A count with thousands separators ("44,640"): integers only, nothing is rounded.
pub(super) fn count(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// "1 minute", "30 minutes": English plurals for the page's counts.
pub(super) fn plural(value: u64, one: &str, many: &str) -> String {
    format!("{} {}", count(value), if value == 1 { one } else { many })
}

/// A protobuf instant as a UTC time; `None` when unset or out of chrono's range.
pub(super) fn instant(at: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    let at = at?;
    DateTime::from_timestamp(at.seconds, u32::try_from(at.nanos).ok()?)
}

/// An RFC 3339 local time from the response ("2019-03-12T10:00:00+08:00") as people read it:
/// "2019-03-12 10:00 (+08:00)". Seconds are shown only when there are some (outage windows may
/// start anywhere); text that does not parse is shown as it came.
pub(super) fn local_time(rfc3339: &str) -> String {
    match DateTime::parse_from_rfc3339(rfc3339) {
        Ok(at) => readable(&at),
        Err(_) => rfc3339.to_string(),
    }
}

/// See [`local_time`].
pub(super) fn readable(at: &DateTime<FixedOffset>) -> String {
    let clock = if at.timestamp() % 60 == 0 {
        "%Y-%m-%d %H:%M"
    } else {
        "%Y-%m-%d %H:%M:%S"
    };
    format!("{} ({})", at.format(clock), at.format("%:z"))
}

/// A "YYYY-MM-DD" date from the response.
pub(super) fn date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// A month's status: the CSS class that styles it and the words that say it (the class is
/// never the only cue).
pub(super) fn status(status: i32) -> (&'static str, &'static str) {
    use pb::MonthStatus as S;
    match S::try_from(status).unwrap_or(S::Unspecified) {
        S::Met => ("met", "Standard met"),
        S::NotMet => ("not-met", "Standard missed"),
        S::NeedsReview => ("review", "Needs review"),
        S::NoData => ("no-data", "No data"),
        S::IncompleteData => (
            "incomplete",
            "Incomplete data: the data cannot decide the month",
        ),
        S::InProgress => ("in-progress", "In progress"),
        S::Unspecified => ("unknown", "Status not given"),
    }
}

/// The name of what a month's units count, singular and plural.
pub(super) fn unit(unit: i32) -> (&'static str, &'static str) {
    match pb::Unit::try_from(unit).unwrap_or(pb::Unit::Unspecified) {
        pb::Unit::Events => ("event", "events"),
        pb::Unit::Minutes | pb::Unit::Unspecified => ("minute", "minutes"),
    }
}

/// What compensation is paid in.
pub(super) fn form(form: i32) -> &'static str {
    use pb::CompensationForm as F;
    match F::try_from(form).unwrap_or(F::Unspecified) {
        F::Voucher => "vouchers for the same service",
        F::Cash => "cash",
        F::MessageCredits => "message credits",
        F::ServiceCredit => "a credit against future bills",
        F::Unspecified => "form not given",
    }
}

/// A verdict: its CSS class and its words.
pub(super) fn verdict(verdict: i32) -> (&'static str, &'static str) {
    use pb::Verdict as V;
    match V::try_from(verdict).unwrap_or(V::Unspecified) {
        V::Excluded => ("excluded", "Excluded"),
        V::Counted => ("counted", "Counted"),
        V::NeedsReview => ("review", "Needs review"),
        V::Unspecified => ("unknown", "Not given"),
    }
}

/// A note's kind, as a short heading.
pub(super) fn note(kind: i32) -> &'static str {
    use pb::NoteKind as N;
    match N::try_from(kind).unwrap_or(N::Unspecified) {
        N::NoEvents => "No events",
        N::TierAboveStandard => "Tier above the standard",
        N::ClockChange => "Clock change",
        N::AvailabilityFloored => "Availability floored",
        N::FeeMissing => "Fee missing",
        N::OutagesNeedReview => "Outages need review",
        N::IncompleteData => "Incomplete data",
        N::InProgress => "In progress",
        N::DataGaps => "Data gaps",
        N::CalendarOutOfRange => "Calendar out of range",
        N::BelowMinAmount => "Below the minimum credit",
        N::Capped => "Capped",
        N::ClaimWindowNotStated => "No claim window stated",
        N::Restated => "Restatement",
        N::Unspecified => "Note",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_character_that_could_open_markup() {
        assert_eq!(
            Esc("<a href=\"x\" title='y'>&</a>").to_string(),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(Esc("腾讯云 TRTC").to_string(), "腾讯云 TRTC");
    }

    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(44_640), "44,640");
        assert_eq!(count(1_000_000), "1,000,000");
    }

    #[test]
    fn local_times_read_as_people_write_them() {
        assert_eq!(
            local_time("2019-03-12T10:00:00+08:00"),
            "2019-03-12 10:00 (+08:00)"
        );
        assert_eq!(
            local_time("2019-03-12T10:00:30+08:00"),
            "2019-03-12 10:00:30 (+08:00)"
        );
        assert_eq!(local_time("<b>"), "<b>");
    }
}
