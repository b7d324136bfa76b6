//! Helpers of the storage tests: raw SQL counts and a throwaway tmpfs.

use std::path::PathBuf;

use sea_orm::{ConnectionTrait, Statement};

/// The first column of the first row of `sql`, as an integer.
pub async fn scalar(db: &lift::db::Db, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("query")
        .expect("a row");
    row.try_get_by_index::<i64>(0).expect("an integer")
}

/// A tmpfs mounted for one test (needs root), lazily unmounted when dropped.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    pub fn mount(megabytes: u32) -> Tmpfs {
        let dir = std::env::temp_dir()
            .join("lift-tests")
            .join(format!("tmpfs-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("mount point");
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(&dir)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "this test mounts a small tmpfs to fill it up: run it as root"
        );
        Tmpfs(dir)
    }

    /// An SQLite database URL on this filesystem.
    pub fn database_url(&self) -> String {
        format!("sqlite://{}/lift.db?mode=rwc", self.0.display())
    }

    /// Fills the filesystem with a ballast file, then gives `headroom` bytes back.
    pub fn fill_leaving(&self, headroom: u64) {
        use std::io::Write;
        let mut file = std::fs::File::create(self.ballast()).expect("ballast");
        let chunk = vec![1u8; 64 * 1024];
        let mut written = 0u64;
        // Bounded by the filesystem's size: writes stop at ENOSPC.
        while let Ok(n @ 1..) = file.write(&chunk) {
            written += n as u64;
        }
        file.set_len(written.saturating_sub(headroom))
            .expect("truncate the ballast");
    }

    /// Removes the ballast.
    pub fn free(&self) {
        std::fs::remove_file(self.ballast()).expect("remove the ballast");
    }

    fn ballast(&self) -> PathBuf {
        self.0.join("ballast")
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}
