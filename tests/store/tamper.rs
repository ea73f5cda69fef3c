//! Tampering with stored events (edit, delete, swap, insert) is caught by verify at the
//! right position; damage at the tail stops the store from serving; and an auditor can
//! recompute the chain from an NDJSON replay with an off-the-shelf JCS and BLAKE3.

use std::path::Path;
use std::process::Command;

use crisisd::store::sled_store::SEGMENT_BYTES;
use crisisd::store::{DamageKind, SledStore, StoreConfig, StoreError, log};

use crate::common::{fill_concurrently, open, wait_until_unlocked, when_released};

const EVENTS: u64 = 3_000;

/// A store of EVENTS events, built once per test in its own directory; returns once
/// sled's threads have let go of the directory (a raw handle or a child crisisd is next).
async fn build(dir: &Path) {
    let store = open(dir);
    fill_concurrently(&store, EVENTS).await;
    store.close().await;
    drop(store);
    wait_until_unlocked(dir);
}

/// A raw sled handle on the store, once the store's own handles have let go of the
/// directory lock (sled's IO threads hold it a moment after the last drop; a child
/// another test is forking may hold a copy of it until it execs).
fn raw_tree(dir: &Path) -> sled::Db {
    for _ in 0..100 {
        wait_until_unlocked(dir);
        let opened = sled::Config::new()
            .path(dir)
            .segment_size(SEGMENT_BYTES)
            .flush_every_ms(None)
            .open();
        match opened {
            Ok(db) => return db,
            Err(err) if err.to_string().contains("could not acquire lock") => {}
            Err(err) => panic!("raw open of {}: {err}", dir.display()),
        }
    }
    panic!("{} stayed locked", dir.display());
}

fn inspect(dir: &Path) -> Option<(u64, DamageKind)> {
    let store = when_released(|| SledStore::open_for_inspection(StoreConfig::new(dir))).unwrap();
    store
        .verify(1, u64::MAX)
        .unwrap()
        .damage
        .map(|d| (d.position, d.kind))
}

fn tampered(dir: &Path, change: impl FnOnce(&sled::Db)) {
    let db = raw_tree(dir);
    change(&db);
    db.flush().unwrap();
}

#[tokio::test]
async fn edits_deletions_swaps_and_insertions_are_named() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path()).await;
    assert_eq!(inspect(dir.path()), None);

    // Edit one byte of the data of position 100 (deep in the log: open still serves).
    tampered(dir.path(), |db| {
        let mut value = log::get(db, 100).unwrap().unwrap().to_vec();
        let at = value.iter().rposition(|b| b.is_ascii_digit()).unwrap();
        value[at] = if value[at] == b'9' {
            b'8'
        } else {
            value[at] + 1
        };
        log::put(db, 100, &value).unwrap();
    });
    assert_eq!(inspect(dir.path()), Some((100, DamageKind::Edited)));
    assert!(
        when_released(|| SledStore::open(StoreConfig::new(dir.path()))).is_ok(),
        "damage outside the tail window is verify's job"
    );
}

#[tokio::test]
async fn deletion_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path()).await;
    tampered(dir.path(), |db| {
        log::remove(db, 200).unwrap();
    });
    assert_eq!(inspect(dir.path()), Some((200, DamageKind::Missing)));
}

#[tokio::test]
async fn swap_is_reordered() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path()).await;
    tampered(dir.path(), |db| {
        let a = log::get(db, 300).unwrap().unwrap();
        let b = log::get(db, 301).unwrap().unwrap();
        log::put(db, 300, &b).unwrap();
        log::put(db, 301, &a).unwrap();
    });
    assert_eq!(inspect(dir.path()), Some((300, DamageKind::Reordered)));
}

#[tokio::test]
async fn insertion_is_named() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path()).await;
    // Shift 500.. up by one slot and put a copy of 499 (a forged record) at 500.
    tampered(dir.path(), |db| {
        for p in (500..=EVENTS).rev() {
            let v = log::get(db, p).unwrap().unwrap();
            log::put(db, p + 1, &v).unwrap();
        }
        let forged = log::get(db, 499).unwrap().unwrap();
        log::put(db, 500, &forged).unwrap();
    });
    let damage = inspect(dir.path()).expect("insertion is detected");
    assert_eq!(damage.0, 500, "{damage:?}");
    assert!(
        matches!(damage.1, DamageKind::Inserted | DamageKind::Reordered),
        "{damage:?}"
    );
}

#[tokio::test]
async fn damage_at_the_tail_stops_the_store_from_serving() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path()).await;
    tampered(dir.path(), |db| {
        let mut value = log::get(db, EVENTS - 10).unwrap().unwrap().to_vec();
        let last = value.len() - 5;
        value[last] ^= 0x01;
        log::put(db, EVENTS - 10, &value).unwrap();
    });
    let err = when_released(|| SledStore::open(StoreConfig::new(dir.path())))
        .expect_err("a damaged tail refuses to open");
    let message = err.to_string();
    assert!(matches!(err, StoreError::Damaged(_)), "{message}");
    assert!(
        message.contains(&format!("position {}", EVENTS - 10)),
        "{message}"
    );
    assert!(
        message.contains("crisisd verify") && message.contains("crisisd repair"),
        "{message}"
    );

    // The repair command drops the damaged tail; the rest serves again (once the
    // refused open above has let go of the directory).
    wait_until_unlocked(dir.path());
    let status = Command::new(env!("CARGO_BIN_EXE_crisisd"))
        .args([
            "--data-dir",
            dir.path().to_str().unwrap(),
            "repair",
            "--truncate-from",
            &(EVENTS - 10).to_string(),
            "--yes",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let store = open(dir.path());
    assert_eq!(store.head().position, EVENTS - 11);
    assert!(store.verify(1, u64::MAX).unwrap().is_ok());
}

#[tokio::test]
async fn records_past_the_head_stop_the_store_from_serving() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path()).await;
    tampered(dir.path(), |db| {
        let v = log::get(db, EVENTS).unwrap().unwrap();
        log::put(db, EVENTS + 1, &v).unwrap();
    });
    let err = when_released(|| SledStore::open(StoreConfig::new(dir.path()))).expect_err("refuses");
    assert!(
        err.to_string().contains("Inserted at position 3001"),
        "{err}"
    );
}

/// The NDJSON replay verifies with a JCS library and BLAKE3 alone, without crisisd's code.
#[tokio::test]
async fn replay_output_verifies_with_off_the_shelf_jcs_and_blake3() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path()).await;
    let output = Command::new(env!("CARGO_BIN_EXE_crisisd"))
        .args(["--data-dir", dir.path().to_str().unwrap(), "replay"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let mut prev = [0u8; 32];
    let mut lines = 0;
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        let mut envelope: serde_json::Value = serde_json::from_str(line).unwrap();
        let object = envelope.as_object_mut().unwrap();
        let hash = object.remove("hash").unwrap();
        let prev_hash = object.remove("prev_hash").unwrap();
        assert_eq!(prev_hash.as_str().unwrap(), hex::encode(prev));
        let canonical = serde_json_canonicalizer::to_vec(&envelope).unwrap();
        let mut hasher = blake3::Hasher::new();
        hasher.update(&prev);
        hasher.update(&canonical);
        let computed = hasher.finalize();
        assert_eq!(hash.as_str().unwrap(), computed.to_hex().as_str());
        prev = *computed.as_bytes();
        lines += 1;
    }
    assert_eq!(lines, EVENTS);
}

/// `crisisd export` then `crisisd import` into an empty directory gives the same log;
/// an edited export is refused and imports nothing.
#[tokio::test]
async fn export_and_import_move_a_log_intact_and_refuse_an_edited_one() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path()).await;
    let crisisd = |data: &std::path::Path, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_crisisd"))
            .args(["--data-dir", data.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap()
    };
    let export = dir.path().join("log.ndjson");
    let out = crisisd(dir.path(), &["export", "--out", export.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&export).unwrap();
    assert_eq!(text.lines().count() as u64, EVENTS);

    let edited = dir.path().join("edited.ndjson");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[41] = lines[41].replacen("\"stream_version\":", "\"stream_version\":1", 1);
    std::fs::write(&edited, lines.join("\n")).unwrap();
    let target = tempfile::tempdir().unwrap();
    let refused = crisisd(target.path(), &["import", edited.to_str().unwrap()]);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("line 42") && message.contains("nothing was imported"),
        "{message}"
    );

    let imported = crisisd(target.path(), &["import", export.to_str().unwrap()]);
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let replayed = crisisd(target.path(), &["replay"]);
    assert_eq!(
        String::from_utf8(replayed.stdout).unwrap(),
        text,
        "the same log, byte for byte"
    );
    let verified = crisisd(target.path(), &["verify"]);
    assert!(verified.status.success());
}

/// A range past the head or reversed is the caller's mistake, not damage: `verify`
/// says what to fix and exits 2 (usage), never 1 (damage); `replay` and `export` too.
#[tokio::test]
async fn verify_ranges_past_the_head_or_reversed_are_usage_errors_not_damage() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path()).await;
    let crisisd = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_crisisd"))
            .args(["--data-dir", dir.path().to_str().unwrap()])
            .args(args)
            .output()
            .unwrap()
    };
    let past = (EVENTS + 5).to_string();
    for args in [
        vec!["verify", "--from", &past],
        vec!["verify", "--from", "3", "--to", "1"],
        vec!["replay", "--from", &past],
        vec!["replay", "--from", "3", "--to", "1"],
    ] {
        let output = crisisd(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("beyond the log's head") || stderr.contains("is after to"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("DAMAGED"), "{args:?}: {stderr}");
    }
    let last = EVENTS.to_string();
    let output = crisisd(&["verify", "--from", &last]);
    assert!(output.status.success(), "the last position verifies alone");
}
