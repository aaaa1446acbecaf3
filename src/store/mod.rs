//! The database: one pool, one code path for SQLite and PostgreSQL through sqlx's Any driver.
//! Each file below owns one kind of record; no other module writes SQL.

mod audit;
mod bounces;
mod claims;
mod deliveries;
mod digests;
mod list_archive;
mod members;
mod messages;
mod nodes;
mod organisations;
mod publications;
mod rate;
mod requests;
mod retention;
mod roster;
mod settings;
mod web;

#[cfg(test)]
mod schema_tests;
#[cfg(test)]
mod test_support;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Connection, Executor};

pub use audit::{Actor, AuditEvent, AuditScope, Audited, Channel};
pub use bounces::{
    BounceEvent, BounceReport, BouncedDelivery, ComplaintEvent, DisabledMember, Rescore,
    ScoreOutcome, ScoreState,
};
pub use claims::{Claimed, Job, JOB_LEASE_MS};
pub use deliveries::{Claim, ClaimedDelivery, Copies, DeliveryOutcome, QueueCounts, Recorded};
pub use digests::{DeliveryMode, DigestEntry, DigestKind, DigestMessage, DigestQueued, NewDigest};
pub use list_archive::{month_of, ArchivedHead, ArchivedMessage, NewArchived};
pub use members::{ImportLine, Member, MemberAdded};
pub use messages::{
    HeldHead, MessageKind, NewMessage, PendingMessage, ReadyNotice, ReceivedCommand, StoredArrival,
    StoredMessage, UnknownMessageKind, WAITING_STATES,
};
pub use nodes::{NodeRow, TakenOver};
pub use organisations::Organisation;
pub use publications::{
    Edition, EditionInserted, EditionMessage, EditionRender, Item, ItemChanges, NewEdition, NewItem,
};
pub use rate::RateLimit;
pub use requests::{Request, RequestKind, RequestLimits, RequestOpened};
pub use retention::{PurgedMessages, SpentKind};
pub use roster::{RosterPage, RosterRow};
pub use web::{NewSession, OwnSubscription, WebSession};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the database directory {path}: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Shared handle on the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Connects, creating the SQLite file and its directory when needed, and applies the
    /// migrations of the matching backend.
    pub async fn open(url: &str, max_connections: u32) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = backend_of(url)?;
        let url = match backend {
            Backend::Sqlite => prepare_sqlite(url)?,
            Backend::Postgres => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)?;
        // One direct attempt first: a pool that cannot connect retries until its time-out
        // and then reports only that it timed out, hiding why (refused, bad password...).
        sqlx::AnyConnection::connect_with(&options)
            .await?
            .close()
            .await?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers (CLI commands, workers) run while the daemon
                        // writes; NORMAL is durable across process crashes in WAL mode.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        Ok(Store { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a write transaction. SQLite has a single writer: taking the write lock up front
    /// (`BEGIN IMMEDIATE`) avoids the deadlock of two readers upgrading at once.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Whether the database answers a query.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn backend_of(url: &str) -> Result<Backend> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        Err(StoreError::UnsupportedUrl(url.to_string()))
    }
}

/// Makes sure the file's directory exists and that SQLite may create the file.
fn prepare_sqlite(url: &str) -> Result<String> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path != ":memory:" {
        if let Some(dir) = std::path::Path::new(path).parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                    path: dir.display().to_string(),
                    source,
                })?;
            }
        }
    }
    let query = if query.contains("mode=") {
        query.to_string()
    } else if query.is_empty() {
        "mode=rwc".to_string()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok(format!("sqlite://{path}?{query}"))
}

/// Milliseconds since the Unix epoch: every time in the database is one of these.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
