//! fenn's key-value store for functions: one SQLite database under the
//! state directory, a namespace per function (or per shared store), each
//! within the quotas of its grant, with times to live.
//!
//! Every write is one transaction, committed with `synchronous = FULL` in
//! WAL mode: when a call returns, its write survives `kill -9` and a power
//! cut (the disk's own cache aside). Each namespace's keys and bytes are
//! counted in a table beside the values, in the same transaction, so that
//! a quota is checked without a scan. Expired keys read as absent; they
//! are deleted when their namespace reaches its quota and at open.
//!
//! - [`Store`]: the database, implementing [`fenn_runtime::services::KvStore`]
//!   and, for events functions emit, [`fenn_runtime::services::EmitJournal`]
//!   (`journal`), and for flows' runs,
//!   [`fenn_runtime::services::FlowJournal`] (`runs`).
//! - [`Error`]: opening it failed.

mod journal;
mod ops;
mod runs;

use fenn_runtime::grants::KvGrant;
use fenn_runtime::services::{KvError, KvStore};
use rusqlite::{Connection, OptionalExtension as _, params};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// The database's file name under the state directory.
pub const FILE: &str = "kv.sqlite3";

/// The store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SQLite refused to open or set up the file.
    #[error("{path}: cannot open the key-value store: {source}")]
    Open {
        /// The database file.
        path: String,
        /// SQLite's reason.
        source: rusqlite::Error,
    },
}

/// The database. One connection, behind a lock: SQLite writes one
/// transaction at a time anyway, and each call is short.
pub struct Store {
    connection: Mutex<Connection>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS kv (
        ns TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, expires INTEGER,
        PRIMARY KEY (ns, key)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS usage (
        ns TEXT PRIMARY KEY NOT NULL, keys INTEGER NOT NULL, bytes INTEGER NOT NULL)
        WITHOUT ROWID;
";

impl Store {
    /// Opens (creating it if need be) the store in `state_dir`, deleting
    /// the keys that expired while fenn was off.
    ///
    /// # Errors
    ///
    /// [`Error::Open`] with SQLite's reason.
    pub fn open(state_dir: &Path) -> Result<Self, Error> {
        let path = state_dir.join(FILE);
        let error = |source| Error::Open {
            path: path.display().to_string(),
            source,
        };
        let connection = Connection::open(&path).map_err(error)?;
        // WAL: a commit is one append and one fsync; FULL: the fsync is
        // at every commit, so a returned write is durable. The WAL is
        // truncated back to 4 MiB after checkpoints.
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
                 PRAGMA journal_size_limit = 4194304; PRAGMA busy_timeout = 5000;",
            )
            .map_err(error)?;
        connection.execute_batch(SCHEMA).map_err(error)?;
        connection.execute_batch(journal::SCHEMA).map_err(error)?;
        connection.execute_batch(runs::SCHEMA).map_err(error)?;
        let store = Self {
            connection: Mutex::new(connection),
        };
        store.sweep(None).map_err(|failed| Error::Open {
            path: path.display().to_string(),
            source: failed,
        })?;
        Ok(store)
    }

    /// Deletes expired keys, of one namespace or of all; how many.
    fn sweep(&self, ns: Option<&str>) -> Result<usize, rusqlite::Error> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        let swept = ops::sweep(&tx, ns, ops::now_ms())?;
        tx.commit()?;
        Ok(swept)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (its
        // transaction rolls back when dropped): go on with it.
        self.connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The keys of a namespace and their sizes, for the management API:
    /// at most `limit` from `after` on, the expired left out.
    ///
    /// # Errors
    ///
    /// [`KvError::Failed`].
    pub fn entries(
        &self,
        store: &str,
        after: &[u8],
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, usize)>, KvError> {
        let connection = self.lock();
        ops::entries(&connection, store, after, limit, ops::now_ms()).map_err(failed)
    }

    /// A namespace's keys and bytes, as its quota counts them.
    ///
    /// # Errors
    ///
    /// [`KvError::Failed`].
    pub fn usage(&self, store: &str) -> Result<(u64, u64), KvError> {
        let connection = self.lock();
        connection
            .query_row(
                "SELECT keys, bytes FROM usage WHERE ns = ?1",
                params![store],
                |row| Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? as u64)),
            )
            .optional()
            .map(Option::unwrap_or_default)
            .map_err(failed)
    }
}

// By value, as `map_err` hands it over.
#[allow(clippy::needless_pass_by_value)]
fn failed(error: rusqlite::Error) -> KvError {
    KvError::Failed(error.to_string())
}

impl KvStore for Store {
    fn get(&self, store: &str, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        let connection = self.lock();
        ops::get(&connection, store, key, ops::now_ms()).map_err(failed)
    }

    fn set(
        &self,
        grant: &KvGrant,
        key: &[u8],
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), KvError> {
        let expires = ttl.map(|ttl| ops::now_ms().saturating_add(ttl.as_millis() as i64));
        self.write(grant, |tx| ops::put(tx, grant, key, value, expires))
    }

    fn delete(&self, store: &str, key: &[u8]) -> Result<bool, KvError> {
        let mut connection = self.lock();
        let tx = connection.transaction().map_err(failed)?;
        let deleted = ops::delete(&tx, store, key).map_err(failed)?;
        tx.commit().map_err(failed)?;
        Ok(deleted)
    }

    fn list(&self, store: &str, prefix: &[u8], limit: usize) -> Result<Vec<Vec<u8>>, KvError> {
        let connection = self.lock();
        ops::list(&connection, store, prefix, limit, ops::now_ms()).map_err(failed)
    }

    fn incr(&self, grant: &KvGrant, key: &[u8], delta: i64) -> Result<i64, KvError> {
        self.write(grant, |tx| {
            let now = ops::now_ms();
            let current = match ops::get(tx, &grant.store, key, now)? {
                None => 0,
                Some(bytes) => match std::str::from_utf8(&bytes)
                    .ok()
                    .and_then(|t| t.parse().ok())
                {
                    Some(number) => number,
                    None => {
                        return Ok(Err(KvError::Invalid(
                            "the value is not a decimal integer".into(),
                        )));
                    }
                },
            };
            let Some(next) = i64::checked_add(current, delta) else {
                return Ok(Err(KvError::Invalid(
                    "the sum overflows a 64-bit integer".into(),
                )));
            };
            Ok(ops::put(tx, grant, key, next.to_string().as_bytes(), None)?.map(|()| next))
        })
    }

    fn cas(
        &self,
        grant: &KvGrant,
        key: &[u8],
        old: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, KvError> {
        self.write(grant, |tx| {
            let current = ops::get(tx, &grant.store, key, ops::now_ms())?;
            if current.as_deref() != old {
                return Ok(Ok(false));
            }
            Ok(ops::put(tx, grant, key, new, None)?.map(|()| true))
        })
    }
}

impl Store {
    /// Runs `change` in one transaction; over the quota, sweeps the
    /// namespace's expired keys and tries once more. Nothing changes
    /// unless it succeeds.
    fn write<T>(
        &self,
        grant: &KvGrant,
        change: impl Fn(&rusqlite::Transaction<'_>) -> Result<Result<T, KvError>, rusqlite::Error>,
    ) -> Result<T, KvError> {
        for attempt in 0..2 {
            let mut connection = self.lock();
            let tx = connection.transaction().map_err(failed)?;
            match change(&tx).map_err(failed)? {
                Ok(value) => {
                    tx.commit().map_err(failed)?;
                    return Ok(value);
                }
                Err(KvError::Quota(_)) if attempt == 0 => {
                    drop(tx);
                    drop(connection);
                    self.sweep(Some(&grant.store)).map_err(failed)?;
                }
                Err(refused) => return Err(refused),
            }
        }
        Err(KvError::Quota(ops::over_quota(grant)))
    }
}

#[cfg(test)]
mod tests;
