//! Files only their owner may read (mode 0600): signing keys, client secrets. A key
//! others can read mints tokens for anyone, so one that is readable is refused.

use std::path::Path;

/// Creates `path` with `bytes`, readable by its owner only; fails if it exists.
#[cfg(unix)]
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(not(unix))]
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// Refuses a file others can read, saying how to fix it.
#[cfg(unix)]
pub fn check(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).map_err(|e| e.to_string())?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(format!("mode {:o} lets others read it; run `chmod 600` on it", mode & 0o777));
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn check(_path: &Path) -> Result<(), String> {
    Ok(())
}
