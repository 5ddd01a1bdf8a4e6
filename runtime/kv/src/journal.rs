//! The journal of emitted events, in the store's database: kept with one
//! durable commit before the emit call returns, dropped once the event has
//! run, read back at start for the events a crash left.

use crate::Store;
use fenn_runtime::services::EmitJournal;
use rusqlite::params;

pub(crate) const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS emitted (
        id INTEGER PRIMARY KEY AUTOINCREMENT, function TEXT NOT NULL, event BLOB NOT NULL);
";

impl EmitJournal for Store {
    fn keep(&self, function: &str, event: &[u8]) -> Result<u64, String> {
        let connection = self.lock();
        connection
            .prepare_cached("INSERT INTO emitted (function, event) VALUES (?1, ?2)")
            .and_then(|mut statement| statement.execute(params![function, event]))
            .map(|_| connection.last_insert_rowid() as u64)
            .map_err(|error| format!("the emitted event could not be kept: {error}"))
    }

    fn done(&self, id: u64) {
        let connection = self.lock();
        let dropped = connection
            .prepare_cached("DELETE FROM emitted WHERE id = ?1")
            .and_then(|mut statement| statement.execute(params![id as i64]));
        if let Err(error) = dropped {
            // It runs again at the next start: at least once.
            tracing::warn!(%error, id, "an emitted event that ran could not be dropped from the journal");
        }
    }

    fn pending(&self, after: u64, limit: usize) -> Vec<(u64, String, Vec<u8>)> {
        let connection = self.lock();
        let read = connection
            .prepare_cached(
                "SELECT id, function, event FROM emitted WHERE id > ?1 ORDER BY id LIMIT ?2",
            )
            .and_then(|mut statement| {
                statement
                    .query_map(params![after as i64, limit as i64], |row| {
                        Ok((row.get::<_, i64>(0)? as u64, row.get(1)?, row.get(2)?))
                    })?
                    .collect::<Result<Vec<_>, _>>()
            });
        read.unwrap_or_else(|error| {
            tracing::error!(%error, "the journal of emitted events could not be read");
            Vec::new()
        })
    }
}
