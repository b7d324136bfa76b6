//! Secrets lift generates for itself (the JWT secret, the key that seals stored passwords) and
//! keeps beside its SQLite database, in files only their owner can read (0600).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::db::connect::sqlite_path;

/// `file_name` in the directory of the SQLite database at `database_url`; `None` for any other
/// database (there is no directory lift owns).
pub fn beside_sqlite(database_url: &str, file_name: &str) -> Option<PathBuf> {
    let db_path = sqlite_path(database_url)?;
    Some(
        Path::new(&db_path)
            .parent()
            .map(|dir| dir.join(file_name))
            .unwrap_or_else(|| PathBuf::from(file_name)),
    )
}

/// The trimmed content of `path`, creating it (mode 0600) with `generate()` when it does not
/// exist. Two processes starting at once agree: the second reads what the first created.
pub fn read_or_create(path: &Path, generate: impl FnOnce() -> String) -> anyhow::Result<String> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        return Ok(existing.trim().to_owned());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let secret = generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(secret.as_bytes())?;
            tracing::info!(path = %path.display(), "generated a secret (mode 0600)");
            Ok(secret)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(std::fs::read_to_string(path)?.trim().to_owned())
        }
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}
