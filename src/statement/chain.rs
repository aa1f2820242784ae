//! The ledger's rows and their hash chain: each row carries the hash of the row before it and its
//! own hash over that and every column, so that changing, removing or reordering a row breaks the
//! chain at that row. `docs/statements.md` specifies the hash byte by byte.
//!
//! Every column is hashed as the text (or bytes) the store keeps, so the check needs no parsing
//! and no canonical form: a value rewritten in an equivalent spelling is a change too.

use sha2::{Digest, Sha256};

/// The `previous_hash` of the first row.
pub const GENESIS_HASH: &str =
    "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// The first bytes hashed; a new version of the row hash changes it.
const VERSION: &str = "sla-evaluator ledger v1\n";

/// What one answered Evaluate puts in the ledger, as the store keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    /// `EvaluationSpec.subscription`.
    pub subscription: String,
    /// The policy evaluated under.
    pub policy_id: String,
    /// The months' policy versions, distinct, in month order, joined by `,`.
    pub policy_versions: String,
    /// The term's first day, `YYYY-MM-DD`.
    pub term_start: String,
    /// The term's last day, `YYYY-MM-DD`.
    pub term_end: String,
    /// `as_of`, RFC 3339 in UTC with nine fractional digits.
    pub as_of: String,
    /// `Provenance.input_digest`.
    pub input_digest: String,
    /// `EvaluationSpec.restates`, or empty.
    pub restates: String,
    /// `EvaluationSpec.restatement_reason`, or empty.
    pub restatement_reason: String,
    /// The restated statement's id when the ledger held it, else 0.
    pub restates_id: u64,
    /// The ids of the keys that signed the response, joined by `,`; empty when unsigned.
    pub keyids: String,
    /// The response as answered (protobuf), its signed envelope included.
    pub response: Vec<u8>,
}

/// One row of the ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// Its place in the chain, from 1.
    pub id: u64,
    /// When it was recorded, RFC 3339 in UTC with nine fractional digits.
    pub recorded_at: String,
    /// The hash of the row before ([`GENESIS_HASH`] for the first).
    pub previous_hash: String,
    /// Its own hash: [`row_hash`].
    pub hash: String,
    /// What it records.
    pub entry: Entry,
}

impl Row {
    /// The row that follows `head`, with its hash.
    pub fn next(head: &ChainHead, recorded_at: String, entry: Entry) -> Row {
        let id = head.last_id + 1;
        let hash = row_hash(&head.last_hash, id, &recorded_at, &entry);
        Row {
            id,
            recorded_at,
            previous_hash: head.last_hash.clone(),
            hash,
            entry,
        }
    }

    /// Whether its hash is the one its columns give.
    fn hash_holds(&self) -> bool {
        row_hash(&self.previous_hash, self.id, &self.recorded_at, &self.entry) == self.hash
    }
}

/// The hash of a row: SHA-256 over [`VERSION`] and then, for each column in a fixed order,
/// `name SP length SP value LF` (the length in bytes, in ASCII decimal), so that no value can
/// bleed into the next.
pub fn row_hash(previous_hash: &str, id: u64, recorded_at: &str, entry: &Entry) -> String {
    let mut hash = Sha256::new();
    hash.update(VERSION.as_bytes());
    let mut column = |name: &str, value: &[u8]| {
        hash.update(format!("{name} {} ", value.len()).as_bytes());
        hash.update(value);
        hash.update(b"\n");
    };
    column("previous_hash", previous_hash.as_bytes());
    column("id", id.to_string().as_bytes());
    column("recorded_at", recorded_at.as_bytes());
    column("subscription", entry.subscription.as_bytes());
    column("policy_id", entry.policy_id.as_bytes());
    column("policy_versions", entry.policy_versions.as_bytes());
    column("term_start", entry.term_start.as_bytes());
    column("term_end", entry.term_end.as_bytes());
    column("as_of", entry.as_of.as_bytes());
    column("input_digest", entry.input_digest.as_bytes());
    column("restates", entry.restates.as_bytes());
    column("restatement_reason", entry.restatement_reason.as_bytes());
    column("restates_id", entry.restates_id.to_string().as_bytes());
    column("keyids", entry.keyids.as_bytes());
    column("response", &entry.response);
    let hex: String = hash
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// The last row of a chain, as the store keeps it beside the rows: removing the newest rows
/// leaves the chain whole but short of its head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainHead {
    /// The last row's id; 0 for an empty ledger.
    pub last_id: u64,
    /// The last row's hash; [`GENESIS_HASH`] for an empty ledger.
    pub last_hash: String,
}

impl Default for ChainHead {
    fn default() -> Self {
        ChainHead {
            last_id: 0,
            last_hash: GENESIS_HASH.to_string(),
        }
    }
}

/// Where a chain breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// A row's columns no longer give its hash.
    #[error(
        "statement {id} was changed after it was recorded: its columns no longer give its hash"
    )]
    Changed {
        /// The row.
        id: u64,
    },
    /// Rows are missing before this one.
    #[error("statement {expected} is missing: after statement {} comes {found} (rows removed)", expected - 1)]
    Missing {
        /// The id that should come next.
        expected: u64,
        /// The id that does.
        found: u64,
    },
    /// A row does not name the hash of the row before it.
    #[error(
        "statement {id} does not follow statement {}: its previous_hash is not that row's hash \
         (rows removed, reordered or rewritten)",
        id - 1
    )]
    NotLinked {
        /// The row.
        id: u64,
    },
    /// The newest rows are gone, or the head was rewritten.
    #[error(
        "the chain ends at statement {last_id} but its head names statement {head_id}: the newest \
         statements were removed, or the head was rewritten"
    )]
    Head {
        /// The last row's id.
        last_id: u64,
        /// The head's.
        head_id: u64,
    },
}

/// A check of a whole chain, fed its rows in id order.
#[derive(Debug, Default)]
pub struct ChainCheck {
    last: ChainHead,
}

impl ChainCheck {
    /// Takes the next row.
    pub fn push(&mut self, row: &Row) -> Result<(), ChainBreak> {
        let expected = self.last.last_id + 1;
        if row.id != expected {
            return Err(ChainBreak::Missing {
                expected,
                found: row.id,
            });
        }
        if !row.hash_holds() {
            return Err(ChainBreak::Changed { id: row.id });
        }
        if row.previous_hash != self.last.last_hash {
            return Err(ChainBreak::NotLinked { id: row.id });
        }
        self.last = ChainHead {
            last_id: row.id,
            last_hash: row.hash.clone(),
        };
        Ok(())
    }

    /// After the last row: the chain reaches its head. Returns the head.
    pub fn finish(self, head: &ChainHead) -> Result<ChainHead, ChainBreak> {
        if self.last != *head {
            return Err(ChainBreak::Head {
                last_id: self.last.last_id,
                head_id: head.last_id,
            });
        }
        Ok(self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<Row> {
        let mut head = ChainHead::default();
        (0..n)
            .map(|i| {
                let row = Row::next(
                    &head,
                    format!("2026-04-0{}T00:00:00.000000000Z", i + 1),
                    Entry {
                        subscription: "acme".into(),
                        response: vec![i as u8; 3],
                        ..Entry::default()
                    },
                );
                head = ChainHead {
                    last_id: row.id,
                    last_hash: row.hash.clone(),
                };
                row
            })
            .collect()
    }

    fn check(rows: &[Row], head: &ChainHead) -> Result<ChainHead, ChainBreak> {
        let mut check = ChainCheck::default();
        for row in rows {
            check.push(row)?;
        }
        check.finish(head)
    }

    fn head(rows: &[Row]) -> ChainHead {
        let last = rows.last().unwrap();
        ChainHead {
            last_id: last.id,
            last_hash: last.hash.clone(),
        }
    }

    #[test]
    fn a_whole_chain_holds_and_every_kind_of_tampering_breaks_it() {
        let rows = chain(4);
        let top = head(&rows);
        assert_eq!(check(&rows, &top), Ok(top.clone()));

        let mut changed = rows.clone();
        changed[1].entry.response[0] = 9;
        assert_eq!(check(&changed, &top), Err(ChainBreak::Changed { id: 2 }));

        let mut removed = rows.clone();
        removed.remove(2);
        assert_eq!(
            check(&removed, &top),
            Err(ChainBreak::Missing {
                expected: 3,
                found: 4
            })
        );

        // Swapping two rows' contents, ids kept in order: the links break.
        let mut reordered = rows.clone();
        let (a, b) = (reordered[1].clone(), reordered[2].clone());
        reordered[1] = Row { id: 2, ..b };
        reordered[2] = Row { id: 3, ..a };
        assert!(check(&reordered, &top).is_err());

        let truncated = &rows[..3];
        assert_eq!(
            check(truncated, &top),
            Err(ChainBreak::Head {
                last_id: 3,
                head_id: 4
            })
        );
    }
}
