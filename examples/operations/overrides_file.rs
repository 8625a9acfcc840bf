//! The `resilience.toml` the example watches: written into a fresh temporary directory at start
//! (removed when dropped), and replaced the way editors and deployment tools do, a new file
//! renamed over the old one, so the watch never reads it half written.

use std::path::{Path, PathBuf};

/// What the example starts with: the attribute says `max_failures = 5` and
/// `max_concurrent_calls = 4`; the file overrides both.
pub(crate) const INITIAL: &str = r#"# Overrides of the attributes' arguments, by registry name (contract §7).
[circuit_breaker."quotes-upstream"]
max_failures = 3

[bulkhead."quotes-upstream"]
max_concurrent_calls = 2
"#;

/// The demo's first edit: both limits raised.
pub(crate) const RAISED: &str = r#"# Overrides of the attributes' arguments, by registry name (contract §7).
[circuit_breaker."quotes-upstream"]
max_failures = 6

[bulkhead."quotes-upstream"]
max_concurrent_calls = 16
"#;

/// The demo's second edit: a bulkhead with no slot is out of range, so the whole file is
/// refused and the previous configuration stays.
pub(crate) const BROKEN: &str = r#"# Overrides of the attributes' arguments, by registry name (contract §7).
[circuit_breaker."quotes-upstream"]
max_failures = 1

[bulkhead."quotes-upstream"]
max_concurrent_calls = 0
"#;

/// A `resilience.toml` in a temporary directory of its own.
pub(crate) struct OverridesFile {
    dir: tempfile::TempDir,
    path: PathBuf,
}

impl OverridesFile {
    /// Writes `text` as `resilience.toml` in a new temporary directory.
    pub(crate) fn create(text: &str) -> std::io::Result<OverridesFile> {
        let dir = tempfile::Builder::new()
            .prefix("resilience-operations-")
            .tempdir()?;
        let path = dir.path().join("resilience.toml");
        std::fs::write(&path, text)?;
        Ok(OverridesFile { dir, path })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the whole file at once with `text`.
    pub(crate) fn replace(&self, text: &str) -> std::io::Result<()> {
        let staged = self.dir.path().join("resilience.toml.new");
        std::fs::write(&staged, text)?;
        std::fs::rename(&staged, &self.path)
    }
}
