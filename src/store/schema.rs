//! The ledger's schema, versioned: each migration takes a store one version up, and a store
//! records the version it is at in `sla_schema`. Opening a store applies the migrations it lacks,
//! in one transaction (PostgreSQL: under an advisory lock, so that replicas starting at once
//! upgrade it once); a store at a version newer than [`VERSION`] is refused, since this build
//! cannot know what the newer one relies on.
//!
//! Every version keeps the rows' columns as version 1 wrote them: the chain's hash covers them,
//! so a migration may add indexes, guards and tables, never rewrite a row.

/// One step up.
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    /// The version it brings a store to.
    pub version: u32,
    /// What it does, for the log.
    pub what: &'static str,
    /// Its SQL for SQLite.
    pub sqlite: &'static str,
    /// Its SQL for PostgreSQL.
    pub postgres: &'static str,
}

/// The version this build writes.
pub const VERSION: u32 = 2;

/// Every migration, in order.
pub const MIGRATIONS: [Migration; 2] = [
    Migration {
        version: 1,
        what: "the statements and their chain head",
        sqlite: "
            CREATE TABLE sla_statements (
                id INTEGER PRIMARY KEY,
                previous_hash TEXT NOT NULL,
                hash TEXT NOT NULL,
                recorded_at TEXT NOT NULL,
                subscription TEXT NOT NULL,
                policy_id TEXT NOT NULL,
                policy_versions TEXT NOT NULL,
                term_start TEXT NOT NULL,
                term_end TEXT NOT NULL,
                as_of TEXT NOT NULL,
                input_digest TEXT NOT NULL,
                restates TEXT NOT NULL,
                restatement_reason TEXT NOT NULL,
                restates_id INTEGER NOT NULL,
                keyids TEXT NOT NULL,
                response BLOB NOT NULL
            );
            CREATE TABLE sla_chain_head (
                singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                last_id INTEGER NOT NULL,
                last_hash TEXT NOT NULL
            );
            INSERT INTO sla_chain_head VALUES
                (1, 0, 'sha256:0000000000000000000000000000000000000000000000000000000000000000');
        ",
        postgres: "
            CREATE TABLE sla_statements (
                id BIGINT PRIMARY KEY,
                previous_hash TEXT NOT NULL,
                hash TEXT NOT NULL,
                recorded_at TEXT NOT NULL,
                subscription TEXT NOT NULL,
                policy_id TEXT NOT NULL,
                policy_versions TEXT NOT NULL,
                term_start TEXT NOT NULL,
                term_end TEXT NOT NULL,
                as_of TEXT NOT NULL,
                input_digest TEXT NOT NULL,
                restates TEXT NOT NULL,
                restatement_reason TEXT NOT NULL,
                restates_id BIGINT NOT NULL,
                keyids TEXT NOT NULL,
                response BYTEA NOT NULL
            );
            CREATE TABLE sla_chain_head (
                singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                last_id BIGINT NOT NULL,
                last_hash TEXT NOT NULL
            );
            INSERT INTO sla_chain_head VALUES
                (1, 0, 'sha256:0000000000000000000000000000000000000000000000000000000000000000');
        ",
    },
    Migration {
        version: 2,
        what: "append-only guards on the statements, and indexes for listings and restatements",
        sqlite: "
            CREATE TRIGGER sla_statements_no_update BEFORE UPDATE ON sla_statements
                BEGIN SELECT RAISE(ABORT, 'sla_statements is append-only'); END;
            CREATE TRIGGER sla_statements_no_delete BEFORE DELETE ON sla_statements
                BEGIN SELECT RAISE(ABORT, 'sla_statements is append-only'); END;
            CREATE INDEX sla_statements_by_subscription
                ON sla_statements (subscription, term_end, term_start);
            CREATE INDEX sla_statements_by_digest ON sla_statements (subscription, input_digest);
        ",
        postgres: "
            CREATE FUNCTION sla_statements_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'sla_statements is append-only: % refused', TG_OP; END
            $$;
            CREATE TRIGGER sla_statements_no_change BEFORE UPDATE OR DELETE ON sla_statements
                FOR EACH ROW EXECUTE FUNCTION sla_statements_append_only();
            CREATE TRIGGER sla_statements_no_truncate BEFORE TRUNCATE ON sla_statements
                FOR EACH STATEMENT EXECUTE FUNCTION sla_statements_append_only();
            CREATE INDEX sla_statements_by_subscription
                ON sla_statements (subscription, term_end, term_start);
            CREATE INDEX sla_statements_by_digest ON sla_statements (subscription, input_digest);
        ",
    },
];

/// The columns of a row, in the order the stores select them.
pub(super) const COLUMNS: &str = "id, recorded_at, previous_hash, hash, subscription, policy_id, \
     policy_versions, term_start, term_end, as_of, input_digest, restates, restatement_reason, \
     restates_id, keyids, response";
