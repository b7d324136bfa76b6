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

/// A TCP proxy to PostgreSQL that a test can cut: while cut, open connections are closed and new
/// ones are accepted and never answered (a black-holed network, the slowest kind of outage).
pub struct Proxy {
    pub port: u16,
    up: tokio::sync::watch::Sender<bool>,
}

impl Proxy {
    /// Starts forwarding 127.0.0.1:<port> to `upstream`; the proxy lives as long as the test's
    /// runtime.
    pub async fn start(upstream: std::net::SocketAddr) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let port = listener.local_addr().expect("address").port();
        let (up, _) = tokio::sync::watch::channel(true);
        let states = up.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut state = states.subscribe();
                tokio::spawn(async move {
                    if !*state.borrow_and_update() {
                        // Held open without an answer until the database is back.
                        let _ = state.wait_for(|up| *up).await;
                        return;
                    }
                    let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = state.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Proxy { port, up }
    }

    /// `url` (a PostgreSQL URL on 127.0.0.1:5432 or any host:port) through this proxy.
    pub fn route(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").expect("a URL");
        let (authority, path) = rest.split_once('/').expect("a database path");
        let credentials = authority
            .rsplit_once('@')
            .map(|(c, _)| format!("{c}@"))
            .unwrap_or_default();
        format!("{scheme}://{credentials}127.0.0.1:{}/{path}", self.port)
    }

    /// The database becomes unreachable.
    pub fn cut(&self) {
        self.up.send_replace(false);
    }

    /// The database is reachable again.
    pub fn restore(&self) {
        self.up.send_replace(true);
    }
}
