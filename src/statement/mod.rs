//! Statements that hold up in a dispute: an answer signed so that anyone holding the public key can
//! check it without trusting whoever handed it over, and kept in a hash-chained ledger so that no
//! recorded answer can be changed, removed or reordered unnoticed. `docs/statements.md` specifies
//! the envelope, the payload and the chain byte by byte, for verifiers that are not ours.
//!
//! Plain Rust on bytes and strings: what the signed payload encodes is the API layer's business,
//! and where rows are stored is the store's (`crate::store`).
//!
//! | what | module |
//! |---|---|
//! | keys, and the ids derived from them | [`keys`] |
//! | the DSSE envelope: PAE, signing, verifying | [`envelope`] |
//! | the ledger's rows and their hash chain | [`chain`] |
//! | which figures of a month a restatement changed | [`figures`] |

pub mod chain;
pub mod envelope;
pub mod figures;
pub mod keys;

pub use chain::{ChainBreak, ChainCheck, ChainHead, Entry, GENESIS_HASH, Row};
pub use envelope::{Envelope, PAYLOAD_TYPE, Signature, VerifyError, pae, verify};
pub use figures::{Figure, Figures, changed, describe};
pub use keys::{KeyError, PublicKey, SigningKeys};
