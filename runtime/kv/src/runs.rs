//! The journal of flows' runs, in the store's database: a run's start
//! (its flow and event) and each step's outcome, each kept with one
//! durable commit before the run goes on, all dropped when the run ends,
//! read back at start for the runs a crash left.

use crate::Store;
use fenn_runtime::services::{FlowJournal, KeptRun};
use rusqlite::params;

pub(crate) const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS runs (
        run TEXT PRIMARY KEY NOT NULL, flow TEXT NOT NULL, event BLOB NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS run_steps (
        id INTEGER PRIMARY KEY AUTOINCREMENT, run TEXT NOT NULL, step TEXT NOT NULL,
        outcome BLOB NOT NULL);
    CREATE INDEX IF NOT EXISTS run_steps_by_run ON run_steps (run, id);
";

impl FlowJournal for Store {
    fn begin(&self, run: &str, flow: &str, event: &[u8]) -> Result<(), String> {
        let connection = self.lock();
        connection
            .prepare_cached("INSERT OR REPLACE INTO runs (run, flow, event) VALUES (?1, ?2, ?3)")
            .and_then(|mut statement| statement.execute(params![run, flow, event]))
            .map(|_| ())
            .map_err(|error| format!("the run could not be kept: {error}"))
    }

    fn step(&self, run: &str, step: &str, outcome: &[u8]) -> Result<(), String> {
        let connection = self.lock();
        connection
            .prepare_cached("INSERT INTO run_steps (run, step, outcome) VALUES (?1, ?2, ?3)")
            .and_then(|mut statement| statement.execute(params![run, step, outcome]))
            .map(|_| ())
            .map_err(|error| format!("the step's outcome could not be kept: {error}"))
    }

    fn end(&self, run: &str) {
        let mut connection = self.lock();
        // Without an fsync of its own: an end lost to a crash resumes the
        // run at the next start with every step done, and it ends then,
        // running nothing; the next durable commit carries it anyway.
        let ended = (connection.execute_batch("PRAGMA synchronous = NORMAL")).and_then(|()| {
            let tx = connection.transaction()?;
            tx.execute("DELETE FROM run_steps WHERE run = ?1", params![run])?;
            tx.execute("DELETE FROM runs WHERE run = ?1", params![run])?;
            tx.commit()
        });
        if let Err(error) = connection.execute_batch("PRAGMA synchronous = FULL") {
            tracing::error!(%error, "the store's writes could not be made durable again");
        }
        if let Err(error) = ended {
            // It resumes at the next start, its steps all done: it ends then.
            tracing::warn!(%error, run, "a run that ended could not be dropped from the journal");
        }
    }

    fn newest(&self) -> Option<String> {
        let connection = self.lock();
        let newest = connection.query_row("SELECT max(run) FROM runs", [], |row| {
            row.get::<_, Option<String>>(0)
        });
        newest.unwrap_or_else(|error| {
            tracing::error!(%error, "the journal of runs could not be read");
            None
        })
    }

    fn unfinished(&self, after: &str, limit: usize) -> Vec<KeptRun> {
        let connection = self.lock();
        let read = connection
            .prepare_cached(
                "SELECT run, flow, event FROM runs WHERE run > ?1 ORDER BY run LIMIT ?2",
            )
            .and_then(|mut statement| {
                statement
                    .query_map(params![after, limit as i64], |row| {
                        Ok(KeptRun {
                            run: row.get(0)?,
                            flow: row.get(1)?,
                            event: row.get(2)?,
                            steps: Vec::new(),
                        })
                    })?
                    .collect::<Result<Vec<_>, _>>()
            })
            .and_then(|mut runs| {
                let mut statement = connection.prepare_cached(
                    "SELECT step, outcome FROM run_steps WHERE run = ?1 ORDER BY id",
                )?;
                for kept in &mut runs {
                    kept.steps = statement
                        .query_map(params![kept.run], |row| Ok((row.get(0)?, row.get(1)?)))?
                        .collect::<Result<Vec<_>, _>>()?;
                }
                Ok(runs)
            });
        read.unwrap_or_else(|error| {
            tracing::error!(%error, "the journal of runs could not be read");
            Vec::new()
        })
    }
}
