//! The outbox's unit tests: what survives a restart, a torn record, the
//! size limit, a stale cursor, the log's growth and leftover files.

use super::*;

fn message(n: usize) -> Outgoing {
    Outgoing {
        topic: format!("results/{n}"),
        qos: 1,
        payload: Bytes::from(vec![b'x'; n]),
        content_type: Some("text/plain".into()),
        correlation: Some(Bytes::from_static(b"id")),
        user_properties: vec![("status".into(), "200".into())],
        retain: false,
    }
}

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fenn-outbox-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn topics(outbox: &Outbox) -> Vec<String> {
    (0..outbox.len())
        .map(|i| outbox.get(i).unwrap().topic.clone())
        .collect()
}

#[test]
fn what_was_synced_is_there_after_a_restart_in_order_minus_what_was_confirmed() {
    let dir = dir("restart");
    let mut outbox = Outbox::open(Some(&dir), 1 << 20).unwrap();
    for n in 0..5 {
        outbox.append(message(n)).unwrap();
    }
    outbox.sync().unwrap();
    outbox.confirm(2).unwrap();
    drop(outbox);
    // The cursor is written every CURSOR_EVERY confirmations: the two
    // confirmed come back (sent again), nothing is lost.
    let outbox = Outbox::open(Some(&dir), 1 << 20).unwrap();
    assert_eq!(topics(&outbox).len(), 5);
    assert_eq!(outbox.get(4), Some(&message(4)));
    let mut outbox = outbox;
    for n in 5..5 + CURSOR_EVERY {
        outbox.append(message(n % 7)).unwrap();
    }
    outbox.confirm(CURSOR_EVERY).unwrap();
    let left = topics(&outbox);
    drop(outbox);
    let outbox = Outbox::open(Some(&dir), 1 << 20).unwrap();
    assert_eq!(topics(&outbox), left, "the cursor was written");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_torn_record_at_the_end_is_dropped_and_the_rest_kept() {
    let dir = dir("torn");
    let mut outbox = Outbox::open(Some(&dir), 1 << 20).unwrap();
    outbox.append(message(1)).unwrap();
    outbox.append(message(2)).unwrap();
    outbox.sync().unwrap();
    drop(outbox);
    let log = dir.join(LOG);
    let full = std::fs::read(&log).unwrap();
    std::fs::write(&log, &full[..full.len() - 3]).unwrap();
    let mut outbox = Outbox::open(Some(&dir), 1 << 20).unwrap();
    assert_eq!(topics(&outbox), ["results/1"]);
    // Appending after the repair leaves a readable log.
    outbox.append(message(3)).unwrap();
    outbox.sync().unwrap();
    drop(outbox);
    let outbox = Outbox::open(Some(&dir), 1 << 20).unwrap();
    assert_eq!(topics(&outbox), ["results/1", "results/3"]);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_full_outbox_refuses_new_messages_and_keeps_the_old() {
    let one = encode(&message(100)).unwrap().len() as u64;
    let mut outbox = Outbox::open(None, 2 * one).unwrap();
    outbox.append(message(100)).unwrap();
    outbox.append(message(100)).unwrap();
    assert!(matches!(
        outbox.append(message(100)),
        Err(OutboxError::Full { .. })
    ));
    assert_eq!(outbox.len(), 2);
    outbox.confirm(1).unwrap();
    outbox.append(message(100)).unwrap();
    assert_eq!(outbox.len(), 2);
}

#[test]
fn an_emptied_outbox_cuts_its_log_to_nothing() {
    let dir = dir("empty");
    let mut outbox = Outbox::open(Some(&dir), 1 << 20).unwrap();
    outbox.append(message(10)).unwrap();
    outbox.sync().unwrap();
    outbox.confirm(1).unwrap();
    assert_eq!(std::fs::metadata(dir.join(LOG)).unwrap().len(), 0);
    outbox.append(message(11)).unwrap();
    outbox.sync().unwrap();
    drop(outbox);
    let outbox = Outbox::open(Some(&dir), 1 << 20).unwrap();
    assert_eq!(topics(&outbox), ["results/11"]);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_cursor_left_behind_by_a_crash_before_the_cut_loses_nothing_appended_later() {
    let dir = dir("stale-cursor");
    let mut outbox = Outbox::open(Some(&dir), 1 << 20).unwrap();
    for n in 0..3 {
        outbox.append(message(n)).unwrap();
    }
    outbox.sync().unwrap();
    drop(outbox);
    // As if the power went after the cursor was written at the end of
    // a log that was then never cut, or cut without the cursor.
    let length = std::fs::metadata(dir.join(LOG)).unwrap().len();
    std::fs::write(dir.join(CURSOR), (length + 40).to_le_bytes()).unwrap();
    std::fs::write(dir.join(LOG), b"").unwrap();
    let mut outbox = Outbox::open(Some(&dir), 1 << 20).unwrap();
    assert!(outbox.is_empty());
    outbox.append(message(7)).unwrap();
    outbox.append(message(8)).unwrap();
    outbox.sync().unwrap();
    drop(outbox);
    let outbox = Outbox::open(Some(&dir), 1 << 20).unwrap();
    assert_eq!(topics(&outbox), ["results/7", "results/8"]);
    // A cursor in the middle of a record is no better.
    drop(outbox);
    std::fs::write(dir.join(CURSOR), 3_u64.to_le_bytes()).unwrap();
    let outbox = Outbox::open(Some(&dir), 1 << 20).unwrap();
    assert_eq!(topics(&outbox), ["results/7", "results/8"]);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_outbox_that_never_empties_does_not_grow_on_disk() {
    let dir = dir("compact");
    let mut outbox = Outbox::open(Some(&dir), 1 << 20).unwrap();
    outbox.append(message(1000)).unwrap();
    for n in 0..3_000 {
        outbox.append(message(1000 + n % 5)).unwrap();
        outbox.confirm(1).unwrap();
    }
    outbox.sync().unwrap();
    let on_disk = std::fs::metadata(dir.join(LOG)).unwrap().len();
    assert!(on_disk < 2 << 20, "{on_disk} bytes for one waiting record");
    let waiting = topics(&outbox);
    assert_eq!(waiting.len(), 1);
    drop(outbox);
    // Back: the waiting record last, after at most the confirmations
    // since the cursor was last written (sent again, never lost).
    let outbox = Outbox::open(Some(&dir), 1 << 20).unwrap();
    let back = topics(&outbox);
    assert_eq!(back.last(), waiting.last());
    assert!(back.len() <= CURSOR_EVERY, "{back:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(unix)]
#[test]
fn links_planted_at_the_old_temporary_names_are_not_followed_and_leftovers_go() {
    let dir = dir("planted");
    let outside = dir.with_extension("outside");
    let _ = std::fs::remove_dir_all(&outside);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    for name in ["outbox.pos.new", "outbox.log.new"] {
        std::os::unix::fs::symlink(outside.join(name), dir.join(name)).unwrap();
    }
    let leftover = dir.join(".outbox.log.0123456789abcdef.tmp");
    std::fs::write(&leftover, b"cut short").unwrap();
    let mut outbox = Outbox::open(Some(&dir), 1 << 20).unwrap();
    assert!(!leftover.exists(), "a crash's temporary file is deleted");
    for n in 0..CURSOR_EVERY + 2 {
        outbox.append(message(n)).unwrap();
    }
    outbox.sync().unwrap();
    outbox.confirm(CURSOR_EVERY).unwrap();
    outbox.compact().unwrap();
    let left = topics(&outbox);
    drop(outbox);
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    let outbox = Outbox::open(Some(&dir), 1 << 20).unwrap();
    assert_eq!(topics(&outbox), left);
    let temporaries = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name());
    assert_eq!(
        temporaries
            .filter(|n| n.to_string_lossy().ends_with(".tmp"))
            .count(),
        0
    );
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(outside);
}

#[test]
fn a_record_an_older_fenn_kept_without_retain_still_reads() {
    // The message as fenn kept it before `retain`: the same fields, in
    // the same order, one byte shorter.
    #[derive(Serialize)]
    struct Older {
        topic: String,
        qos: u8,
        payload: Bytes,
        content_type: Option<String>,
        correlation: Option<Bytes>,
        user_properties: Vec<(String, String)>,
    }
    let older = Older {
        topic: "results/7".into(),
        qos: 1,
        payload: Bytes::from_static(b"done"),
        content_type: Some("text/plain".into()),
        correlation: None,
        user_properties: vec![("status".into(), "200".into())],
    };
    let body = postcard::to_allocvec(&older).unwrap();
    let mut record = (body.len() as u32).to_le_bytes().to_vec();
    record.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    record.extend_from_slice(&body);
    let (message, size) = decode(&record).unwrap();
    assert_eq!(size, record.len());
    assert_eq!(
        (message.topic.as_str(), message.retain),
        ("results/7", false)
    );
    assert_eq!(message.payload, Bytes::from_static(b"done"));
    // And a record of today's round-trips with its flag.
    let mut retained = message;
    retained.retain = true;
    let (read, _) = decode(&encode(&retained).unwrap()).unwrap();
    assert_eq!(read, retained);
}
