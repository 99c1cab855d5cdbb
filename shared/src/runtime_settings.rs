//! Where the settings an admin changes at run time are kept (`SETTINGS` / `CURRENT`, a
//! signed record of its own partition, so the functions that change it may write nothing
//! else), and a short cache for the code that obeys them.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::settings::Settings;
use crate::store::{Condition, Item, ItemStore, Key, StoreError, WriteOp};

/// How long a process keeps the settings it read: a change applies everywhere within this.
pub const CACHE_TTL: Duration = Duration::from_secs(30);

pub fn key() -> Key {
    Key::new("SETTINGS", "CURRENT")
}

/// The settings and their version; the defaults at version 0 when nobody changed any.
pub async fn read(store: &dyn ItemStore) -> Result<(u64, Settings), StoreError> {
    match store.get(&key()).await? {
        Some(item) => {
            let settings = serde_json::from_value(item.body).map_err(|e| StoreError::Corrupt(format!("settings: {e}")))?;
            Ok((item.version, settings))
        }
        None => Ok((0, Settings::default())),
    }
}

/// The write that replaces the settings at `version` (0: none stored yet).
pub fn write(version: u64, settings: &Settings) -> Result<WriteOp, StoreError> {
    let body = serde_json::to_value(settings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let condition = if version == 0 { Condition::Absent } else { Condition::Version(version) };
    Ok(WriteOp::Put { item: Item { key: key(), version: version + 1, body }, condition })
}

/// The settings, read at most once per [`CACHE_TTL`].
#[derive(Debug, Default)]
pub struct SettingsCache {
    cached: Mutex<Option<(Instant, Settings)>>,
}

impl SettingsCache {
    pub async fn get(&self, store: &dyn ItemStore) -> Result<Settings, StoreError> {
        if let Some((at, settings)) = self.cached.lock().ok().and_then(|cached| *cached)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(settings);
        }
        let (_, settings) = read(store).await?;
        if let Ok(mut cached) = self.cached.lock() {
            *cached = Some((Instant::now(), settings));
        }
        Ok(settings)
    }

    /// Forgets what was read (after a change here, so it applies at once in this process).
    pub fn forget(&self) {
        if let Ok(mut cached) = self.cached.lock() {
            *cached = None;
        }
    }
}
