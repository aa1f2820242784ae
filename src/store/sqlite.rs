//! The ledger in an embedded SQLite file. One connection, used on the blocking pool; each append is
//! an `IMMEDIATE` transaction, which takes SQLite's write lock before reading the head, so that
//! processes sharing the file (a server and `evaluate`, say) extend one chain in turn.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::schema::{self, COLUMNS, MIGRATIONS};
use super::{EntryFn, Open, Query, StoreError, now};
use crate::statement::{ChainHead, Entry, Row};

/// How long a writer waits for another process's write lock before the call fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A SQLite ledger.
#[derive(Debug)]
pub struct Sqlite {
    connection: Arc<Mutex<Connection>>,
    /// `sqlite:PATH`.
    pub(super) name: String,
}

impl Sqlite {
    pub(super) async fn open(path: &str, open: Open) -> Result<Sqlite, StoreError> {
        let name = format!("sqlite:{path}");
        let path = path.to_string();
        let failed = fail(&name);
        let opened = tokio::task::spawn_blocking(move || -> Result<Connection, StoreError> {
            let mut connection = match open {
                Open::Migrate => Connection::open(&path),
                Open::Read => {
                    Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                }
            }
            .map_err(&failed)?;
            connection.busy_timeout(BUSY_TIMEOUT).map_err(&failed)?;
            if open == Open::Migrate {
                // WAL: readers do not wait for the writer.
                connection
                    .query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
                    .map_err(&failed)?;
            }
            migrate(&mut connection, &format!("sqlite:{path}"), open)?;
            Ok(connection)
        })
        .await
        .map_err(|error| unavailable(&name, error.to_string()))??;
        Ok(Sqlite {
            connection: Arc::new(Mutex::new(opened)),
            name,
        })
    }

    /// Runs `work` on the connection, on the blocking pool.
    async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let connection = Arc::clone(&self.connection);
        let failed = fail(&self.name);
        tokio::task::spawn_blocking(move || {
            let mut connection = connection.lock().unwrap_or_else(PoisonError::into_inner);
            work(&mut connection)
        })
        .await
        .map_err(|error| unavailable(&self.name, error.to_string()))?
        .map_err(failed)
    }

    pub(super) async fn append(&self, entry: EntryFn) -> Result<Row, StoreError> {
        self.with(move |connection| {
            let transaction =
                connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let head = read_head(&transaction)?;
            let recorded_at = now();
            let entry = entry(head.last_id + 1, &recorded_at);
            let row = Row::next(&head, recorded_at, entry);
            let e = &row.entry;
            transaction.execute(
                &format!(
                    "INSERT INTO sla_statements ({COLUMNS}) VALUES \
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
                ),
                params![
                    row.id as i64,
                    row.recorded_at,
                    row.previous_hash,
                    row.hash,
                    e.subscription,
                    e.policy_id,
                    e.policy_versions,
                    e.term_start,
                    e.term_end,
                    e.as_of,
                    e.input_digest,
                    e.restates,
                    e.restatement_reason,
                    e.restates_id as i64,
                    e.keyids,
                    e.response,
                ],
            )?;
            transaction.execute(
                "UPDATE sla_chain_head SET last_id = ?1, last_hash = ?2 WHERE singleton = 1",
                params![row.id as i64, row.hash],
            )?;
            transaction.commit()?;
            Ok(row)
        })
        .await
    }

    pub(super) async fn get(&self, id: u64) -> Result<Option<Row>, StoreError> {
        self.with(move |connection| {
            connection
                .query_row(
                    &format!("SELECT {COLUMNS} FROM sla_statements WHERE id = ?1"),
                    [id as i64],
                    row,
                )
                .optional()
        })
        .await
    }

    pub(super) async fn find_digest(
        &self,
        subscription: &str,
        digest: &str,
    ) -> Result<Option<Row>, StoreError> {
        let (subscription, digest) = (subscription.to_string(), digest.to_string());
        self.with(move |connection| {
            connection
                .query_row(
                    &format!(
                        "SELECT {COLUMNS} FROM sla_statements \
                         WHERE subscription = ?1 AND input_digest = ?2 ORDER BY id DESC LIMIT 1"
                    ),
                    [subscription, digest],
                    row,
                )
                .optional()
        })
        .await
    }

    pub(super) async fn list(&self, query: &Query) -> Result<Vec<Row>, StoreError> {
        let query = query.clone();
        self.with(move |connection| {
            let mut statement = connection.prepare(&format!(
                "SELECT {COLUMNS} FROM sla_statements WHERE subscription = ?1 \
                 AND (?2 = '' OR term_end >= ?2) AND (?3 = '' OR term_start <= ?3) AND id < ?4 \
                 ORDER BY id DESC LIMIT ?5"
            ))?;
            statement
                .query_map(
                    params![
                        query.subscription,
                        query.covering_from.unwrap_or_default(),
                        query.covering_to.unwrap_or_default(),
                        query.before_id.map_or(i64::MAX, |id| id as i64),
                        i64::from(query.limit),
                    ],
                    row,
                )?
                .collect()
        })
        .await
    }

    pub(super) async fn rows_after(&self, after: u64, limit: u32) -> Result<Vec<Row>, StoreError> {
        self.with(move |connection| {
            let mut statement = connection.prepare(&format!(
                "SELECT {COLUMNS} FROM sla_statements WHERE id > ?1 ORDER BY id LIMIT ?2"
            ))?;
            statement
                .query_map(params![after as i64, i64::from(limit)], row)?
                .collect()
        })
        .await
    }

    pub(super) async fn head(&self) -> Result<ChainHead, StoreError> {
        self.with(|connection| read_head(connection)).await
    }
}

fn unavailable(name: &str, reason: String) -> StoreError {
    StoreError::Unavailable {
        url: name.to_string(),
        reason,
    }
}

fn fail(name: &str) -> impl Fn(rusqlite::Error) -> StoreError + use<> {
    let name = name.to_string();
    move |error| unavailable(&name, error.to_string())
}

fn read_head(connection: &Connection) -> rusqlite::Result<ChainHead> {
    connection.query_row(
        "SELECT last_id, last_hash FROM sla_chain_head WHERE singleton = 1",
        [],
        |row| {
            Ok(ChainHead {
                last_id: row.get::<_, i64>(0)? as u64,
                last_hash: row.get(1)?,
            })
        },
    )
}

fn row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        id: row.get::<_, i64>(0)? as u64,
        recorded_at: row.get(1)?,
        previous_hash: row.get(2)?,
        hash: row.get(3)?,
        entry: Entry {
            subscription: row.get(4)?,
            policy_id: row.get(5)?,
            policy_versions: row.get(6)?,
            term_start: row.get(7)?,
            term_end: row.get(8)?,
            as_of: row.get(9)?,
            input_digest: row.get(10)?,
            restates: row.get(11)?,
            restatement_reason: row.get(12)?,
            restates_id: row.get::<_, i64>(13)? as u64,
            keyids: row.get(14)?,
            response: row.get(15)?,
        },
    })
}

/// Brings the schema to [`schema::VERSION`] (or, reading, checks it can be read).
fn migrate(connection: &mut Connection, name: &str, open: Open) -> Result<(), StoreError> {
    let failed = fail(name);
    let transaction = connection
        .transaction_with_behavior(match open {
            Open::Migrate => TransactionBehavior::Immediate,
            Open::Read => TransactionBehavior::Deferred,
        })
        .map_err(&failed)?;
    let versioned: bool = transaction
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'sla_schema'",
            [],
            |row| row.get(0),
        )
        .map_err(&failed)?;
    let found: u32 = if versioned {
        transaction
            .query_row("SELECT max(version) FROM sla_schema", [], |row| {
                row.get::<_, Option<u32>>(0)
            })
            .map_err(&failed)?
            .unwrap_or(0)
    } else {
        0
    };
    super::check_version(name, found, open)?;
    if open == Open::Read {
        return Ok(());
    }
    if !versioned {
        transaction
            .execute_batch("CREATE TABLE sla_schema (version INTEGER NOT NULL)")
            .map_err(&failed)?;
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > found) {
        transaction
            .execute_batch(migration.sqlite)
            .map_err(&failed)?;
        transaction
            .execute("INSERT INTO sla_schema VALUES (?1)", [migration.version])
            .map_err(&failed)?;
        tracing::info!(
            store = name,
            version = migration.version,
            what = migration.what,
            "statement store upgraded"
        );
    }
    transaction.commit().map_err(&failed)?;
    debug_assert_eq!(MIGRATIONS.last().map(|m| m.version), Some(schema::VERSION));
    Ok(())
}
