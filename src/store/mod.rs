//! Where the statement ledger is kept: an embedded SQLite file (`sqlite:PATH`, for one server or
//! the command line) or PostgreSQL (`postgres://...`, for a fleet of replicas writing one chain).
//!
//! Both keep the same tables and the same rows ([`crate::statement::Row`], every column as text or
//! bytes), so the chain's hash does not depend on the database. Appending is one transaction that
//! locks the chain head, so that several writers (threads, processes, replicas) extend one chain
//! in turn; the schema is versioned ([`schema`]), upgraded in place when older and refused when
//! newer than this build knows.

mod postgres;
pub mod schema;
mod sqlite;

use chrono::{SecondsFormat, Utc};

use crate::statement::{ChainHead, Entry, Row};

/// Why the ledger could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no store this build keeps.
    #[error(
        "--statement-store '{0}' is neither sqlite:PATH nor a postgres:// or postgresql:// URL"
    )]
    Url(String),
    /// The database cannot be reached, read or written.
    #[error("the statement store at {url} cannot be used: {reason}")]
    Unavailable {
        /// The store, without its password.
        url: String,
        /// What the database said.
        reason: String,
    },
    /// The store was written by a newer build.
    #[error(
        "the statement store at {url} has schema version {found}, newer than the {supported} this \
         sla-evaluator ({version}) knows; run a newer sla-evaluator against it",
        version = env!("CARGO_PKG_VERSION")
    )]
    TooNew {
        /// The store, without its password.
        url: String,
        /// Its version.
        found: u32,
        /// The newest this build knows.
        supported: u32,
    },
}

/// Whether opening a store may change its schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Open {
    /// Create the tables, or upgrade older ones: what a writer does.
    Migrate,
    /// Read only: an older schema is read as it is (every version keeps the rows' columns).
    Read,
}

/// Which statements a listing wants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// The subscription.
    pub subscription: String,
    /// Only statements whose term ends on or after this day, `YYYY-MM-DD`.
    pub covering_from: Option<String>,
    /// Only statements whose term starts on or before this day.
    pub covering_to: Option<String>,
    /// Only statements older than this id (the page before).
    pub before_id: Option<u64>,
    /// At most this many.
    pub limit: u32,
}

/// A statement ledger.
#[derive(Debug)]
pub enum Store {
    /// An embedded SQLite file.
    Sqlite(sqlite::Sqlite),
    /// A PostgreSQL database.
    Postgres(Box<postgres::Postgres>),
}

impl Store {
    /// Opens the store `url` names: `sqlite:PATH` (created when missing) or `postgres://...`.
    pub async fn open(url: &str, open: Open) -> Result<Store, StoreError> {
        if let Some(path) = url.strip_prefix("sqlite:") {
            if path.is_empty() {
                return Err(StoreError::Url(url.to_string()));
            }
            return Ok(Store::Sqlite(sqlite::Sqlite::open(path, open).await?));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Store::Postgres(Box::new(
                postgres::Postgres::open(url, open).await?,
            )));
        }
        Err(StoreError::Url(redact(url)))
    }

    /// Appends a row: in one transaction holding the chain head, `entry` is asked for the row's
    /// content given its id and time (so that what is signed can name them), and the row is
    /// chained to the head.
    pub async fn append(
        &self,
        entry: impl FnOnce(u64, &str) -> Entry + Send + 'static,
    ) -> Result<Row, StoreError> {
        match self {
            Store::Sqlite(store) => store.append(Box::new(entry)).await,
            Store::Postgres(store) => store.append(Box::new(entry)).await,
        }
    }

    /// The row with `id`.
    pub async fn get(&self, id: u64) -> Result<Option<Row>, StoreError> {
        match self {
            Store::Sqlite(store) => store.get(id).await,
            Store::Postgres(store) => store.get(id).await,
        }
    }

    /// The newest row of `subscription` with `input_digest`.
    pub async fn find_digest(
        &self,
        subscription: &str,
        input_digest: &str,
    ) -> Result<Option<Row>, StoreError> {
        match self {
            Store::Sqlite(store) => store.find_digest(subscription, input_digest).await,
            Store::Postgres(store) => store.find_digest(subscription, input_digest).await,
        }
    }

    /// The rows `query` asks for, newest first.
    pub async fn list(&self, query: &Query) -> Result<Vec<Row>, StoreError> {
        match self {
            Store::Sqlite(store) => store.list(query).await,
            Store::Postgres(store) => store.list(query).await,
        }
    }

    /// Up to `limit` rows with ids above `after`, in id order: the chain, a page at a time.
    pub async fn rows_after(&self, after: u64, limit: u32) -> Result<Vec<Row>, StoreError> {
        match self {
            Store::Sqlite(store) => store.rows_after(after, limit).await,
            Store::Postgres(store) => store.rows_after(after, limit).await,
        }
    }

    /// The chain's head as the store keeps it.
    pub async fn head(&self) -> Result<ChainHead, StoreError> {
        match self {
            Store::Sqlite(store) => store.head().await,
            Store::Postgres(store) => store.head().await,
        }
    }

    /// The store's URL without its password, for logs and messages.
    pub fn name(&self) -> &str {
        match self {
            Store::Sqlite(store) => &store.name,
            Store::Postgres(store) => &store.name,
        }
    }
}

/// Whether a store at schema version `found` can be opened (0: no ledger in it yet).
fn check_version(name: &str, found: u32, open: Open) -> Result<(), StoreError> {
    if found > schema::VERSION {
        return Err(StoreError::TooNew {
            url: name.to_string(),
            found,
            supported: schema::VERSION,
        });
    }
    if open == Open::Read && found == 0 {
        return Err(StoreError::Unavailable {
            url: name.to_string(),
            reason: "it holds no statement ledger (no sla_schema table)".into(),
        });
    }
    Ok(())
}

/// What a row's content is asked for while the head is held.
type EntryFn = Box<dyn FnOnce(u64, &str) -> Entry + Send>;

/// The instant a row is recorded, as its column keeps it.
fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// `url` without the password between `:` and `@`, for messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}:***@{host}"),
            None => format!("{user}@{host}"),
        },
        None => authority.to_string(),
    };
    let path = if path.is_empty() && !rest.contains('/') {
        String::new()
    } else {
        format!("/{path}")
    };
    // Query parameters may carry a password too.
    let path = match path.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        format!("{key}=***")
                    }
                    _ => pair.to_string(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => path,
    };
    format!("{scheme}://{authority}{path}")
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_reach_a_message() {
        assert_eq!(
            redact("postgres://sla:secret@db:5432/ledger"),
            "postgres://sla:***@db:5432/ledger"
        );
        assert_eq!(
            redact("postgres://db/ledger?user=sla&password=secret"),
            "postgres://db/ledger?user=sla&password=***"
        );
        assert_eq!(redact("postgres://db"), "postgres://db");
    }
}
