//! What a caller tells us about an outage: when, why, and the facts the clauses turn on.

use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::policy::CauseId;

/// One outage to classify.
#[derive(Clone, Debug, PartialEq)]
pub struct Outage {
    /// The caller's identifier, echoed in the verdict; may be empty.
    pub id: String,
    /// When it happened.
    pub window: OutageWindow,
    /// `None` when the caller does not know the cause yet; a shared cause, or one the policy
    /// declares (which [`super::check_cause`] makes sure of).
    pub cause: Option<CauseId>,
    /// The facts the clauses turn on.
    pub facts: Facts,
}

/// A half-open interval of time `[start, end)` with `start < end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutageWindow {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

/// An outage window that ends before it starts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the outage ends at {end} but starts at {start}: the end must come after the start")]
pub struct EmptyWindow {
    /// The start given.
    pub start: DateTime<Utc>,
    /// The end given, not after the start.
    pub end: DateTime<Utc>,
}

impl OutageWindow {
    /// The window `[start, end)`, refused unless `start < end`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self, EmptyWindow> {
        if end <= start {
            return Err(EmptyWindow { start, end });
        }
        Ok(OutageWindow { start, end })
    }

    /// The first instant of the outage.
    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// The instant after the outage.
    pub fn end(&self) -> DateTime<Utc> {
        self.end
    }

    /// True when the window shares any instant with `[start, end)`.
    pub fn overlaps(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        self.start < end && start < self.end
    }
}

/// The facts clauses turn on. Every field is optional because "not known" must stay distinguishable
/// from "no": an unknown fact a clause needs makes the verdict NEEDS_REVIEW, naming the fact.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Facts {
    /// The provider's notice of maintenance or of an announced event.
    pub provider_notice: Option<Notice>,
    /// The customer's notice to the provider of a coming traffic surge.
    pub customer_notice: Option<Notice>,
    /// How far concurrency rose during the surge (TRTC).
    pub concurrency_surge: Option<u64>,
    /// Peak queries per second during the surge (call centers).
    pub peak_qps: Option<Decimal>,
    /// Messages the account sent on the day of the surge (SMS).
    pub daily_messages: Option<u64>,
    /// The account's kind, when a clause has separate thresholds per kind (SMS).
    pub account_kind: Option<AccountKind>,
    /// Whether the customer's own phone number was blocked as a result (call centers' 5.18).
    pub number_blocked: Option<bool>,
    /// Whether a traffic surge was in audio-visual chatroom use (IM's 4.7 covers only those).
    pub audio_video_chatroom: Option<bool>,
    /// A law, agreement or published rule someone claims exempts the outage. Only the policy's
    /// catch-all clause turns on it, and only a person can weigh it.
    pub exemption_basis: Option<String>,
}

/// Whether, when and how notice was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// No notice was given.
    NotGiven,
    /// Notice was given.
    Given {
        /// The instant it was given: clauses compare it with the outage's start, or count the
        /// business days from it to a surge.
        at: DateTime<Utc>,
        /// `None` when it is not known whether the notice was in writing.
        written: Option<bool>,
    },
}

/// SMS accounts have different surge thresholds for gateway customers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountKind {
    /// An ordinary messaging account.
    Standard,
    /// A gateway messaging account.
    Gateway,
}

/// A fact the classifier needed and was not given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fact {
    /// The outage's cause.
    Cause,
    /// Whether and when the provider gave notice.
    ProviderNotice,
    /// Whether the provider's notice was in writing.
    ProviderNoticeWritten,
    /// Whether and when the customer gave notice.
    CustomerNotice,
    /// Whether the customer's notice was in writing.
    CustomerNoticeWritten,
    /// How far concurrency rose.
    ConcurrencySurge,
    /// The peak queries per second.
    PeakQps,
    /// Messages sent on the day.
    DailyMessages,
    /// The messaging account's kind.
    AccountKind,
    /// Whether the customer's number was blocked.
    NumberBlocked,
    /// Whether the surge was in audio-visual chatroom use.
    AudioVideoChatroom,
}

impl Fact {
    /// The fact's path in an outage, as the API names it.
    pub fn name(self) -> &'static str {
        match self {
            Fact::Cause => "cause",
            Fact::ProviderNotice => "facts.provider_notice",
            Fact::ProviderNoticeWritten => "facts.provider_notice.written",
            Fact::CustomerNotice => "facts.customer_notice",
            Fact::CustomerNoticeWritten => "facts.customer_notice.written",
            Fact::ConcurrencySurge => "facts.concurrency_surge",
            Fact::PeakQps => "facts.peak_qps",
            Fact::DailyMessages => "facts.daily_messages",
            Fact::AccountKind => "facts.account_kind",
            Fact::NumberBlocked => "facts.number_blocked",
            Fact::AudioVideoChatroom => "facts.audio_video_chatroom",
        }
    }
}

impl fmt::Display for Fact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
