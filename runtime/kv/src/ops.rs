//! The store's statements, each inside the caller's connection or
//! transaction; the usage table moves with every row.

use fenn_runtime::grants::KvGrant;
use fenn_runtime::services::KvError;
use rusqlite::{Connection, OptionalExtension as _, params};

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

pub(crate) fn over_quota(grant: &KvGrant) -> String {
    format!(
        "the store '{}' is full: at most {} keys and {} bytes of keys and values",
        grant.store, grant.max_keys, grant.max_bytes
    )
}

pub(crate) fn get(
    connection: &Connection,
    ns: &str,
    key: &[u8],
    now: i64,
) -> rusqlite::Result<Option<Vec<u8>>> {
    connection
        .prepare_cached(
            "SELECT value FROM kv WHERE ns = ?1 AND key = ?2 AND (expires IS NULL OR expires > ?3)",
        )?
        .query_row(params![ns, key, now], |row| row.get(0))
        .optional()
}

/// The size a row counts for, expired or not.
fn size_of(connection: &Connection, ns: &str, key: &[u8]) -> rusqlite::Result<Option<i64>> {
    connection
        .prepare_cached("SELECT length(key) + length(value) FROM kv WHERE ns = ?1 AND key = ?2")?
        .query_row(params![ns, key], |row| row.get(0))
        .optional()
}

fn usage(connection: &Connection, ns: &str) -> rusqlite::Result<(i64, i64)> {
    connection
        .prepare_cached("SELECT keys, bytes FROM usage WHERE ns = ?1")?
        .query_row(params![ns], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .map(Option::unwrap_or_default)
}

fn add_usage(connection: &Connection, ns: &str, keys: i64, bytes: i64) -> rusqlite::Result<()> {
    connection
        .prepare_cached(
            "INSERT INTO usage (ns, keys, bytes) VALUES (?1, ?2, ?3)
             ON CONFLICT (ns) DO UPDATE SET keys = keys + ?2, bytes = bytes + ?3",
        )?
        .execute(params![ns, keys, bytes])?;
    Ok(())
}

/// Sets a key within the grant's quota; the quota's refusal changes nothing.
pub(crate) fn put(
    connection: &Connection,
    grant: &KvGrant,
    key: &[u8],
    value: &[u8],
    expires: Option<i64>,
) -> rusqlite::Result<Result<(), KvError>> {
    let ns = &*grant.store;
    let old = size_of(connection, ns, key)?;
    let new = (key.len() + value.len()) as i64;
    let (keys, bytes) = usage(connection, ns)?;
    let added_key = i64::from(old.is_none());
    let grown = new - old.unwrap_or(0);
    let over = keys + added_key > grant.max_keys as i64
        || (grown > 0 && bytes + grown > grant.max_bytes as i64);
    if over {
        return Ok(Err(KvError::Quota(over_quota(grant))));
    }
    connection
        .prepare_cached(
            "INSERT INTO kv (ns, key, value, expires) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (ns, key) DO UPDATE SET value = ?3, expires = ?4",
        )?
        .execute(params![ns, key, value, expires])?;
    add_usage(connection, ns, added_key, grown)?;
    Ok(Ok(()))
}

/// Deletes a key; whether it was there and had not expired.
pub(crate) fn delete(connection: &Connection, ns: &str, key: &[u8]) -> rusqlite::Result<bool> {
    let Some(size) = size_of(connection, ns, key)? else {
        return Ok(false);
    };
    let live = get(connection, ns, key, now_ms())?.is_some();
    connection
        .prepare_cached("DELETE FROM kv WHERE ns = ?1 AND key = ?2")?
        .execute(params![ns, key])?;
    add_usage(connection, ns, -1, -size)?;
    Ok(live)
}

/// The first key after every key that starts with `prefix`, if any.
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

pub(crate) fn list(
    connection: &Connection,
    ns: &str,
    prefix: &[u8],
    limit: usize,
    now: i64,
) -> rusqlite::Result<Vec<Vec<u8>>> {
    let end = prefix_end(prefix);
    let mut statement = connection.prepare_cached(
        "SELECT key FROM kv WHERE ns = ?1 AND key >= ?2 AND (?3 IS NULL OR key < ?3)
         AND (expires IS NULL OR expires > ?4) ORDER BY key LIMIT ?5",
    )?;
    let rows = statement.query_map(params![ns, prefix, end, now, limit as i64], |row| {
        row.get(0)
    })?;
    rows.collect()
}

pub(crate) fn entries(
    connection: &Connection,
    ns: &str,
    after: &[u8],
    limit: usize,
    now: i64,
) -> rusqlite::Result<Vec<(Vec<u8>, usize)>> {
    let mut statement = connection.prepare_cached(
        "SELECT key, length(value) FROM kv WHERE ns = ?1 AND key > ?2
         AND (expires IS NULL OR expires > ?3) ORDER BY key LIMIT ?4",
    )?;
    let rows = statement.query_map(params![ns, after, now, limit as i64], |row| {
        Ok((row.get(0)?, row.get::<_, i64>(1)? as usize))
    })?;
    rows.collect()
}

/// Deletes the expired keys of `ns` (or of every namespace); how many.
pub(crate) fn sweep(
    connection: &Connection,
    ns: Option<&str>,
    now: i64,
) -> rusqlite::Result<usize> {
    let gone: Vec<(String, i64, i64)> = connection
        .prepare_cached(
            "SELECT ns, count(*), sum(length(key) + length(value)) FROM kv
             WHERE expires <= ?1 AND (?2 IS NULL OR ns = ?2) GROUP BY ns",
        )?
        .query_map(params![now, ns], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut swept = 0;
    for (ns, keys, bytes) in &gone {
        add_usage(connection, ns, -keys, -bytes)?;
        swept += *keys as usize;
    }
    connection
        .prepare_cached("DELETE FROM kv WHERE expires <= ?1 AND (?2 IS NULL OR ns = ?2)")?
        .execute(params![now, ns])?;
    Ok(swept)
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn the_end_of_a_prefix_is_the_next_key_after_all_of_its_keys() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }
}
