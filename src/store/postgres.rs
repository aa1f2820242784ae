//! The ledger in PostgreSQL, for a fleet of replicas writing one chain.
//!
//! Each append is one transaction that first locks the chain head's row (`SELECT ... FOR UPDATE`):
//! a second writer, on this replica or another, waits on that lock until the first commits, then
//! reads the new head (READ COMMITTED re-reads a row it waited for), so the rows of every replica
//! form one chain with no gap and no fork. A connection that broke is opened again on the next
//! call; until then calls fail with the reason.

use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls, Transaction};

use super::schema::{COLUMNS, MIGRATIONS};
use super::{EntryFn, Open, Query, StoreError, now, redact};
use crate::statement::{ChainHead, Entry, Row};

/// The advisory lock migrations run under, so that replicas starting at once upgrade once.
const MIGRATION_LOCK: i64 = 0x534C_4131; // "SLA1"

/// A PostgreSQL ledger.
pub struct Postgres {
    /// The URL as given, password included: never logged.
    url: String,
    client: Mutex<Option<Client>>,
    /// The URL without its password.
    pub(super) name: String,
}

impl std::fmt::Debug for Postgres {
    /// The URL without its password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("name", &self.name)
            .finish()
    }
}

impl Postgres {
    pub(super) async fn open(url: &str, open: Open) -> Result<Postgres, StoreError> {
        let name = redact(url);
        let mut client = connect(url, &name).await?;
        migrate(&mut client, &name, open).await?;
        Ok(Postgres {
            url: url.to_string(),
            client: Mutex::new(Some(client)),
            name,
        })
    }

    fn fail(&self, error: tokio_postgres::Error) -> StoreError {
        failure(&self.name, &error)
    }

    /// The connection, opened again when it broke.
    async fn client(&self) -> Result<tokio::sync::MutexGuard<'_, Option<Client>>, StoreError> {
        let mut client = self.client.lock().await;
        if client.as_ref().is_none_or(Client::is_closed) {
            *client = None;
            *client = Some(connect(&self.url, &self.name).await?);
        }
        Ok(client)
    }

    pub(super) async fn append(&self, entry: EntryFn) -> Result<Row, StoreError> {
        let mut guard = self.client().await?;
        let client = guard.as_mut().expect("client() connects");
        let transaction = client.transaction().await.map_err(|e| self.fail(e))?;
        let row = self
            .append_in(&transaction, entry)
            .await
            .map_err(|e| self.fail(e))?;
        transaction.commit().await.map_err(|e| self.fail(e))?;
        Ok(row)
    }

    async fn append_in(
        &self,
        transaction: &Transaction<'_>,
        entry: EntryFn,
    ) -> Result<Row, tokio_postgres::Error> {
        let head = transaction
            .query_one(
                "SELECT last_id, last_hash FROM sla_chain_head WHERE singleton = 1 FOR UPDATE",
                &[],
            )
            .await?;
        let head = ChainHead {
            last_id: head.get::<_, i64>(0) as u64,
            last_hash: head.get(1),
        };
        let recorded_at = now();
        let entry = entry(head.last_id + 1, &recorded_at);
        let row = Row::next(&head, recorded_at, entry);
        let e = &row.entry;
        transaction
            .execute(
                &format!(
                    "INSERT INTO sla_statements ({COLUMNS}) VALUES \
                     ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
                ),
                &[
                    &(row.id as i64),
                    &row.recorded_at,
                    &row.previous_hash,
                    &row.hash,
                    &e.subscription,
                    &e.policy_id,
                    &e.policy_versions,
                    &e.term_start,
                    &e.term_end,
                    &e.as_of,
                    &e.input_digest,
                    &e.restates,
                    &e.restatement_reason,
                    &(e.restates_id as i64),
                    &e.keyids,
                    &e.response,
                ],
            )
            .await?;
        transaction
            .execute(
                "UPDATE sla_chain_head SET last_id = $1, last_hash = $2 WHERE singleton = 1",
                &[&(row.id as i64), &row.hash],
            )
            .await?;
        Ok(row)
    }

    /// Rows a query selects.
    async fn select(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let guard = self.client().await?;
        let client = guard.as_ref().expect("client() connects");
        let rows = client.query(sql, params).await.map_err(|e| self.fail(e))?;
        Ok(rows.iter().map(row).collect())
    }

    pub(super) async fn get(&self, id: u64) -> Result<Option<Row>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM sla_statements WHERE id = $1");
        Ok(self.select(&sql, &[&(id as i64)]).await?.pop())
    }

    pub(super) async fn find_digest(
        &self,
        subscription: &str,
        digest: &str,
    ) -> Result<Option<Row>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM sla_statements WHERE subscription = $1 AND input_digest = $2 \
             ORDER BY id DESC LIMIT 1"
        );
        Ok(self.select(&sql, &[&subscription, &digest]).await?.pop())
    }

    pub(super) async fn list(&self, query: &Query) -> Result<Vec<Row>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM sla_statements WHERE subscription = $1 \
             AND ($2 = '' OR term_end >= $2) AND ($3 = '' OR term_start <= $3) AND id < $4 \
             ORDER BY id DESC LIMIT $5"
        );
        let from = query.covering_from.clone().unwrap_or_default();
        let to = query.covering_to.clone().unwrap_or_default();
        let before = query.before_id.map_or(i64::MAX, |id| id as i64);
        let limit = i64::from(query.limit);
        self.select(&sql, &[&query.subscription, &from, &to, &before, &limit])
            .await
    }

    pub(super) async fn rows_after(&self, after: u64, limit: u32) -> Result<Vec<Row>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM sla_statements WHERE id > $1 ORDER BY id LIMIT $2");
        self.select(&sql, &[&(after as i64), &i64::from(limit)])
            .await
    }

    pub(super) async fn head(&self) -> Result<ChainHead, StoreError> {
        let guard = self.client().await?;
        let client = guard.as_ref().expect("client() connects");
        let head = client
            .query_one(
                "SELECT last_id, last_hash FROM sla_chain_head WHERE singleton = 1",
                &[],
            )
            .await
            .map_err(|e| self.fail(e))?;
        Ok(ChainHead {
            last_id: head.get::<_, i64>(0) as u64,
            last_hash: head.get(1),
        })
    }
}

fn failure(name: &str, error: &tokio_postgres::Error) -> StoreError {
    // The database's own message (a DbError's), which names what failed, when there is one.
    let reason = match error.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => error.to_string(),
    };
    StoreError::Unavailable {
        url: name.to_string(),
        reason,
    }
}

async fn connect(url: &str, name: &str) -> Result<Client, StoreError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|error| failure(name, &error))?;
    let name = name.to_string();
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(store = name, %error, "statement store connection closed");
        }
    });
    Ok(client)
}

fn row(row: &tokio_postgres::Row) -> Row {
    Row {
        id: row.get::<_, i64>(0) as u64,
        recorded_at: row.get(1),
        previous_hash: row.get(2),
        hash: row.get(3),
        entry: Entry {
            subscription: row.get(4),
            policy_id: row.get(5),
            policy_versions: row.get(6),
            term_start: row.get(7),
            term_end: row.get(8),
            as_of: row.get(9),
            input_digest: row.get(10),
            restates: row.get(11),
            restatement_reason: row.get(12),
            restates_id: row.get::<_, i64>(13) as u64,
            keyids: row.get(14),
            response: row.get(15),
        },
    }
}

/// Brings the schema to the version this build writes, under an advisory lock (or, reading,
/// checks it can be read).
async fn migrate(client: &mut Client, name: &str, open: Open) -> Result<(), StoreError> {
    let fail = |error: tokio_postgres::Error| failure(name, &error);
    let transaction = client.transaction().await.map_err(fail)?;
    if open == Open::Migrate {
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(fail)?;
    }
    let versioned: bool = transaction
        .query_one("SELECT to_regclass('sla_schema') IS NOT NULL", &[])
        .await
        .map_err(fail)?
        .get(0);
    let found = if versioned {
        transaction
            .query_one("SELECT coalesce(max(version), 0) FROM sla_schema", &[])
            .await
            .map_err(fail)?
            .get::<_, i32>(0) as u32
    } else {
        0
    };
    super::check_version(name, found, open)?;
    if open == Open::Read {
        return Ok(());
    }
    if !versioned {
        transaction
            .batch_execute("CREATE TABLE sla_schema (version INTEGER NOT NULL)")
            .await
            .map_err(fail)?;
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > found) {
        transaction
            .batch_execute(migration.postgres)
            .await
            .map_err(fail)?;
        transaction
            .execute(
                "INSERT INTO sla_schema VALUES ($1)",
                &[&(migration.version as i32)],
            )
            .await
            .map_err(fail)?;
        tracing::info!(
            store = name,
            version = migration.version,
            what = migration.what,
            "statement store upgraded"
        );
    }
    transaction.commit().await.map_err(fail)
}
