//! [`watch`]: hot reload of an overrides file (contract §7).

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};

use super::{OverrideError, Overrides};
use crate::events::{Event, emit};
use crate::registry::registry;

/// How long the file must be quiet before it is read again: an editor's save is several
/// events (truncate, write, rename).
const DEBOUNCE: Duration = Duration::from_millis(200);

/// Reloads the file while it lives; dropping it stops the watch.
#[must_use = "the file is watched until this guard is dropped"]
pub struct WatchGuard {
    _debouncer: Debouncer<RecommendedWatcher>,
    path: PathBuf,
}

impl std::fmt::Debug for WatchGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchGuard")
            .field("path", &self.path)
            .finish()
    }
}

/// Reads `path` and the environment's `<env_prefix>__…` variables, applies them to
/// [`registry()`], and reapplies them whenever the file changes, until the guard is dropped.
///
/// The first load's error is returned (nothing is applied then). A later change that does not
/// parse or validate changes nothing: the last good configuration stays, the error is logged
/// and sent as [`Event::ConfigReloadFailed`]; a good one is applied and sent as
/// [`Event::ConfigReloaded`]. The file's directory is watched, so editors that save by renaming
/// a new file over the old one are followed, and a file that is deleted and written again is
/// read again. A change event that leaves the file's bytes as they were last read is ignored
/// (no reload, no event). Replace the file at once (write a new file, rename it over the old one), as
/// editors and deployment tools do: a file truncated and then written in place may be read in
/// between, and an empty file is a valid one, with no overrides.
pub fn watch(path: impl AsRef<Path>, env_prefix: &str) -> Result<WatchGuard, OverrideError> {
    let path = path.as_ref().to_owned();
    load(&path, env_prefix)?;
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    let file_name = path.file_name().map(ToOwned::to_owned);
    let (watched, prefix) = (path.clone(), env_prefix.to_owned());
    // What was last read: one save can arrive as two debounced batches (a rename's events on
    // either side of the debounce), and a file touched without a change needs no reload.
    let mut last_read = std::fs::read(&path).ok();
    let mut debouncer = new_debouncer(DEBOUNCE, move |result: DebounceEventResult| {
        let touched = match result {
            Ok(events) => events
                .iter()
                .any(|event| event.path.file_name() == file_name.as_deref()),
            Err(error) => {
                tracing::warn!(target: "resilience", file = %watched.display(), %error, "watching the overrides file failed");
                false
            }
        };
        let touched = touched && {
            let now = std::fs::read(&watched).ok();
            let changed = now != last_read;
            last_read = now;
            changed
        };
        if touched && let Err(error) = load(&watched, &prefix) {
            tracing::warn!(
                target: "resilience",
                file = %watched.display(),
                %error,
                "the overrides file was not applied; keeping the last good configuration"
            );
        }
    })
    .map_err(|error| watch_error(&path, error))?;
    debouncer
        .watcher()
        .watch(&directory, RecursiveMode::NonRecursive)
        .map_err(|error| watch_error(&path, error))?;
    Ok(WatchGuard {
        _debouncer: debouncer,
        path,
    })
}

fn watch_error(path: &Path, error: impl std::fmt::Display) -> OverrideError {
    OverrideError::Read {
        path: path.to_owned(),
        message: format!("cannot watch it: {error}"),
    }
}

/// Reads and applies the file and the environment; every failure is also an event.
fn load(path: &Path, env_prefix: &str) -> Result<(), OverrideError> {
    let source = path.display().to_string();
    let overrides = Overrides::from_file(path).and_then(|file| file.with_env(env_prefix));
    match overrides {
        Ok(overrides) => registry().apply_from(&overrides, &source),
        Err(error) => {
            emit(|| Event::ConfigReloadFailed {
                source,
                error: error.to_string(),
            });
            Err(error)
        }
    }
}
