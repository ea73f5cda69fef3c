//! LazyFs: a FUSE filesystem for tests that forgets what was not synced, after the
//! filesystem of the same name that found lost writes in NATS JetStream.
//!
//! It passes every operation to a backing directory and remembers what a power cut
//! would take away:
//! - per file, the length it had at its last `fsync`/`fdatasync` and an undo log of the
//!   durable bytes overwritten or truncated since (only those: sled's files are many MB,
//!   and copying them at each sync would cost more than the test);
//! - per directory, the entries created, renamed or removed since a directory `fsync`
//!   covered them (a removed or replaced file waits in a graveyard beside the backing
//!   directory until then).
//!
//! [`Control::power_cut`] then puts the backing directory in the state a power loss
//! leaves: unsynced names back as they were, each file at its durable length with its
//! durable bytes, and optionally the last unsynced write torn (a prefix of it kept).
//! [`Control::inject`] makes chosen `fsync`s fail with `EIO` or `write`s with `ENOSPC`.
//!
//! Everything present when the filesystem is mounted counts as durable. One mount
//! serves one life of the program under test: cut, unmount, mount afresh.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, OpenFlags,
    RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry,
    ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow, WriteFlags,
};

/// How long the kernel may cache names and attributes (only this process changes them
/// while mounted).
const TTL: Duration = Duration::from_secs(1);
/// Operation log lines kept per mount (the oldest are dropped beyond).
const LOG_LINES_MAX: usize = 200_000;

/// Which operation a [`Fault`] fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultOp {
    /// `fsync`/`fdatasync` of a file: fails with `EIO`, and nothing becomes durable.
    Fsync,
    /// `write`: fails with `ENOSPC`, and nothing is written.
    Write,
}

/// A failure to inject: the matching operations after the first `skip` fail, `times` of
/// them (every one from then on if `None`).
#[derive(Clone, Debug)]
pub struct Fault {
    pub op: FaultOp,
    /// Only files whose path under the root contains this.
    pub path_contains: String,
    pub skip: u64,
    pub times: Option<u64>,
}

/// What a power cut took away.
#[derive(Debug, Default)]
pub struct CutReport {
    /// Creations, renames and removals undone.
    pub names_reverted: usize,
    /// Files put back to their durable length and bytes.
    pub files_restored: usize,
    /// Bytes written since a sync that were dropped (overwritten durable bytes put back
    /// plus the unsynced length cut off).
    pub bytes_dropped: u64,
    /// The torn write: file, offset, bytes kept of how many.
    pub torn: Option<(PathBuf, u64, usize, usize)>,
}

/// The test's handle on a mounted [`LazyFs`].
#[derive(Clone)]
pub struct Control(Arc<Mutex<State>>);

/// The filesystem itself, given to fuser.
pub struct LazyFs(Arc<Mutex<State>>);

/// A mount: unmounted on drop.
pub struct Mounted {
    session: Option<fuser::BackgroundSession>,
    pub control: Control,
    pub mountpoint: PathBuf,
}

/// Mounts a [`LazyFs`] of `backing` on `mountpoint`; files removed while their
/// directory is not synced wait in `graveyard` (on the same filesystem as `backing`).
pub fn mount(backing: &Path, graveyard: &Path, mountpoint: &Path) -> io::Result<Mounted> {
    std::fs::create_dir_all(graveyard)?;
    let state = Arc::new(Mutex::new(State::new(backing, graveyard)?));
    let mut config = fuser::Config::default();
    config.mount_options = vec![
        fuser::MountOption::FSName("lazyfs".into()),
        fuser::MountOption::NoAtime,
    ];
    let session = fuser::spawn_mount(LazyFs(state.clone()), mountpoint, &config)?;
    Ok(Mounted {
        session: Some(session),
        control: Control(state),
        mountpoint: mountpoint.to_owned(),
    })
}

impl Mounted {
    /// Unmounts and waits for the session thread.
    pub fn unmount(mut self) -> io::Result<()> {
        self.session.take().map_or(Ok(()), |s| s.umount_and_join())
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if let Some(session) = self.session.take()
            && let Err(err) = session.umount_and_join()
        {
            eprintln!("lazyfs: unmounting {}: {err}", self.mountpoint.display());
        }
    }
}

struct State {
    root: PathBuf,
    graveyard: PathBuf,
    /// The backing root's own inode number (FUSE calls the root 1).
    root_ino: u64,
    /// FUSE inode → path under the root.
    paths: HashMap<u64, PathBuf>,
    /// Files written or truncated since their last sync, by inode.
    unsynced: HashMap<u64, Unsynced>,
    handles: HashMap<u64, Handle>,
    next_fh: u64,
    /// Name operations no directory sync has covered yet, oldest first.
    journal: Vec<NameEntry>,
    /// The latest write not covered by a sync: inode, offset, bytes.
    last_write: Option<(u64, u64, Vec<u8>)>,
    faults: Vec<(Fault, u64)>,
    faults_fired: u64,
    graves: u64,
    log: Vec<String>,
    ops: u64,
}

struct Unsynced {
    durable_len: u64,
    /// (offset, durable bytes there), in the order they were overwritten.
    undo: Vec<(u64, Vec<u8>)>,
}

struct Handle {
    file: File,
    path: PathBuf,
}

struct NameEntry {
    /// The directories (FUSE inodes) whose sync this entry still waits for.
    dirs: Vec<u64>,
    op: NameOp,
}

enum NameOp {
    Created(PathBuf),
    Removed {
        path: PathBuf,
        grave: PathBuf,
    },
    Renamed {
        from: PathBuf,
        to: PathBuf,
        replaced: Option<PathBuf>,
    },
}

impl State {
    fn new(root: &Path, graveyard: &Path) -> io::Result<State> {
        let root_ino = std::fs::metadata(root)?.ino();
        Ok(State {
            root: root.to_owned(),
            graveyard: graveyard.to_owned(),
            root_ino,
            paths: HashMap::from([(1, PathBuf::new())]),
            unsynced: HashMap::new(),
            handles: HashMap::new(),
            next_fh: 1,
            journal: Vec::new(),
            last_write: None,
            faults: Vec::new(),
            faults_fired: 0,
            graves: 0,
            log: Vec::new(),
            ops: 0,
        })
    }

    fn log(&mut self, line: String) {
        self.ops += 1;
        if self.log.len() >= LOG_LINES_MAX {
            self.log.drain(..LOG_LINES_MAX / 2);
        }
        self.log.push(format!("{} {line}", self.ops));
    }

    /// The FUSE inode of a backing inode: the root is 1 (and whatever is 1 in the
    /// backing filesystem takes the root's number).
    fn fuse_ino(&self, backing: u64) -> u64 {
        if backing == self.root_ino {
            1
        } else if backing == 1 {
            self.root_ino
        } else {
            backing
        }
    }

    fn rel(&self, ino: INodeNo) -> Result<PathBuf, Errno> {
        self.paths.get(&ino.0).cloned().ok_or(Errno::ENOENT)
    }

    fn child(&self, parent: INodeNo, name: &OsStr) -> Result<PathBuf, Errno> {
        Ok(self.rel(parent)?.join(name))
    }

    fn attr(&mut self, rel: &Path) -> Result<FileAttr, Errno> {
        let meta = std::fs::symlink_metadata(self.root.join(rel))?;
        let ino = self.fuse_ino(meta.ino());
        self.paths.insert(ino, rel.to_owned());
        Ok(to_attr(ino, &meta))
    }

    /// Counts `op` on `path` against the faults; whether this one fails.
    fn fault(&mut self, op: FaultOp, path: &Path) -> bool {
        let text = path.to_string_lossy();
        let mut fail = false;
        for (fault, seen) in &mut self.faults {
            if fault.op != op || !text.contains(&fault.path_contains) {
                continue;
            }
            *seen += 1;
            let after = *seen > fault.skip;
            let within = fault.times.is_none_or(|t| *seen <= fault.skip + t);
            fail |= after && within;
        }
        if fail {
            self.faults_fired += 1;
        }
        fail
    }

    fn grave(&mut self) -> PathBuf {
        self.graves += 1;
        self.graveyard.join(format!("g{}", self.graves))
    }

    fn write(&mut self, fh: u64, ino: u64, offset: u64, data: &[u8]) -> Result<u32, Errno> {
        let handle = self.handles.get(&fh).ok_or(Errno::EBADF)?;
        let path = handle.path.clone();
        if self.fault(FaultOp::Write, &path) {
            self.log(format!(
                "write {} @{offset}+{} ENOSPC",
                path.display(),
                data.len()
            ));
            return Err(Errno::ENOSPC);
        }
        let handle = &self.handles[&fh];
        // A file untouched since its last sync (or since the mount) is durable as it is.
        let unsynced = match self.unsynced.entry(ino) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => entry.insert(Unsynced {
                durable_len: handle.file.metadata()?.len(),
                undo: Vec::new(),
            }),
        };
        let end = offset + data.len() as u64;
        if offset < unsynced.durable_len {
            let mut old = vec![0; (end.min(unsynced.durable_len) - offset) as usize];
            handle.file.read_exact_at(&mut old, offset)?;
            unsynced.undo.push((offset, old));
        }
        handle.file.write_all_at(data, offset)?;
        self.last_write = Some((ino, offset, data.to_vec()));
        self.log(format!("write {} @{offset}+{}", path.display(), data.len()));
        Ok(data.len() as u32)
    }

    fn truncate(&mut self, ino: u64, rel: &Path, size: u64) -> Result<(), Errno> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(self.root.join(rel))?;
        let len = file.metadata()?.len();
        let unsynced = self.unsynced.entry(ino).or_insert(Unsynced {
            durable_len: len,
            undo: Vec::new(),
        });
        if size < unsynced.durable_len {
            let mut old = vec![0; (unsynced.durable_len - size) as usize];
            file.read_exact_at(&mut old, size)?;
            unsynced.undo.push((size, old));
        }
        file.set_len(size)?;
        self.log(format!("truncate {} {len} -> {size}", rel.display()));
        Ok(())
    }

    fn fsync(&mut self, fh: u64, ino: u64) -> Result<(), Errno> {
        let path = self.handles.get(&fh).ok_or(Errno::EBADF)?.path.clone();
        if self.fault(FaultOp::Fsync, &path) {
            self.log(format!("fsync {} EIO", path.display()));
            return Err(Errno::EIO);
        }
        self.unsynced.remove(&ino);
        if self.last_write.as_ref().is_some_and(|(i, _, _)| *i == ino) {
            self.last_write = None;
        }
        self.log(format!("fsync {}", path.display()));
        Ok(())
    }

    fn fsyncdir(&mut self, dir: u64) {
        let mut durable = Vec::new();
        self.journal.retain_mut(|entry| {
            entry.dirs.retain(|d| *d != dir);
            if entry.dirs.is_empty() {
                durable.push(std::mem::replace(
                    &mut entry.op,
                    NameOp::Created(PathBuf::new()),
                ));
                false
            } else {
                true
            }
        });
        for op in durable {
            let grave = match op {
                NameOp::Removed { grave, .. } => Some(grave),
                NameOp::Renamed { replaced, .. } => replaced,
                NameOp::Created(_) => None,
            };
            if let Some(grave) = grave {
                let _ = remove_any(&grave);
            }
        }
        let path = self.paths.get(&dir).cloned().unwrap_or_default();
        self.log(format!("fsyncdir {}", path.display()));
    }

    fn remove(&mut self, parent: INodeNo, name: &OsStr) -> Result<(), Errno> {
        let rel = self.child(parent, name)?;
        let grave = self.grave();
        std::fs::rename(self.root.join(&rel), &grave)?;
        self.log(format!("remove {}", rel.display()));
        self.journal.push(NameEntry {
            dirs: vec![parent.0],
            op: NameOp::Removed { path: rel, grave },
        });
        Ok(())
    }

    fn rename(
        &mut self,
        parent: INodeNo,
        name: &OsStr,
        new_parent: INodeNo,
        new_name: &OsStr,
    ) -> Result<(), Errno> {
        let from = self.child(parent, name)?;
        let to = self.child(new_parent, new_name)?;
        let moved = std::fs::symlink_metadata(self.root.join(&from))?;
        let replaced = if self.root.join(&to).symlink_metadata().is_ok() {
            let grave = self.grave();
            std::fs::rename(self.root.join(&to), &grave)?;
            Some(grave)
        } else {
            None
        };
        std::fs::rename(self.root.join(&from), self.root.join(&to))?;
        let ino = self.fuse_ino(moved.ino());
        // The moved inode and, for a directory, everything under it have new paths.
        for path in self.paths.values_mut() {
            if let Ok(rest) = path.strip_prefix(&from) {
                *path = to.join(rest);
            }
        }
        self.paths.insert(ino, to.clone());
        for handle in self.handles.values_mut() {
            if let Ok(rest) = handle.path.strip_prefix(&from) {
                handle.path = to.join(rest);
            }
        }
        self.log(format!("rename {} -> {}", from.display(), to.display()));
        let mut dirs = vec![parent.0];
        if new_parent != parent {
            dirs.push(new_parent.0);
        }
        self.journal.push(NameEntry {
            dirs,
            op: NameOp::Renamed { from, to, replaced },
        });
        Ok(())
    }

    fn open_handle(&mut self, rel: PathBuf, file: File) -> u64 {
        let fh = self.next_fh;
        self.next_fh += 1;
        self.handles.insert(fh, Handle { file, path: rel });
        fh
    }

    /// The power cut: see the module doc.
    fn power_cut(&mut self, torn_seed: Option<u64>) -> io::Result<CutReport> {
        let mut report = CutReport::default();
        self.handles.clear();
        for entry in std::mem::take(&mut self.journal).into_iter().rev() {
            let undone = match &entry.op {
                NameOp::Created(path) => remove_any(&self.root.join(path)),
                NameOp::Removed { path, grave } => std::fs::rename(grave, self.root.join(path)),
                NameOp::Renamed { from, to, replaced } => {
                    std::fs::rename(self.root.join(to), self.root.join(from)).and_then(|()| {
                        replaced
                            .as_ref()
                            .map_or(Ok(()), |g| std::fs::rename(g, self.root.join(to)))
                    })
                }
            };
            match undone {
                Ok(()) => report.names_reverted += 1,
                Err(err) => self.log(format!("cut: cannot undo a name operation: {err}")),
            }
        }
        let found = self.scan()?;
        for (ino, unsynced) in std::mem::take(&mut self.unsynced) {
            let Some(path) = found.get(&ino) else {
                continue; // its name did not survive
            };
            let file = OpenOptions::new().write(true).open(path)?;
            let len = file.metadata()?.len();
            report.bytes_dropped += len.saturating_sub(unsynced.durable_len);
            file.set_len(unsynced.durable_len)?;
            for (offset, bytes) in unsynced.undo.iter().rev() {
                report.bytes_dropped += bytes.len() as u64;
                file.write_all_at(bytes, *offset)?;
            }
            report.files_restored += 1;
        }
        if let (Some(seed), Some((ino, offset, data))) = (torn_seed, self.last_write.take())
            && let Some(path) = found.get(&ino)
            && data.len() > 1
        {
            let kept = 1 + (seed % (data.len() as u64 - 1)) as usize;
            let file = OpenOptions::new().write(true).open(path)?;
            file.write_all_at(&data[..kept], offset)?;
            let rel = path.strip_prefix(&self.root).unwrap_or(path).to_owned();
            report.torn = Some((rel, offset, kept, data.len()));
        }
        self.last_write = None;
        for entry in std::fs::read_dir(&self.graveyard)? {
            remove_any(&entry?.path())?;
        }
        self.log(format!("power cut: {report:?}"));
        Ok(report)
    }

    /// Every path under the root by FUSE inode.
    fn scan(&self) -> io::Result<HashMap<u64, PathBuf>> {
        let mut found = HashMap::new();
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                let meta = entry.metadata()?;
                found.insert(self.fuse_ino(meta.ino()), entry.path());
                if meta.is_dir() {
                    stack.push(entry.path());
                }
            }
        }
        Ok(found)
    }
}

fn remove_any(path: &Path) -> io::Result<()> {
    if std::fs::symlink_metadata(path)?.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
}

fn to_attr(ino: u64, meta: &std::fs::Metadata) -> FileAttr {
    let time = |secs: i64, nanos: i64| {
        SystemTime::UNIX_EPOCH + Duration::new(secs.max(0) as u64, nanos.max(0) as u32)
    };
    let kind = if meta.is_dir() {
        FileType::Directory
    } else if meta.file_type().is_symlink() {
        FileType::Symlink
    } else {
        FileType::RegularFile
    };
    FileAttr {
        ino: INodeNo(ino),
        size: meta.size(),
        blocks: meta.blocks(),
        atime: time(meta.atime(), meta.atime_nsec()),
        mtime: time(meta.mtime(), meta.mtime_nsec()),
        ctime: time(meta.ctime(), meta.ctime_nsec()),
        crtime: time(meta.mtime(), meta.mtime_nsec()),
        kind,
        perm: (meta.permissions().mode() & 0o7777) as u16,
        nlink: meta.nlink() as u32,
        uid: meta.uid(),
        gid: meta.gid(),
        rdev: meta.rdev() as u32,
        blksize: 4096,
        flags: 0,
    }
}

impl Control {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Simulates a power loss (see the module doc); `torn_seed` keeps a prefix of the
    /// last unsynced write, its length chosen by the seed. Stop the program first.
    pub fn power_cut(&self, torn_seed: Option<u64>) -> io::Result<CutReport> {
        self.lock().power_cut(torn_seed)
    }

    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push((fault, 0));
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// How many operations the injected faults failed.
    pub fn faults_fired(&self) -> u64 {
        self.lock().faults_fired
    }

    /// The operation log of this mount, one line per operation.
    pub fn log(&self) -> Vec<String> {
        self.lock().log.clone()
    }
}

impl LazyFs {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Filesystem for LazyFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let mut state = self.lock();
        match state.child(parent, name).and_then(|rel| state.attr(&rel)) {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(err) => reply.error(err),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        let mut state = self.lock();
        let by_handle = fh
            .and_then(|fh| state.handles.get(&fh.0))
            .and_then(|h| h.file.metadata().ok());
        let attr = match by_handle {
            Some(meta) => Ok(to_attr(ino.0, &meta)),
            None => state.rel(ino).and_then(|rel| state.attr(&rel)),
        };
        match attr {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(err) => reply.error(err),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let mut state = self.lock();
        let result = state.rel(ino).and_then(|rel| {
            if let Some(mode) = mode {
                let perms = std::fs::Permissions::from_mode(mode & 0o7777);
                std::fs::set_permissions(state.root.join(&rel), perms)?;
            }
            if let Some(size) = size {
                state.truncate(ino.0, &rel, size)?;
            }
            state.attr(&rel)
        });
        match result {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(err) => reply.error(err),
        }
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let mut state = self.lock();
        let result = state.child(parent, name).and_then(|rel| {
            std::fs::create_dir(state.root.join(&rel))?;
            let perms = std::fs::Permissions::from_mode(mode & !umask & 0o7777);
            std::fs::set_permissions(state.root.join(&rel), perms)?;
            state.log(format!("mkdir {}", rel.display()));
            state.journal.push(NameEntry {
                dirs: vec![parent.0],
                op: NameOp::Created(rel.clone()),
            });
            state.attr(&rel)
        });
        match result {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(err) => reply.error(err),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.lock().remove(parent, name) {
            Ok(()) => reply.ok(),
            Err(err) => reply.error(err),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut state = self.lock();
        let empty = state
            .child(parent, name)
            .and_then(|rel| Ok(std::fs::read_dir(state.root.join(rel))?.next().is_none()));
        match empty {
            Ok(true) => match state.remove(parent, name) {
                Ok(()) => reply.ok(),
                Err(err) => reply.error(err),
            },
            Ok(false) => reply.error(Errno::ENOTEMPTY),
            Err(err) => reply.error(err),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        if !flags.is_empty() {
            return reply.error(Errno::EINVAL);
        }
        match self.lock().rename(parent, name, newparent, newname) {
            Ok(()) => reply.ok(),
            Err(err) => reply.error(err),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let mut state = self.lock();
        let opened = state.rel(ino).and_then(|rel| {
            // Read and write whatever the caller asked: the undo log reads what a
            // write overwrites. Truncation comes as setattr.
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(state.root.join(&rel))?;
            Ok(state.open_handle(rel, file))
        });
        match opened {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(err) => reply.error(err),
        }
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let mut state = self.lock();
        let result = state.child(parent, name).and_then(|rel| {
            let mut options = OpenOptions::new();
            options.read(true).write(true).mode(mode & !umask & 0o7777);
            if flags & libc_o_excl() != 0 {
                options.create_new(true);
            } else {
                options.create(true);
            }
            let existed = state.root.join(&rel).exists();
            let file = options.open(state.root.join(&rel))?;
            if !existed {
                state.log(format!("create {}", rel.display()));
                state.journal.push(NameEntry {
                    dirs: vec![parent.0],
                    op: NameOp::Created(rel.clone()),
                });
            }
            let attr = state.attr(&rel)?;
            state.unsynced.entry(attr.ino.0).or_insert(Unsynced {
                durable_len: 0,
                undo: Vec::new(),
            });
            Ok((attr, state.open_handle(rel, file)))
        });
        match result {
            Ok((attr, fh)) => reply.created(
                &TTL,
                &attr,
                Generation(0),
                FileHandle(fh),
                FopenFlags::empty(),
            ),
            Err(err) => reply.error(err),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: ReplyData,
    ) {
        let state = self.lock();
        let Some(handle) = state.handles.get(&fh.0) else {
            return reply.error(Errno::EBADF);
        };
        let mut buffer = vec![0; size as usize];
        let mut filled = 0;
        while filled < buffer.len() {
            match handle
                .file
                .read_at(&mut buffer[filled..], offset + filled as u64)
            {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return reply.error(err.into()),
            }
        }
        reply.data(&buffer[..filled]);
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: ReplyWrite,
    ) {
        match self.lock().write(fh.0, ino.0, offset, data) {
            Ok(n) => reply.written(n),
            Err(err) => reply.error(err),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: fuser::LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.lock().handles.remove(&fh.0);
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        match self.lock().fsync(fh.0, ino.0) {
            Ok(()) => reply.ok(),
            Err(err) => reply.error(err),
        }
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.lock().rel(ino) {
            Ok(_) => reply.opened(FileHandle(0), FopenFlags::empty()),
            Err(err) => reply.error(err),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let mut state = self.lock();
        let listed = state.rel(ino).and_then(|rel| {
            let mut entries = vec![
                (ino.0, FileType::Directory, OsStr::new(".").to_owned()),
                (ino.0, FileType::Directory, OsStr::new("..").to_owned()),
            ];
            for entry in std::fs::read_dir(state.root.join(&rel))? {
                let entry = entry?;
                let meta = entry.metadata()?;
                let child = state.fuse_ino(meta.ino());
                state.paths.insert(child, rel.join(entry.file_name()));
                let kind = if meta.is_dir() {
                    FileType::Directory
                } else {
                    FileType::RegularFile
                };
                entries.push((child, kind, entry.file_name()));
            }
            Ok(entries)
        });
        match listed {
            Ok(entries) => {
                for (i, (child, kind, name)) in
                    entries.into_iter().enumerate().skip(offset as usize)
                {
                    if reply.add(INodeNo(child), i as u64 + 1, kind, &name) {
                        break;
                    }
                }
                reply.ok();
            }
            Err(err) => reply.error(err),
        }
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.lock().fsyncdir(ino.0);
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        // Plenty of room: ENOSPC comes from an injected fault only.
        reply.statfs(1 << 24, 1 << 23, 1 << 23, 1 << 20, 1 << 19, 4096, 255, 4096);
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: fuser::AccessFlags, reply: ReplyEmpty) {
        reply.ok();
    }
}

/// `O_EXCL` on Linux (no libc dependency for one constant).
const fn libc_o_excl() -> i32 {
    0o200
}
