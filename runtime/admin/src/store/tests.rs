//! The store's tests, and the small disk they fill.

use super::super::manifest::tests::version;
use super::*;
use std::io::Write as _;

fn open(dir: &Path) -> (Store, Manifest) {
    let opened = Store::open(dir, 100).unwrap();
    assert!(opened.aside.is_none());
    (opened.store, opened.manifest)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fenn-store-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_committed_manifest_is_what_the_next_start_reads() {
    let dir = temp_dir("reopen");
    let (store, mut manifest) = open(&dir);
    let sha = store.put_module(b"\0asm one").unwrap();
    manifest.deploy("f", version(&sha), 5);
    store.commit(&manifest).unwrap();
    let (store, reread) = open(&dir);
    assert_eq!(reread, manifest);
    assert_eq!(store.read_module(&sha, 1 << 20).unwrap(), b"\0asm one");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn modules_no_version_names_and_leftovers_are_deleted() {
    let dir = temp_dir("collect");
    let (store, mut manifest) = open(&dir);
    for n in 0..4 {
        let sha = store.put_module(format!("module {n}").as_bytes()).unwrap();
        manifest.deploy("f", version(&sha), 2);
        store.commit(&manifest).unwrap();
    }
    assert_eq!(store.module_count(), 2);
    // An interrupted deploy: a module written, its manifest never was.
    store.put_module(b"orphan").unwrap();
    fs::write(dir.join(".manifest.json.tmp"), b"{half").unwrap();
    let (store, _) = open(&dir);
    assert_eq!(store.module_count(), 2);
    assert!(!dir.join(".manifest.json.tmp").exists());
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_manifest_a_start_could_not_read_back_is_not_written() {
    let dir = temp_dir("large");
    let (store, mut manifest) = open(&dir);
    manifest.deploy("f", version("a"), 5);
    store.commit(&manifest).unwrap();
    let mut large = version("b");
    large.definition = serde_json::json!({"x": "x".repeat(MAX_MANIFEST)});
    let mut grown = manifest.clone();
    grown.deploy("f", large, 5);
    let refused = store.commit(&grown).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::FileTooLarge);
    assert_eq!(open(&dir).1, manifest);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_module_that_changed_on_disk_is_refused() {
    let dir = temp_dir("corrupt");
    let (store, _) = open(&dir);
    let sha = store.put_module(b"\0asm good").unwrap();
    fs::write(
        dir.join("modules").join(format!("{sha}.wasm")),
        b"\0asm bad!",
    )
    .unwrap();
    let error = store.read_module(&sha, 1 << 20).unwrap_err();
    assert!(error.contains("does not match its hash"), "{error}");
    // Deploying it again repairs it.
    store.put_module(b"\0asm good").unwrap();
    assert_eq!(store.read_module(&sha, 1 << 20).unwrap(), b"\0asm good");
    let _ = fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[test]
fn links_planted_at_temporary_names_are_not_followed() {
    let dir = temp_dir("planted");
    let outside = temp_dir("planted-outside");
    fs::create_dir_all(&outside).unwrap();
    let (store, mut manifest) = open(&dir);
    let sha = sha256(b"module");
    for (at, name) in [
        (dir.clone(), ".manifest.json.tmp".to_owned()),
        (dir.join("modules"), format!(".{sha}.wasm.tmp")),
    ] {
        std::os::unix::fs::symlink(outside.join(&name), at.join(&name)).unwrap();
    }
    store.put_module(b"module").unwrap();
    manifest.deploy("f", version(&sha), 2);
    store.commit(&manifest).unwrap();
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
    let written = fs::symlink_metadata(dir.join(MANIFEST)).unwrap();
    assert!(written.file_type().is_file());
    assert_eq!(open(&dir).1, manifest);
    // The planted links went with the other leftovers.
    assert!(fs::symlink_metadata(dir.join(".manifest.json.tmp")).is_err());
    let _ = fs::remove_dir_all(&dir);
    let _ = fs::remove_dir_all(&outside);
}

/// The most the small disk of [`small_disk`] holds.
const CAPACITY: u64 = 3000;

/// A disk of [`CAPACITY`] bytes: a write gets what room is left, then
/// the error a full disk gives.
fn small_disk(root: &Path, file: &mut std::fs::File, bytes: &[u8]) -> std::io::Result<()> {
    fn used(dir: &Path) -> u64 {
        let entries = fs::read_dir(dir).unwrap().map(Result::unwrap);
        entries
            .map(|entry| match entry.file_type().unwrap().is_dir() {
                true => used(&entry.path()),
                false => entry.metadata().unwrap().len(),
            })
            .sum()
    }
    let room = CAPACITY.saturating_sub(used(root)) as usize;
    file.write_all(&bytes[..room.min(bytes.len())])?;
    if room < bytes.len() {
        return Err(std::io::ErrorKind::StorageFull.into());
    }
    Ok(())
}

#[test]
fn on_a_full_disk_a_failed_write_leaves_nothing_and_a_removal_makes_room() {
    let dir = temp_dir("full");
    let opened = Store::open_with(&dir, 100, small_disk).unwrap();
    let (store, mut manifest) = (opened.store, opened.manifest);
    for (name, fill) in [("a", b'a'), ("b", b'b')] {
        let sha = store.put_module(&[fill; 1000]).unwrap();
        manifest.deploy(name, version(&sha), 2);
        store.commit(&manifest).unwrap();
    }
    let error = store.put_module(&[b'c'; 1000]).unwrap_err();
    assert!(disk::is_full(&error), "{error}");
    let leftovers = |dir: &Path| {
        let names = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name());
        names
            .filter(|n| n.to_string_lossy().ends_with(".tmp"))
            .count()
    };
    assert_eq!(leftovers(&dir) + leftovers(&dir.join("modules")), 0);
    // Filled to the last byte: even a smaller manifest has no room.
    let room = CAPACITY - 2000 - fs::metadata(dir.join(MANIFEST)).unwrap().len();
    store.put_module(&vec![b'd'; room as usize]).unwrap();
    let mut removed = manifest.clone();
    removed.functions.remove("a");
    assert!(disk::is_full(&store.commit(&removed).unwrap_err()));
    store.commit_removal(&removed).unwrap();
    assert_eq!(open(&dir).1, removed);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn an_unreadable_manifest_is_set_aside_with_its_modules_and_the_store_starts_empty() {
    let dir = temp_dir("aside");
    let (store, mut manifest) = open(&dir);
    let sha = store.put_module(b"kept").unwrap();
    manifest.deploy("f", version(&sha), 2);
    store.commit(&manifest).unwrap();
    fs::write(
        dir.join(MANIFEST),
        br#"{"format": 1, "functions": {"f": {"current": "one"}}}"#,
    )
    .unwrap();
    let opened = Store::open(&dir, 100).unwrap();
    assert_eq!(opened.manifest, Manifest::new());
    let aside = opened.aside.unwrap();
    assert_eq!(aside.names, ["f"]);
    assert!(
        aside.reason.contains("not a manifest fenn wrote"),
        "{}",
        aside.reason
    );
    assert!(aside.path.join(MANIFEST).is_file());
    assert!(
        aside
            .path
            .join("modules")
            .join(format!("{sha}.wasm"))
            .is_file()
    );
    // What was set aside stays there through the next start.
    let (_, reopened) = open(&dir);
    assert_eq!(reopened, Manifest::new());
    assert!(aside.path.join(MANIFEST).is_file());
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_manifest_that_cannot_be_read_stops_the_start_and_nothing_is_set_aside() {
    let dir = temp_dir("unread");
    let (store, mut manifest) = open(&dir);
    let sha = store.put_module(b"kept").unwrap();
    manifest.deploy("f", version(&sha), 2);
    store.commit(&manifest).unwrap();
    let kept = fs::read(dir.join(MANIFEST)).unwrap();
    // Over the most a start reads: not parsed, not set aside.
    let file = fs::OpenOptions::new()
        .write(true)
        .open(dir.join(MANIFEST))
        .unwrap();
    file.set_len(MAX_MANIFEST as u64 + 1).unwrap();
    let error = Store::open(&dir, 100).unwrap_err();
    assert!(
        error.contains("the store's manifest: ") && error.contains("bytes, over"),
        "{error}"
    );
    // Not a regular file (as an I/O error or no permission would be): the
    // same.
    fs::remove_file(dir.join(MANIFEST)).unwrap();
    fs::create_dir(dir.join(MANIFEST)).unwrap();
    let error = Store::open(&dir, 100).unwrap_err();
    assert!(error.contains("is not a regular file"), "{error}");
    fs::remove_dir(dir.join(MANIFEST)).unwrap();
    // One that cannot even be looked at (here a link to itself) is not
    // taken for no manifest.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(MANIFEST, dir.join(MANIFEST)).unwrap();
        let error = Store::open(&dir, 100).unwrap_err();
        assert!(error.contains("cannot read"), "{error}");
        fs::remove_file(dir.join(MANIFEST)).unwrap();
    }
    let entries = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name());
    let aside = entries.filter(|n| n.to_string_lossy().starts_with("aside-"));
    assert_eq!(aside.count(), 0);
    fs::write(dir.join(MANIFEST), kept).unwrap();
    assert_eq!(open(&dir).1, manifest);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn the_names_of_a_manifest_set_aside_are_valid_ones_and_at_most_max_functions() {
    let dir = temp_dir("aside-names");
    let (store, _) = open(&dir);
    drop(store);
    fs::write(
        dir.join(MANIFEST),
        "{\"functions\": {\"\\u001b[2Jx\": {}, \"../up\": {}, \"a\": {}, \"b\": {}, \"c\": {}}}",
    )
    .unwrap();
    let opened = Store::open(&dir, 2).unwrap();
    assert_eq!(opened.aside.unwrap().names, ["a", "b"]);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_removal_that_deleted_modules_but_could_not_commit_says_so_and_completes_later() {
    let dir = temp_dir("gone");
    let opened = Store::open_with(&dir, 100, small_disk).unwrap();
    let (store, mut manifest) = (opened.store, opened.manifest);
    for (name, module) in [("a", vec![b'a'; 10]), ("b", vec![b'b'; 1000])] {
        let sha = store.put_module(&module).unwrap();
        manifest.deploy(name, version(&sha), 2);
        store.commit(&manifest).unwrap();
    }
    // Another file fills the disk: deleting a's small module makes too
    // little room for the manifest.
    let room = CAPACITY - 1010 - fs::metadata(dir.join(MANIFEST)).unwrap().len();
    fs::write(dir.join("filler"), vec![0; room as usize]).unwrap();
    let mut removed = manifest.clone();
    removed.functions.remove("a");
    let error = store.commit_removal(&removed).unwrap_err();
    assert!(
        matches!(&error, Removal::ModulesGone(e) if disk::is_full(e)),
        "{error:?}"
    );
    assert_eq!(store.module_count(), 1);
    // The old manifest still names a, whose module is gone.
    assert_eq!(open(&dir).1, manifest);
    fs::remove_file(dir.join("filler")).unwrap();
    store.commit_removal(&removed).unwrap();
    assert_eq!(open(&dir).1, removed);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_removal_that_deleted_nothing_changed_nothing() {
    let dir = temp_dir("unchanged");
    let opened = Store::open_with(&dir, 100, small_disk).unwrap();
    let (store, mut manifest) = (opened.store, opened.manifest);
    let sha = store.put_module(&[b'a'; 1000]).unwrap();
    // Two functions of one module: removing one deletes no module.
    manifest.deploy("a", version(&sha), 2);
    manifest.deploy("b", version(&sha), 2);
    store.commit(&manifest).unwrap();
    let room = CAPACITY - 1000 - fs::metadata(dir.join(MANIFEST)).unwrap().len();
    fs::write(dir.join("filler"), vec![0; room as usize]).unwrap();
    let mut removed = manifest.clone();
    removed.functions.remove("a");
    let error = store.commit_removal(&removed).unwrap_err();
    assert!(
        matches!(&error, Removal::Unchanged(e) if disk::is_full(e)),
        "{error:?}"
    );
    assert_eq!(store.module_count(), 1);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn the_reason_a_manifest_is_set_aside_is_escaped_and_short() {
    let dir = temp_dir("aside-reason");
    drop(open(&dir));
    let key = format!("\\u001b[2J{}", "k".repeat(100_000));
    let bytes = format!("{{\"format\": 1, \"functions\": {{}}, \"{key}\": 1}}");
    fs::write(dir.join(MANIFEST), bytes).unwrap();
    let reason = Store::open(&dir, 100).unwrap().aside.unwrap().reason;
    assert!(reason.contains("unknown field"), "{reason}");
    assert!(
        !reason.contains('\u{1b}') && reason.len() < 1000,
        "{reason}"
    );
    let _ = fs::remove_dir_all(&dir);
}
