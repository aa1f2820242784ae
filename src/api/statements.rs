//! Statements: what an answered Evaluate becomes when the server signs (`--signing-key`) and
//! records (`--statement-store`), what a restatement shows, and the RPCs that read the ledger and
//! the keys. Without a key and a ledger an Evaluate answers as it always did, byte for byte.
//!
//! The envelope and the chain are the domain's (`crate::statement`), the rows' storage the store's
//! (`crate::store`); here they meet the messages: what the payload is (the response itself, every
//! field but `statement`, as protobuf), what a row holds, and a ledger failure as UNAVAILABLE.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use prost::Message;

use super::error::ApiError;
use super::from_pb::{self, Restatement, Restates};
use super::pb;
use crate::statement::{self, Entry, Figures, Row, SigningKeys};
use crate::store::{Query, Store};

/// What the service signs statements with and records them in; either may be absent.
#[derive(Clone, Debug, Default)]
pub struct Statements {
    keys: Arc<SigningKeys>,
    store: Option<Arc<Store>>,
}

impl Statements {
    /// Signs with `keys` (none: unsigned) and records in `store` (none: unrecorded).
    pub fn new(keys: SigningKeys, store: Option<Arc<Store>>) -> Self {
        Statements {
            keys: Arc::new(keys),
            store,
        }
    }

    /// The ids of the keys it signs with, for the log.
    pub fn keyids(&self) -> Vec<String> {
        self.keys.public().map(|key| key.keyid.clone()).collect()
    }

    /// The ledger it records in, without its password, for the log.
    pub fn store_name(&self) -> Option<&str> {
        self.store.as_deref().map(Store::name)
    }
}

/// What an Evaluate's spec asked of its statement.
#[derive(Clone, Debug, Default)]
pub(super) struct Ask {
    /// `spec.subscription`.
    pub(super) subscription: Option<String>,
    /// `spec.restates` and `spec.restatement_reason`.
    pub(super) restatement: Option<Restatement>,
}

/// The earlier statement a restatement replaces, as the ledger holds it.
struct Earlier {
    id: u64,
    response: pb::EvaluateResponse,
}

/// What a response says before anything is signed or recorded: the subscription echoed, and what
/// it restates (nothing compared). The command line's in-process answers stop here.
pub(super) fn settle(ask: &Ask, mut response: pb::EvaluateResponse) -> pb::EvaluateResponse {
    if let Some(subscription) = &ask.subscription {
        response.subscription = subscription.clone();
    }
    if let Some(restatement) = &ask.restatement {
        restate(&mut response, restatement, None);
    }
    response
}

impl Statements {
    /// The response as the server answers it: compared with the statement it restates when the
    /// ledger holds that, recorded when it names a subscription and the server keeps a ledger, and
    /// signed when the server has keys. A ledger that cannot be written fails the call.
    pub(super) async fn issue(
        &self,
        ask: &Ask,
        mut response: pb::EvaluateResponse,
    ) -> Result<pb::EvaluateResponse, ApiError> {
        let Some(store) = &self.store else {
            self.sign(&mut response);
            return Ok(response);
        };
        let earlier = match &ask.restatement {
            Some(restatement) => earlier(store, restatement, ask.subscription.as_deref()).await?,
            None => None,
        };
        if let (Some(restatement), Some(earlier)) = (&ask.restatement, &earlier) {
            restate(&mut response, restatement, Some(earlier));
        }
        let Some(subscription) = &ask.subscription else {
            self.sign(&mut response);
            return Ok(response);
        };
        let mut entry = entry(&response, subscription, ask, earlier.as_ref().map(|e| e.id));
        let keys = Arc::clone(&self.keys);
        let row = store
            .append(move |id, recorded_at| {
                response.record = Some(pb::StatementRecord {
                    id,
                    recorded_at: Some(timestamp(recorded_at)),
                });
                sign(&keys, &mut response);
                entry.keyids = response
                    .statement
                    .iter()
                    .flat_map(|envelope| &envelope.signatures)
                    .map(|signature| signature.keyid.as_str())
                    .collect::<Vec<_>>()
                    .join(",");
                entry.response = response.encode_to_vec();
                entry
            })
            .await
            .map_err(|error| ApiError::StoreUnavailable(error.to_string()))?;
        tracing::debug!(statement = row.id, "statement recorded");
        decoded(&row)
    }

    /// [`Statements::issue`] for an answer settled in this process (the command line's), whose
    /// subscription and restatement it echoes.
    pub async fn issue_settled(
        &self,
        response: pb::EvaluateResponse,
    ) -> Result<pb::EvaluateResponse, ApiError> {
        let restatement = match &response.restatement {
            Some(r) => from_pb::restatement(r.restates.clone(), r.reason.clone())?,
            None => None,
        };
        let ask = Ask {
            subscription: Some(response.subscription.clone()).filter(|s| !s.is_empty()),
            restatement,
        };
        self.issue(&ask, response).await
    }

    fn sign(&self, response: &mut pb::EvaluateResponse) {
        sign(&self.keys, response);
    }

    /// GetSigningKeys.
    pub(super) fn signing_keys(&self) -> pb::GetSigningKeysResponse {
        pb::GetSigningKeysResponse {
            keys: self
                .keys
                .public()
                .map(|key| pb::SigningKey {
                    keyid: key.keyid.clone(),
                    algorithm: "ed25519".into(),
                    public_key_pem: key.pem.clone(),
                })
                .collect(),
        }
    }

    fn store(&self) -> Result<&Store, ApiError> {
        self.store.as_deref().ok_or(ApiError::NoStatementStore)
    }

    /// ListStatements.
    pub(super) async fn list(
        &self,
        request: pb::ListStatementsRequest,
    ) -> Result<pb::ListStatementsResponse, ApiError> {
        let pb::ListStatementsRequest {
            subscription,
            covering_from,
            covering_to,
            page_size,
            page_token,
        } = request;
        let store = self.store()?;
        let Some(subscription) = from_pb::opaque_text("subscription", subscription, 256)? else {
            return Err(ApiError::invalid(
                "subscription",
                "subscription is required",
            ));
        };
        let day = |field: &str, text: &str| -> Result<Option<String>, ApiError> {
            if text.is_empty() {
                return Ok(None);
            }
            from_pb::date(field, text).map(|day| Some(day.to_string()))
        };
        let covering_from = day("covering_from", &covering_from)?;
        let covering_to = day("covering_to", &covering_to)?;
        let before_id = match page_token.as_str() {
            "" => None,
            token => Some(token.parse::<u64>().map_err(|_| {
                ApiError::invalid(
                    "page_token",
                    format!("page_token '{token}' is not one a ListStatements answer gave"),
                )
            })?),
        };
        let limit = match page_size {
            0 => 100,
            size => size.min(1000),
        };
        let mut rows = store
            .list(&Query {
                subscription,
                covering_from,
                covering_to,
                before_id,
                limit: limit + 1,
            })
            .await
            .map_err(|error| ApiError::StoreUnavailable(error.to_string()))?;
        let next_page_token = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last()
                .map(|row| row.id.to_string())
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(pb::ListStatementsResponse {
            statements: rows
                .iter()
                .map(|row| statement(row, false))
                .collect::<Result<_, _>>()?,
            next_page_token,
        })
    }

    /// GetStatement.
    pub(super) async fn get(
        &self,
        request: pb::GetStatementRequest,
    ) -> Result<pb::Statement, ApiError> {
        let pb::GetStatementRequest { id } = request;
        let row = self
            .store()?
            .get(id)
            .await
            .map_err(|error| ApiError::StoreUnavailable(error.to_string()))?
            .ok_or(ApiError::StatementNotFound(id))?;
        statement(&row, true)
    }
}

/// The earlier statement `restatement` names, when the ledger holds it. An id it does not hold is
/// refused (a mistyped id would otherwise go unnoticed); a digest it does not hold may name a
/// statement made elsewhere.
async fn earlier(
    store: &Store,
    restatement: &Restatement,
    subscription: Option<&str>,
) -> Result<Option<Earlier>, ApiError> {
    let unavailable =
        |error: crate::store::StoreError| ApiError::StoreUnavailable(error.to_string());
    let row = match (&restatement.restates, subscription) {
        (Restates::Statement(id), _) => {
            let row = store
                .get(*id)
                .await
                .map_err(unavailable)?
                .ok_or(ApiError::StatementNotFound(*id))?;
            if let Some(subscription) = subscription
                && row.entry.subscription != subscription
            {
                return Err(ApiError::invalid(
                    "spec.restates",
                    format!(
                        "spec.restates names statement {id}, which was made for subscription '{}', \
                         not '{subscription}'",
                        row.entry.subscription
                    ),
                ));
            }
            row
        }
        (Restates::Digest(digest), Some(subscription)) => {
            match store
                .find_digest(subscription, digest)
                .await
                .map_err(unavailable)?
            {
                Some(row) => row,
                None => return Ok(None),
            }
        }
        (Restates::Digest(_), None) => return Ok(None),
    };
    Ok(Some(Earlier {
        id: row.id,
        response: decoded(&row)?,
    }))
}

/// The response a row holds.
fn decoded(row: &Row) -> Result<pb::EvaluateResponse, ApiError> {
    pb::EvaluateResponse::decode(row.entry.response.as_slice()).map_err(|error| {
        ApiError::StoreUnavailable(format!(
            "statement {} in the ledger does not hold a response ({error}); run \
             `sla-evaluator verify-store`",
            row.id
        ))
    })
}

/// Sets what `response` restates and, in each month, what changed: against `earlier` when the
/// ledger holds it. Replaces what an earlier call set, so it can be called again once the earlier
/// statement is known.
fn restate(
    response: &mut pb::EvaluateResponse,
    restatement: &Restatement,
    earlier: Option<&Earlier>,
) {
    response.restatement = Some(pb::Restatement {
        restates: restatement.text.clone(),
        reason: restatement.reason.clone(),
        earlier_statement_id: earlier.map_or(0, |e| e.id),
        earlier_input_digest: earlier
            .and_then(|e| e.response.provenance.as_ref())
            .map(|p| p.input_digest.clone())
            .unwrap_or_default(),
    });
    let what = match (earlier, &restatement.restates) {
        (Some(earlier), _) => format!("statement {}", earlier.id),
        (None, Restates::Statement(id)) => format!("statement {id}"),
        (None, Restates::Digest(digest)) => format!("the statement of input digest {digest}"),
    };
    for month in &mut response.months {
        let now = figures(month);
        let before = earlier.and_then(|earlier| {
            earlier
                .response
                .months
                .iter()
                .find(|m| m.month_start == month.month_start)
        });
        let text = match (earlier, before) {
            (None, _) => format!(
                "Restates {what}: {}. The earlier statement is not in this server's ledger, so \
                 its figures are not compared.",
                restatement.reason
            ),
            (Some(_), None) => format!(
                "Restates {what}: {}. The earlier statement did not cover this month.",
                restatement.reason
            ),
            (Some(_), Some(before)) => format!(
                "Restates {what}: {}. {}.",
                restatement.reason,
                capitalised(&statement::describe(&figures(before), &now))
            ),
        };
        month.restatement = Some(pb::MonthRestatement {
            earlier: before.map(|before| figures_message(&figures(before))),
            changed: before
                .map(|before| {
                    statement::changed(&figures(before), &now)
                        .into_iter()
                        .map(|figure| figure_kind(figure) as i32)
                        .collect()
                })
                .unwrap_or_default(),
        });
        month
            .notes
            .retain(|note| note.kind != pb::NoteKind::Restated as i32);
        month.notes.push(pb::Note {
            kind: pb::NoteKind::Restated as i32,
            text,
        });
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A month's figures as the statement module compares them.
pub(super) fn figures(month: &pb::MonthReport) -> Figures {
    Figures {
        month_start: month.month_start.clone(),
        status: status_name(month.status).to_string(),
        availability: month.availability_percent.clone(),
        tier: month.tier,
        amount: month.compensation_amount.clone(),
    }
}

fn status_name(status: i32) -> &'static str {
    pb::MonthStatus::try_from(status)
        .unwrap_or(pb::MonthStatus::Unspecified)
        .as_str_name()
        .trim_start_matches("MONTH_STATUS_")
}

fn figures_message(figures: &Figures) -> pb::MonthFigures {
    let status = pb::MonthStatus::from_str_name(&format!("MONTH_STATUS_{}", figures.status))
        .unwrap_or(pb::MonthStatus::Unspecified);
    pb::MonthFigures {
        month_start: figures.month_start.clone(),
        status: status as i32,
        availability_percent: figures.availability.clone(),
        tier: figures.tier,
        compensation_amount: figures.amount.clone(),
    }
}

fn figure_kind(figure: statement::Figure) -> pb::MonthFigure {
    match figure {
        statement::Figure::Status => pb::MonthFigure::Status,
        statement::Figure::Availability => pb::MonthFigure::Availability,
        statement::Figure::Tier => pb::MonthFigure::Tier,
        statement::Figure::Amount => pb::MonthFigure::Amount,
    }
}

/// Signs `response` with every key: the payload is the response without its envelope.
fn sign(keys: &SigningKeys, response: &mut pb::EvaluateResponse) {
    if keys.is_empty() {
        return;
    }
    response.statement = None;
    let envelope = keys.sign(statement::PAYLOAD_TYPE, response.encode_to_vec());
    response.statement = Some(envelope_message(envelope));
}

/// The domain's envelope as the message.
pub(super) fn envelope_message(envelope: statement::Envelope) -> pb::Envelope {
    pb::Envelope {
        payload_type: envelope.payload_type,
        payload: envelope.payload,
        signatures: envelope
            .signatures
            .into_iter()
            .map(|s| pb::EnvelopeSignature {
                keyid: s.keyid,
                sig: s.sig,
            })
            .collect(),
    }
}

/// The message as the domain's envelope.
pub fn envelope(message: &pb::Envelope) -> statement::Envelope {
    statement::Envelope {
        payload_type: message.payload_type.clone(),
        payload: message.payload.clone(),
        signatures: message
            .signatures
            .iter()
            .map(|s| statement::Signature {
                keyid: s.keyid.clone(),
                sig: s.sig.clone(),
            })
            .collect(),
    }
}

/// A row's columns for `response`; its bytes and keys are set once it is signed.
fn entry(
    response: &pb::EvaluateResponse,
    subscription: &str,
    ask: &Ask,
    restates_id: Option<u64>,
) -> Entry {
    let mut versions: Vec<&str> = Vec::new();
    for month in &response.months {
        if !versions.contains(&month.policy_version.as_str()) {
            versions.push(&month.policy_version);
        }
    }
    Entry {
        subscription: subscription.to_string(),
        policy_id: response.policy_id.clone(),
        policy_versions: versions.join(","),
        term_start: response
            .months
            .first()
            .map(|m| m.month_start.clone())
            .unwrap_or_default(),
        term_end: response
            .months
            .last()
            .map(|m| m.month_end.clone())
            .unwrap_or_default(),
        as_of: response
            .as_of
            .as_ref()
            .and_then(|at| DateTime::<Utc>::from_timestamp(at.seconds, at.nanos as u32))
            .map(|at| at.to_rfc3339_opts(SecondsFormat::Nanos, true))
            .unwrap_or_default(),
        input_digest: response
            .provenance
            .as_ref()
            .map(|p| p.input_digest.clone())
            .unwrap_or_default(),
        restates: ask
            .restatement
            .as_ref()
            .map(|r| r.text.clone())
            .unwrap_or_default(),
        restatement_reason: ask
            .restatement
            .as_ref()
            .map(|r| r.reason.clone())
            .unwrap_or_default(),
        restates_id: restates_id.unwrap_or(0),
        keyids: String::new(),
        response: Vec::new(),
    }
}

fn timestamp(text: &str) -> prost_types::Timestamp {
    let at = DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .unwrap_or_default();
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

/// A row as the message; with its response for GetStatement.
fn statement(row: &Row, with_response: bool) -> Result<pb::Statement, ApiError> {
    let response = decoded(row)?;
    let e = &row.entry;
    let split = |text: &str| -> Vec<String> {
        text.split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    Ok(pb::Statement {
        id: row.id,
        recorded_at: Some(timestamp(&row.recorded_at)),
        subscription: e.subscription.clone(),
        policy_id: e.policy_id.clone(),
        policy_versions: split(&e.policy_versions),
        term_start: e.term_start.clone(),
        term_end: e.term_end.clone(),
        as_of: Some(timestamp(&e.as_of)),
        input_digest: e.input_digest.clone(),
        restates: e.restates.clone(),
        restatement_reason: e.restatement_reason.clone(),
        restates_statement_id: e.restates_id,
        months: response
            .months
            .iter()
            .map(|m| figures_message(&figures(m)))
            .collect(),
        keyids: split(&e.keyids),
        previous_hash: row.previous_hash.clone(),
        hash: row.hash.clone(),
        response: with_response.then_some(response),
    })
}
