//! The filesystem itself: what a power cut keeps and drops, and the injected faults.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

use crate::lazyfs::{self, Fault, FaultOp, Mounted};

/// A backing directory holding `before` (durable from the start), mounted.
struct Lab {
    _base: tempfile::TempDir,
    backing: PathBuf,
    mount: Option<Mounted>,
}

impl Lab {
    fn new(before: &[(&str, &str)]) -> Lab {
        let base = tempfile::tempdir().unwrap();
        let backing = base.path().join("backing");
        std::fs::create_dir_all(backing.join("dir")).unwrap();
        for (name, text) in before {
            std::fs::write(backing.join(name), text).unwrap();
        }
        let mountpoint = base.path().join("mnt");
        std::fs::create_dir(&mountpoint).unwrap();
        let mount = lazyfs::mount(&backing, &base.path().join("graveyard"), &mountpoint)
            .expect("mount lazyfs (needs root and /dev/fuse)");
        Lab {
            _base: base,
            backing,
            mount: Some(mount),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.mount.as_ref().unwrap().mountpoint.join(name)
    }

    fn sync_dir(&self, name: &str) {
        File::open(self.path(name)).unwrap().sync_all().unwrap();
    }

    /// Cuts the power, unmounts; what the backing directory then holds under `name`.
    fn cut(&mut self, torn_seed: Option<u64>) -> lazyfs::CutReport {
        let mount = self.mount.take().unwrap();
        let report = mount.control.power_cut(torn_seed).unwrap();
        mount.unmount().unwrap();
        report
    }

    fn after(&self, name: &str) -> Option<String> {
        std::fs::read(self.backing.join(name))
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }
}

#[test]
fn a_cut_keeps_synced_bytes_and_drops_the_rest() {
    let mut lab = Lab::new(&[("dir/log", "0123456789")]);
    let mut file = OpenOptions::new()
        .write(true)
        .open(lab.path("dir/log"))
        .unwrap();
    file.write_all(b"abc").unwrap(); // overwrites 012
    std::os::unix::fs::FileExt::write_all_at(&file, b"XYZ", 10).unwrap(); // extends
    file.sync_data().unwrap();
    std::os::unix::fs::FileExt::write_all_at(&file, b"!!", 1).unwrap(); // unsynced overwrite
    std::os::unix::fs::FileExt::write_all_at(&file, b"tail", 13).unwrap(); // unsynced append
    file.set_len(5).unwrap(); // unsynced truncation below the durable length
    drop(file);
    assert_eq!(std::fs::read(lab.path("dir/log")).unwrap(), b"a!!34");
    let report = lab.cut(None);
    assert_eq!(lab.after("dir/log").as_deref(), Some("abc3456789XYZ"));
    assert_eq!(report.files_restored, 1, "{report:?}");
}

#[test]
fn a_new_file_whose_directory_was_not_synced_is_gone() {
    let mut lab = Lab::new(&[]);
    let mut kept = File::create(lab.path("dir/kept")).unwrap();
    kept.write_all(b"kept").unwrap();
    kept.sync_all().unwrap();
    lab.sync_dir("dir");
    let mut lost = File::create(lab.path("dir/lost")).unwrap();
    lost.write_all(b"lost").unwrap();
    lost.sync_all().unwrap(); // the file is synced, its name is not
    std::fs::create_dir(lab.path("dir/sub")).unwrap();
    drop((kept, lost));
    lab.cut(None);
    assert_eq!(lab.after("dir/kept").as_deref(), Some("kept"));
    assert_eq!(lab.after("dir/lost"), None);
    assert!(!lab.backing.join("dir/sub").exists());
}

#[test]
fn an_unsynced_rename_and_unlink_are_reverted_and_synced_ones_stay() {
    let mut lab = Lab::new(&[("dir/a", "old a"), ("dir/b", "old b"), ("dir/c", "c")]);
    // The classic replace: temporary file, fsync, rename over; then the directory sync.
    for (name, synced) in [("a", true), ("b", false)] {
        let tmp = lab.path(&format!("dir/.{name}.tmp"));
        let mut file = File::create(&tmp).unwrap();
        file.write_all(format!("new {name}").as_bytes()).unwrap();
        file.sync_all().unwrap();
        std::fs::rename(&tmp, lab.path(&format!("dir/{name}"))).unwrap();
        if synced {
            lab.sync_dir("dir");
        }
    }
    std::fs::remove_file(lab.path("dir/c")).unwrap();
    assert_eq!(std::fs::read_to_string(lab.path("dir/b")).unwrap(), "new b");
    let report = lab.cut(None);
    assert_eq!(lab.after("dir/a").as_deref(), Some("new a"));
    assert_eq!(lab.after("dir/b").as_deref(), Some("old b"), "{report:?}");
    assert_eq!(lab.after("dir/.b.tmp"), None);
    assert_eq!(
        lab.after("dir/c").as_deref(),
        Some("c"),
        "the unlink is undone"
    );
}

#[test]
fn the_last_unsynced_write_can_survive_torn() {
    let mut lab = Lab::new(&[("dir/log", "durable|")]);
    let mut file = OpenOptions::new()
        .append(true)
        .open(lab.path("dir/log"))
        .unwrap();
    file.write_all(b"first unsynced write|").unwrap();
    file.write_all(b"0123456789abcdefghij").unwrap();
    drop(file);
    let report = lab.cut(Some(7));
    let (_, offset, kept, len) = report.torn.clone().expect("a torn write");
    assert_eq!((offset, len), (29, 20), "{report:?}");
    assert!((1..20).contains(&kept));
    let after = std::fs::read(lab.backing.join("dir/log")).unwrap();
    // The earlier unsynced write is lost (zeros in its place), the last one is cut short.
    let mut expected = b"durable|".to_vec();
    expected.extend(std::iter::repeat_n(0u8, 21));
    expected.extend(&b"0123456789abcdefghij"[..kept]);
    assert_eq!(after, expected);
}

#[test]
fn an_injected_fsync_fails_with_eio_and_leaves_the_data_unsynced() {
    let mut lab = Lab::new(&[("dir/log", ""), ("dir/other", "")]);
    let control = lab.mount.as_ref().unwrap().control.clone();
    control.inject(Fault {
        op: FaultOp::Fsync,
        path_contains: "log".into(),
        skip: 1,
        times: Some(1),
    });
    let mut file = OpenOptions::new()
        .write(true)
        .open(lab.path("dir/log"))
        .unwrap();
    file.write_all(b"one|").unwrap();
    file.sync_data().unwrap();
    file.write_all(b"two|").unwrap();
    let err = file.sync_data().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(5), "EIO: {err}");
    // Another file is not affected.
    File::options()
        .write(true)
        .open(lab.path("dir/other"))
        .unwrap()
        .sync_all()
        .unwrap();
    assert_eq!(control.faults_fired(), 1);
    drop(file);
    lab.cut(None);
    assert_eq!(lab.after("dir/log").as_deref(), Some("one|"));
}

#[test]
fn an_injected_write_fails_with_enospc_and_writes_nothing() {
    let mut lab = Lab::new(&[("dir/log", "")]);
    let control = lab.mount.as_ref().unwrap().control.clone();
    let mut file = OpenOptions::new()
        .write(true)
        .open(lab.path("dir/log"))
        .unwrap();
    file.write_all(b"fits|").unwrap();
    file.sync_data().unwrap();
    control.inject(Fault {
        op: FaultOp::Write,
        path_contains: "dir/".into(),
        skip: 0,
        times: None,
    });
    let err = file.write_all(b"does not fit").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(28), "ENOSPC: {err}");
    assert!(file.write_all(b"nor this").is_err(), "from now on");
    drop(file);
    assert_eq!(std::fs::read(lab.path("dir/log")).unwrap(), b"fits|");
    lab.cut(None);
    assert_eq!(lab.after("dir/log").as_deref(), Some("fits|"));
}
