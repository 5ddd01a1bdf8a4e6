//! The outbox: messages that wait for the broker, kept in order on disk.
//!
//! A result goes here when it cannot be published at once (the broker is
//! away, or messages are already waiting, which keeps the order). The
//! outbox is a log file of records (length, CRC-32, postcard) and a cursor
//! file with the offset of the first unconfirmed record:
//!
//! - [`Outbox::append`] writes a record; [`Outbox::sync`] makes every
//!   record appended so far durable (fdatasync) before anyone is told it
//!   was stored, so a power cut loses nothing that was acknowledged.
//! - [`Outbox::confirm`] drops records from the front once the broker has
//!   confirmed them; the cursor is written (write, fsync, rename) every
//!   [`CURSOR_EVERY`] confirmations and whenever the outbox empties, when
//!   the log is cut back to nothing. A cut-off power before the cursor is
//!   written means those records are sent again: duplicates, as QoS 1
//!   allows, never a loss.
//! - [`Outbox::open`] reads what a previous run left, drops a torn record
//!   at the end (a write the power cut short) and keeps the rest in order.
//!
//! Every record is also held in memory, so sending never reads the disk;
//! the size limit bounds both. When the outbox is full, a new message is
//! refused ([`OutboxError::Full`]): the caller leaves its QoS 1 message
//! unacknowledged, so the broker delivers it again later, and nothing that
//! was acknowledged is ever dropped to make room. Without a directory the
//! same queue lives in memory only.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

/// Confirmations between two writes of the cursor.
pub const CURSOR_EVERY: usize = 64;
/// Bytes of a record's header: length and CRC-32, little-endian.
const HEADER: usize = 8;
const LOG: &str = "outbox.log";
const CURSOR: &str = "outbox.pos";

/// A message to publish, as it is kept in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    /// Topic to publish to.
    pub topic: String,
    /// 0 or 1.
    pub qos: u8,
    /// The payload.
    pub payload: Bytes,
    /// MQTT 5 content type.
    pub content_type: Option<String>,
    /// MQTT 5 correlation data of the request answered.
    pub correlation: Option<Bytes>,
    /// MQTT 5 user properties.
    pub user_properties: Vec<(String, String)>,
    /// Whether the broker retains it (a function's publish may ask).
    pub retain: bool,
}

/// A record written before messages had `retain`, read as not retained.
#[derive(Deserialize)]
struct Unretained {
    topic: String,
    qos: u8,
    payload: Bytes,
    content_type: Option<String>,
    correlation: Option<Bytes>,
    user_properties: Vec<(String, String)>,
}

impl From<Unretained> for Outgoing {
    fn from(old: Unretained) -> Self {
        Self {
            topic: old.topic,
            qos: old.qos,
            payload: old.payload,
            content_type: old.content_type,
            correlation: old.correlation,
            user_properties: old.user_properties,
            retain: false,
        }
    }
}

/// Why the outbox could not take or keep a message.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// Taking the message would pass the size limit.
    #[error("the outbox is full ({limit} bytes)")]
    Full {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The message could not be encoded.
    #[error("a result could not be encoded: {0}")]
    Encode(#[from] postcard::Error),
    /// The disk failed.
    #[error("outbox {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

struct Disk {
    dir: PathBuf,
    log: File,
    /// Offset of the first record in `items`.
    start: u64,
    /// Offset after the last record.
    end: u64,
    unsynced: bool,
    confirmed_since_cursor: usize,
}

impl Disk {
    fn io(&self, name: &str) -> impl Fn(std::io::Error) -> OutboxError + use<> {
        let path = self.dir.join(name);
        move |source| OutboxError::Io {
            path: path.clone(),
            source,
        }
    }
}

/// The queue of messages waiting for the broker, oldest first.
pub struct Outbox {
    items: VecDeque<(Outgoing, u64)>,
    bytes: u64,
    limit: u64,
    disk: Option<Disk>,
}

impl Outbox {
    /// An outbox of at most `limit` bytes, kept in `dir` (created if
    /// missing) or, without one, in memory only.
    ///
    /// # Errors
    ///
    /// [`OutboxError::Io`] when the directory or its files cannot be used.
    pub fn open(dir: Option<&Path>, limit: u64) -> Result<Self, OutboxError> {
        let mut outbox = Self {
            items: VecDeque::new(),
            bytes: 0,
            limit,
            disk: None,
        };
        let Some(dir) = dir else { return Ok(outbox) };
        std::fs::create_dir_all(dir).map_err(io_at(dir))?;
        remove_temporaries(dir);
        let log_path = dir.join(LOG);
        let (mut log, content) = open_log(&log_path)?;
        let (cursor, start) = live_start(dir, &content);
        let at = outbox.load(&content, start);
        if at < content.len() {
            tracing::warn!(path = %log_path.display(), dropped_bytes = content.len() - at, "outbox: a torn record at the end was dropped");
            log.set_len(at as u64).map_err(io_at(&log_path))?;
            log.sync_data().map_err(io_at(&log_path))?;
        }
        log.seek(SeekFrom::Start(at as u64))
            .map_err(io_at(&log_path))?;
        if cursor != start as u64 {
            write_cursor(dir, start as u64)?;
        }
        sync_dir(dir)?;
        outbox.disk = Some(Disk {
            dir: dir.to_owned(),
            log,
            start: start as u64,
            end: at as u64,
            unsynced: false,
            confirmed_since_cursor: 0,
        });
        Ok(outbox)
    }

    /// Queues the whole records of the log's `content` from `start`; the
    /// offset after the last one.
    fn load(&mut self, content: &[u8], start: usize) -> usize {
        let mut at = start;
        while let Some((message, size)) = decode(&content[at..]) {
            self.bytes += size as u64;
            self.items.push_back((message, size as u64));
            at += size;
        }
        at
    }

    /// Bytes of the messages waiting.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Messages waiting.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether `messages` would all fit now.
    pub fn would_fit<'a>(&self, messages: impl IntoIterator<Item = &'a Outgoing>) -> bool {
        let mut bytes = self.bytes;
        for message in messages {
            match encode(message) {
                Ok(record) => bytes += record.len() as u64,
                Err(_) => return false,
            }
        }
        bytes <= self.limit
    }

    /// The `index`-th waiting message, oldest first.
    pub fn get(&self, index: usize) -> Option<&Outgoing> {
        self.items.get(index).map(|(message, _)| message)
    }

    /// Adds `message` at the end; durable after the next [`Outbox::sync`].
    ///
    /// # Errors
    ///
    /// [`OutboxError::Full`] when it does not fit; [`OutboxError::Io`].
    pub fn append(&mut self, message: Outgoing) -> Result<(), OutboxError> {
        let record = encode(&message)?;
        let size = record.len() as u64;
        if self.bytes + size > self.limit {
            return Err(OutboxError::Full { limit: self.limit });
        }
        if let Some(disk) = &mut self.disk {
            if let Err(error) = disk.log.write_all(&record) {
                // Leave no partial record in the middle of the log: later
                // records would be read as a torn end and dropped.
                let _ = disk.log.set_len(disk.end);
                let _ = disk.log.seek(SeekFrom::Start(disk.end));
                return Err(disk.io(LOG)(error));
            }
            disk.end += size;
            disk.unsynced = true;
        }
        self.bytes += size;
        self.items.push_back((message, size));
        Ok(())
    }

    /// Makes every appended message durable.
    ///
    /// # Errors
    ///
    /// [`OutboxError::Io`].
    pub fn sync(&mut self) -> Result<(), OutboxError> {
        match &mut self.disk {
            Some(disk) if disk.unsynced => {
                disk.log.sync_data().map_err(|source| OutboxError::Io {
                    path: disk.dir.join(LOG),
                    source,
                })?;
                disk.unsynced = false;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Drops the `count` oldest messages: the broker has them.
    ///
    /// # Errors
    ///
    /// [`OutboxError::Io`] when the cursor or the log cannot be written;
    /// the messages are dropped from memory all the same.
    pub fn confirm(&mut self, count: usize) -> Result<(), OutboxError> {
        let mut freed = 0;
        for (_, size) in self.items.drain(..count.min(self.items.len())) {
            freed += size;
        }
        self.bytes -= freed;
        let empty = self.items.is_empty();
        let Some(disk) = &mut self.disk else {
            return Ok(());
        };
        disk.start += freed;
        disk.confirmed_since_cursor += count;
        if empty {
            // The cursor first: a crash before the cut leaves a cursor at
            // the end of the log, which reads as empty.
            write_cursor(&disk.dir, 0)?;
            let io = disk.io(LOG);
            disk.log.set_len(0).map_err(&io)?;
            disk.log.seek(SeekFrom::Start(0)).map_err(&io)?;
            disk.log.sync_data().map_err(&io)?;
            (
                disk.start,
                disk.end,
                disk.unsynced,
                disk.confirmed_since_cursor,
            ) = (0, 0, false, 0);
            return Ok(());
        }
        if disk.confirmed_since_cursor >= CURSOR_EVERY {
            write_cursor(&disk.dir, disk.start)?;
            disk.confirmed_since_cursor = 0;
        }
        if disk.start >= self.limit.max(1 << 20) {
            self.compact()?;
        }
        Ok(())
    }

    /// Writes the waiting records to a new log and swaps it in, so that
    /// confirmed records do not pile up on disk while the outbox never
    /// quite empties.
    fn compact(&mut self) -> Result<(), OutboxError> {
        let Some(disk) = &mut self.disk else {
            return Ok(());
        };
        let io = disk.io(LOG);
        let (fresh, mut file) =
            fenn_runtime::files::create_temporary(&disk.dir, LOG).map_err(&io)?;
        let written = fill(&mut file, &fresh, &self.items).and_then(|end| {
            // The cursor first: for a moment it points at the start of the
            // old log, whose records from there on are all waiting ones
            // (sent again if a crash comes now: duplicates, never a loss).
            write_cursor(&disk.dir, 0)?;
            std::fs::rename(&fresh, disk.dir.join(LOG)).map_err(&io)?;
            Ok(end)
        });
        let end = match written {
            Ok(end) => end,
            Err(error) => {
                let _ = std::fs::remove_file(&fresh);
                return Err(error);
            }
        };
        sync_dir(&disk.dir)?;
        (disk.log, disk.start, disk.end, disk.unsynced) = (file, 0, end, false);
        disk.confirmed_since_cursor = 0;
        Ok(())
    }
}

/// Names `path` in an I/O error about it.
fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> OutboxError + use<> {
    let path = path.to_owned();
    move |source| OutboxError::Io { path, source }
}

/// Opens (or creates) the log at `path` and reads it whole.
fn open_log(path: &Path) -> Result<(File, Vec<u8>), OutboxError> {
    let mut log = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io_at(path))?;
    let mut content = Vec::new();
    log.read_to_end(&mut content).map_err(io_at(path))?;
    Ok((log, content))
}

/// The cursor as stored in `dir`, and where the live records of the
/// log's `content` start: at the cursor, or at the log's start when the
/// cursor does not point at a record.
fn live_start(dir: &Path, content: &[u8]) -> (u64, usize) {
    // A cursor past the end, or not on a record, is from before the log
    // was cut (a crash between the two): the whole log is live.
    let cursor = read_cursor(&dir.join(CURSOR));
    let on_record = usize::try_from(cursor).ok().filter(|&at| {
        at <= content.len() && (at == content.len() || decode(&content[at..]).is_some())
    });
    let start = on_record.unwrap_or(0);
    if on_record.is_none() {
        tracing::warn!(path = %dir.display(), cursor, "outbox: the cursor did not point at a record; reading the log from its start");
    }
    (cursor, start)
}

/// Deletes what a write cut short by a crash left in `dir`.
fn remove_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ours = [LOG, CURSOR]
            .iter()
            .any(|file| name.starts_with(&format!(".{file}.")));
        if ours && name.ends_with(".tmp") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Writes `items` to `file`, synced: the bytes written.
fn fill(
    file: &mut File,
    path: &Path,
    items: &VecDeque<(Outgoing, u64)>,
) -> Result<u64, OutboxError> {
    let io = |source| OutboxError::Io {
        path: path.to_owned(),
        source,
    };
    let mut end = 0;
    for (message, _) in items {
        let record = encode(message)?;
        file.write_all(&record).map_err(io)?;
        end += record.len() as u64;
    }
    file.sync_data().map_err(io)?;
    Ok(end)
}

fn encode(message: &Outgoing) -> Result<Vec<u8>, OutboxError> {
    let body = postcard::to_allocvec(message)?;
    let mut record = Vec::with_capacity(HEADER + body.len());
    record.extend_from_slice(&(body.len() as u32).to_le_bytes());
    record.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    record.extend_from_slice(&body);
    Ok(record)
}

/// The record at the start of `bytes` and its size, or None when it is
/// missing, short or damaged.
fn decode(bytes: &[u8]) -> Option<(Outgoing, usize)> {
    let header = bytes.get(..HEADER)?;
    let length = u32::from_le_bytes(header[..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(header[4..].try_into().ok()?);
    let body = bytes.get(HEADER..HEADER.checked_add(length)?)?;
    if crc32fast::hash(body) != crc {
        return None;
    }
    // A record kept by an older fenn has no `retain`: it ends a byte short.
    let message = postcard::from_bytes(body)
        .or_else(|_| postcard::from_bytes::<Unretained>(body).map(Outgoing::from))
        .ok()?;
    Some((message, HEADER + length))
}

fn read_cursor(path: &Path) -> u64 {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

fn write_cursor(dir: &Path, offset: u64) -> Result<(), OutboxError> {
    let path = dir.join(CURSOR);
    fenn_runtime::files::write_atomically(dir, CURSOR, &offset.to_le_bytes())
        .map_err(|source| OutboxError::Io { path, source })
}

/// Makes a rename or a new file in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), OutboxError> {
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(|source| OutboxError::Io {
            path: dir.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests;
