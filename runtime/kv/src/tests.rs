use super::*;

fn dir(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("fenn-kv-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn grant(store: &str, max_keys: u64, max_bytes: u64) -> KvGrant {
    KvGrant {
        store: store.into(),
        max_keys,
        max_bytes,
        max_value: 1024,
    }
}

#[test]
fn values_round_trip_list_by_prefix_and_survive_a_reopen() {
    let dir = dir("round-trip");
    let g = grant("f", 100, 1 << 20);
    {
        let store = Store::open(&dir).unwrap();
        for key in ["a/1", "a/2", "b/1", "a/3"] {
            store.set(&g, key.as_bytes(), key.as_bytes(), None).unwrap();
        }
        assert_eq!(
            store.get("f", b"a/2").unwrap().as_deref(),
            Some(&b"a/2"[..])
        );
        assert_eq!(store.get("other", b"a/2").unwrap(), None);
        let keys = store.list("f", b"a/", 2).unwrap();
        assert_eq!(keys, [b"a/1".to_vec(), b"a/2".to_vec()]);
        assert!(store.delete("f", b"a/1").unwrap());
        assert!(!store.delete("f", b"a/1").unwrap());
    }
    let store = Store::open(&dir).unwrap();
    assert_eq!(store.list("f", b"", 10).unwrap().len(), 3);
    assert_eq!(store.usage("f").unwrap(), (3, 18));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_quota_refuses_a_new_key_or_more_bytes_and_changes_nothing() {
    let dir = dir("quota");
    let store = Store::open(&dir).unwrap();
    let g = grant("q", 2, 20);
    store.set(&g, b"k1", b"12345", None).unwrap();
    store.set(&g, b"k2", b"12345", None).unwrap();
    let full = store.set(&g, b"k3", b"1", None).unwrap_err();
    assert!(
        matches!(full, KvError::Quota(ref m) if m.contains("at most 2 keys")),
        "{full}"
    );
    // An overwrite adds no key; past the bytes it is refused.
    store.set(&g, b"k1", b"123", None).unwrap();
    let bytes = store.set(&g, b"k1", b"123456789012", None).unwrap_err();
    assert!(matches!(bytes, KvError::Quota(_)));
    assert_eq!(store.get("q", b"k1").unwrap().as_deref(), Some(&b"123"[..]));
    assert_eq!(store.usage("q").unwrap(), (2, 12));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn expired_keys_read_as_absent_and_give_their_quota_back() {
    let dir = dir("expiry");
    let store = Store::open(&dir).unwrap();
    let g = grant("e", 1, 100);
    {
        let connection = store.lock();
        let past = ops::now_ms() - 1;
        ops::put(&connection, &g, b"old", b"v", Some(past))
            .unwrap()
            .unwrap();
    }
    assert_eq!(store.get("e", b"old").unwrap(), None);
    assert!(store.list("e", b"", 10).unwrap().is_empty());
    // The expired key held the one key the quota allows: swept, the new
    // one fits.
    store
        .set(&g, b"new", b"v", Some(Duration::from_secs(3600)))
        .unwrap();
    assert_eq!(store.get("e", b"new").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(store.usage("e").unwrap(), (1, 4));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn increments_and_compare_and_swap_are_atomic_reads_and_writes() {
    let dir = dir("atomic");
    let store = Store::open(&dir).unwrap();
    let g = grant("n", 10, 1000);
    assert_eq!(store.incr(&g, b"count", 5).unwrap(), 5);
    assert_eq!(store.incr(&g, b"count", -2).unwrap(), 3);
    assert_eq!(
        store.get("n", b"count").unwrap().as_deref(),
        Some(&b"3"[..])
    );
    store.set(&g, b"text", b"abc", None).unwrap();
    assert!(matches!(
        store.incr(&g, b"text", 1),
        Err(KvError::Invalid(_))
    ));
    store
        .set(&g, b"max", i64::MAX.to_string().as_bytes(), None)
        .unwrap();
    assert!(matches!(
        store.incr(&g, b"max", 1),
        Err(KvError::Invalid(_))
    ));
    assert!(store.cas(&g, b"lock", None, b"me").unwrap());
    assert!(!store.cas(&g, b"lock", None, b"you").unwrap());
    assert!(!store.cas(&g, b"lock", Some(b"you"), b"me").unwrap());
    assert!(store.cas(&g, b"lock", Some(b"me"), b"you").unwrap());
    assert_eq!(
        store.get("n", b"lock").unwrap().as_deref(),
        Some(&b"you"[..])
    );
    std::fs::remove_dir_all(dir).unwrap();
}
