//! Exclusion clauses: the causes an outage can have and the conditions under which a policy's
//! clause takes an outage out of the availability count.

use std::fmt;

use rust_decimal::Decimal;

/// Why an outage happened, in one vocabulary shared by every policy.
///
/// The five contracts list their exclusions in different orders and words; mapping each clause
/// onto this fixed list is what lets one classifier serve them all (the mapping is in each policy
/// file). `ProviderFault` is the one cause no clause excludes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cause {
    /// The provider's own failure: always counted.
    ProviderFault,
    /// A fault on the customer's side.
    CustomerFault,
    /// The customer lost or leaked data, passwords or keys.
    CredentialLeak,
    /// A hacker attack on the customer's application or data.
    AttackOnCustomer,
    /// The customer did not follow the product's documentation.
    GuidelineViolation,
    /// The customer's negligence, or an operation the customer authorised.
    CustomerNegligence,
    /// Illegal content.
    IllegalContent,
    /// A surge of the customer's traffic.
    TrafficSurge,
    /// Trial products or unpublished features.
    TrialFeature,
    /// A major event or promotion the provider announced.
    AnnouncedEvent,
    /// System maintenance.
    ScheduledMaintenance,
    /// Networks or equipment outside the provider's.
    ThirdPartyNetwork,
    /// Force majeure or accident.
    ForceMajeure,
    /// Control by regulators, authorities or operators.
    RegulatoryControl,
    /// Invalid or illegal numbers passed in.
    InvalidNumber,
    /// A breach of the platform's rules.
    PlatformRuleViolation,
    /// Recipients reported the traffic as harassment.
    RecipientHarassmentReport,
    /// Any other cause not attributable to the provider.
    NotAttributableToProvider,
}

impl Cause {
    /// Every cause, in vocabulary order.
    pub const ALL: [Cause; 18] = [
        Cause::ProviderFault,
        Cause::CustomerFault,
        Cause::CredentialLeak,
        Cause::AttackOnCustomer,
        Cause::GuidelineViolation,
        Cause::CustomerNegligence,
        Cause::IllegalContent,
        Cause::TrafficSurge,
        Cause::TrialFeature,
        Cause::AnnouncedEvent,
        Cause::ScheduledMaintenance,
        Cause::ThirdPartyNetwork,
        Cause::ForceMajeure,
        Cause::RegulatoryControl,
        Cause::InvalidNumber,
        Cause::PlatformRuleViolation,
        Cause::RecipientHarassmentReport,
        Cause::NotAttributableToProvider,
    ];

    /// The snake_case name used in policy files and explanations.
    pub fn name(self) -> &'static str {
        match self {
            Cause::ProviderFault => "provider_fault",
            Cause::CustomerFault => "customer_fault",
            Cause::CredentialLeak => "credential_leak",
            Cause::AttackOnCustomer => "attack_on_customer",
            Cause::GuidelineViolation => "guideline_violation",
            Cause::CustomerNegligence => "customer_negligence",
            Cause::IllegalContent => "illegal_content",
            Cause::TrafficSurge => "traffic_surge",
            Cause::TrialFeature => "trial_feature",
            Cause::AnnouncedEvent => "announced_event",
            Cause::ScheduledMaintenance => "scheduled_maintenance",
            Cause::ThirdPartyNetwork => "third_party_network",
            Cause::ForceMajeure => "force_majeure",
            Cause::RegulatoryControl => "regulatory_control",
            Cause::InvalidNumber => "invalid_number",
            Cause::PlatformRuleViolation => "platform_rule_violation",
            Cause::RecipientHarassmentReport => "recipient_harassment_report",
            Cause::NotAttributableToProvider => "not_attributable_to_provider",
        }
    }

    /// The cause a snake_case name stands for.
    pub fn from_name(name: &str) -> Option<Cause> {
        Cause::ALL.into_iter().find(|cause| cause.name() == name)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A cause a policy declares beside the shared vocabulary (`[[causes]]`), such as AWS's account
/// suspension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyCause {
    /// Its id in the file and on the wire: lowercase letters, digits and `_`, never a shared
    /// cause's name.
    pub id: String,
    /// What it covers, in a line.
    pub title: String,
}

/// A cause as a clause names it and an outage carries it: one of the shared vocabulary, or one the
/// policy declares.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CauseId {
    /// A cause of the shared vocabulary.
    Shared(Cause),
    /// A cause the policy declares itself, by id.
    Declared(String),
}

impl CauseId {
    /// The name in policy files and explanations.
    pub fn name(&self) -> &str {
        match self {
            CauseId::Shared(cause) => cause.name(),
            CauseId::Declared(id) => id,
        }
    }
}

impl fmt::Display for CauseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl From<Cause> for CauseId {
    fn from(cause: Cause) -> Self {
        CauseId::Shared(cause)
    }
}

/// One exclusion clause of a policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Clause {
    /// The clause number as the document prints it ("4.10").
    pub id: String,
    /// A short title in our own words.
    pub title: String,
    /// The cause this clause excludes, shared or the policy's own; `None` for a catch-all that
    /// names no cause.
    pub cause: Option<CauseId>,
    /// What must hold, beyond the cause, for the clause to exclude an outage.
    pub condition: Condition,
}

/// What must be true, beyond the cause, for a clause to exclude an outage.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// The cause alone decides.
    Always,
    /// The provider announced it before the outage began (maintenance, announced events), as far
    /// ahead and in the form the clause asks.
    ProviderNotice(ProviderNoticeRule),
    /// A customer's traffic surge, possibly above a threshold, without the notice the clause asks.
    TrafficSurge(SurgeRule),
    /// The breach got the customer's own phone number blocked (the call centers' 5.18).
    NumberBlocked,
    /// "Any other circumstance exempt under laws, agreements or published rules": no fact we can
    /// be given decides it, so it always goes to a person.
    CaseByCase,
}

/// A traffic-surge clause: how big the surge must be and what notice would have saved the customer.
#[derive(Clone, Debug, PartialEq)]
pub struct SurgeRule {
    /// `None` when the clause names no threshold (IM: any unannounced surge).
    pub threshold: Option<SurgeThreshold>,
    /// The notice that would have kept the surge the provider's problem.
    pub notice: NoticeRequirement,
    /// The clause covers only surges in audio-visual chatroom use (IM's 4.7), not every surge of
    /// the customer's traffic.
    pub audio_video_chatroom_only: bool,
}

/// The notice a provider must have given for its maintenance or event to be excluded. The
/// default, any notice at any time before the outage began, is the Tencent documents' reading;
/// others ask for more (Supabase's "scheduled maintenance disclosed with at least 24 hours'
/// notice by email").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProviderNoticeRule {
    /// Only written notice counts (an email is written).
    pub written: bool,
    /// The notice must come at least this many hours before the outage began; 0 means any time
    /// before it.
    pub hours: u32,
}

/// The size a surge must reach for a clause to exclude it.
#[derive(Clone, Debug, PartialEq)]
pub struct SurgeThreshold {
    /// What is measured.
    pub metric: SurgeMetric,
    /// Whether the threshold must be exceeded or only reached.
    pub comparison: Comparison,
    /// The threshold for ordinary accounts.
    pub value: Decimal,
    /// A separate threshold for gateway accounts (SMS), when the clause has one.
    pub gateway_value: Option<Decimal>,
}

impl SurgeThreshold {
    /// True when `measured` reaches the threshold in this clause's sense (strictly above, or at
    /// least).
    pub fn reached_by(&self, measured: Decimal, threshold: Decimal) -> bool {
        match self.comparison {
            Comparison::Above => measured > threshold,
            Comparison::AtLeast => measured >= threshold,
        }
    }
}

/// What a surge threshold measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SurgeMetric {
    /// Rise in concurrent users or calls (TRTC: "波动超过3000并发").
    Concurrency,
    /// Peak queries per second (call centers: "5.0QPS").
    PeakQps,
    /// Messages one account sent in a day (SMS).
    DailyMessages,
}

impl SurgeMetric {
    /// The fact that carries the measurement, as the API names it.
    pub fn name(self) -> &'static str {
        match self {
            SurgeMetric::Concurrency => "concurrency_surge",
            SurgeMetric::PeakQps => "peak_qps",
            SurgeMetric::DailyMessages => "daily_messages",
        }
    }
}

/// How a measured value is compared with a threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// Strictly above.
    Above,
    /// At or above.
    AtLeast,
}

/// The notice a customer must have given for a surge to stay the provider's problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoticeRequirement {
    /// Only written notice counts (TRTC's "书面告知").
    pub written: bool,
    /// The notice must come at least this many business days before the surge; 0 means any time
    /// before it began.
    pub business_days: u32,
}
