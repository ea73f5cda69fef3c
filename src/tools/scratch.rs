//! A benchmark's scratch directory: created fresh under a parent, removed when dropped.

use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct Scratch(PathBuf);

impl Scratch {
    /// A new directory `<prefix><pid>-<random>` in `parent` (the system's temporary
    /// directory without one).
    pub fn new(prefix: &str, parent: Option<&Path>) -> std::io::Result<Scratch> {
        let parent = parent.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let path = parent.join(format!(
            "{prefix}{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&parent)?;
        std::fs::create_dir(&path)?;
        Ok(Scratch(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scratch_directory_is_fresh_and_gone_once_dropped() {
        let parent = tempfile::tempdir().unwrap();
        let (a, b) = (
            Scratch::new("x-", Some(parent.path())).unwrap(),
            Scratch::new("x-", Some(parent.path())).unwrap(),
        );
        assert_ne!(a.path(), b.path());
        std::fs::write(a.path().join("f"), b"data").unwrap();
        let kept = a.path().to_path_buf();
        drop(a);
        assert!(!kept.exists());
        assert!(b.path().is_dir());
    }
}
