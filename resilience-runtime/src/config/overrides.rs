//! [`Overrides`]: what a file and the environment say, by policy kind and normalised name.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::registry::PolicyKind;

/// Where an override was written: a file's line, or an environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// `path`, line `line` (from 1).
    File {
        /// The file as it was named.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
    },
    /// The environment variable `name`.
    Env {
        /// The variable's name.
        name: String,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{}:{line}", path.display()),
            Origin::Env { name } => write!(f, "environment variable {name}"),
        }
    }
}

/// Why overrides could not be read or applied. Nothing was changed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum OverrideError {
    /// The file could not be read.
    #[error("cannot read {}: {message}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        message: String,
    },
    /// The file is not TOML of the expected shape (`[kind."name"]` tables of `key = value`).
    #[error("{}:{line}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A key is unknown, of the wrong type or out of range.
    #[error("{0}")]
    Invalid(Box<InvalidOverride>),
    /// Two registered policies of one kind have names that normalise alike: an override could
    /// not say which it means.
    #[error(
        "{kind} names `{first}` and `{second}` both normalise to `{normalized}`: rename one of them to override either"
    )]
    Ambiguous {
        /// The policy kind.
        kind: PolicyKind,
        /// One name.
        first: String,
        /// The other.
        second: String,
        /// What both normalise to.
        normalized: String,
    },
    /// Several of the above, in the order found.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Several(Vec<OverrideError>),
}

impl OverrideError {
    /// One error for `errors` (at least one).
    pub(crate) fn from_all(mut errors: Vec<OverrideError>) -> OverrideError {
        if errors.len() == 1 {
            errors.remove(0)
        } else {
            OverrideError::Several(errors)
        }
    }
}

/// A key that is unknown, of the wrong type or out of range, and where it was written.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct InvalidOverride {
    /// Where the value (or the unknown key) was written.
    pub origin: Origin,
    /// The policy kind, as written.
    pub kind: String,
    /// The policy name, as written.
    pub name: String,
    /// The key, as written.
    pub key: String,
    /// The rule it breaks.
    pub problem: String,
}

impl fmt::Display for InvalidOverride {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind.is_empty() {
            write!(f, "{} {}", self.origin, self.problem)
        } else {
            write!(
                f,
                "{}: `{}.\"{}\".{}` {}",
                self.origin, self.kind, self.name, self.key, self.problem
            )
        }
    }
}

impl std::error::Error for InvalidOverride {}

impl OverrideError {
    pub(crate) fn invalid(
        origin: Origin,
        kind: impl Into<String>,
        name: impl Into<String>,
        key: impl Into<String>,
        problem: impl Into<String>,
    ) -> OverrideError {
        OverrideError::Invalid(Box::new(InvalidOverride {
            origin,
            kind: kind.into(),
            name: name.into(),
            key: key.into(),
            problem: problem.into(),
        }))
    }
}

/// A value as written: TOML's types, or an environment variable's text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Integer(i64),
    Float(f64),
    Bool(bool),
    Text(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Integer(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Text(v) => write!(f, "{v:?}"),
        }
    }
}

/// One key's override.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Setting {
    pub(crate) value: Value,
    pub(crate) origin: Origin,
}

/// The overrides of one policy.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct PolicyOverride {
    /// The name as first written (for messages and the snapshot).
    pub(crate) written: String,
    /// By key, as written (lower case).
    pub(crate) settings: BTreeMap<String, Setting>,
}

impl PolicyOverride {
    /// The key's setting, if overridden.
    pub(crate) fn get(&self, key: &str) -> Option<&Setting> {
        self.settings.get(key)
    }
}

/// Overrides read from a file and the environment (contract §7), keyed by policy kind and
/// [normalised](normalize) name. Apply them with
/// [`Registry::apply`](crate::Registry::apply).
///
/// ```toml
/// [circuit_breaker."user-service"]
/// max_failures = 10
/// reset_timeout = "30s"
/// [retry."my_app::get_user"]
/// max_retries = 5
/// [bulkhead."user-service"]
/// enabled = false
/// [timeout."my_app::get_user"]
/// duration = "2s"
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Overrides {
    pub(crate) policies: BTreeMap<(PolicyKind, String), PolicyOverride>,
}

/// A name as overrides match it: ASCII letters in lower case, every run of characters other
/// than letters and digits one `_` (`user-service`, `user_service` and `USER_SERVICE` are one
/// name; `my_app::get_user` is `my_app_get_user`).
pub fn normalize(name: &str) -> String {
    let mut normalized = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if c.is_alphanumeric() {
            normalized.push(c.to_ascii_lowercase());
            in_run = false;
        } else if !in_run {
            normalized.push('_');
            in_run = true;
        }
    }
    normalized
}

fn kind_of(section: &str) -> Option<PolicyKind> {
    [
        PolicyKind::CircuitBreaker,
        PolicyKind::Retry,
        PolicyKind::Timeout,
        PolicyKind::Bulkhead,
    ]
    .into_iter()
    .find(|kind| kind.as_str() == section)
}

/// The keys of each kind (contract §2, and `enabled`).
pub(crate) fn keys(kind: PolicyKind) -> &'static [&'static str] {
    match kind {
        PolicyKind::CircuitBreaker => &[
            "enabled",
            "max_failures",
            "failure_rate",
            "window",
            "min_calls",
            "reset_timeout",
            "half_open_allowed_calls",
        ],
        PolicyKind::Retry => &[
            "enabled",
            "max_retries",
            "backoff",
            "base_delay",
            "max_delay",
            "jitter_factor",
            "max_duration",
        ],
        PolicyKind::Timeout => &["enabled", "duration"],
        PolicyKind::Bulkhead => &[
            "enabled",
            "max_concurrent_calls",
            "max_queue_size",
            "max_wait",
        ],
    }
}

fn unknown_key(kind: PolicyKind, key: &str) -> String {
    let expected: Vec<String> = keys(kind).iter().map(|k| format!("`{k}`")).collect();
    let _ = key;
    format!(
        "is not a {kind} key: expected one of {}",
        expected.join(", ")
    )
}

type Spanned<T> = toml::Spanned<T>;
type FileShape = BTreeMap<
    Spanned<String>,
    BTreeMap<Spanned<String>, BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
>;

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

impl Overrides {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// The overrides of the TOML file at `path`. A file that cannot be read, is not TOML, has
    /// a section or key that does not exist, or a value of the wrong type is an error naming
    /// the file, the line and the key. (Ranges are checked by
    /// [`Registry::apply`](crate::Registry::apply), against each policy's configuration.)
    pub fn from_file(path: impl AsRef<Path>) -> Result<Overrides, OverrideError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|error| OverrideError::Read {
            path: path.to_owned(),
            message: error.to_string(),
        })?;
        Self::from_toml(&text, path)
    }

    /// The overrides of TOML `text`, reported as if read from `path`.
    pub fn from_toml(text: &str, path: impl AsRef<Path>) -> Result<Overrides, OverrideError> {
        let path = path.as_ref();
        let shape: FileShape = toml::from_str(text).map_err(|error| OverrideError::Parse {
            path: path.to_owned(),
            line: error.span().map_or(1, |span| line_of(text, span.start)),
            message: error.message().trim_end().to_owned(),
        })?;
        let mut overrides = Overrides::new();
        let mut errors = Vec::new();
        for (section, policies) in shape {
            let Some(kind) = kind_of(section.get_ref()) else {
                errors.push(OverrideError::Parse {
                    path: path.to_owned(),
                    line: line_of(text, section.span().start),
                    message: format!(
                        "unknown section `{}`: expected `circuit_breaker`, `retry`, `timeout` or `bulkhead`",
                        section.get_ref()
                    ),
                });
                continue;
            };
            for (name, settings) in policies {
                for (key, value) in settings {
                    let origin = Origin::File {
                        path: path.to_owned(),
                        line: line_of(text, key.span().start),
                    };
                    let value = match value.into_inner() {
                        toml::Value::Integer(v) => Value::Integer(v),
                        toml::Value::Float(v) => Value::Float(v),
                        toml::Value::Boolean(v) => Value::Bool(v),
                        toml::Value::String(v) => Value::Text(v),
                        other => {
                            errors.push(OverrideError::invalid(
                                origin,
                                kind.as_str().to_owned(),
                                name.get_ref().clone(),
                                key.get_ref().clone(),
                                format!(
                                    "must be a number, a boolean or a string, not a {}",
                                    other.type_str()
                                ),
                            ));
                            continue;
                        }
                    };
                    if let Err(error) =
                        overrides.insert(kind, name.get_ref(), key.get_ref(), value, origin)
                    {
                        errors.push(error);
                    }
                }
            }
        }
        if errors.is_empty() {
            Ok(overrides)
        } else {
            Err(OverrideError::from_all(errors))
        }
    }

    /// These overrides under the environment's: every variable
    /// `<PREFIX>__<KIND>__<NAME>__<KEY>` (`RESILIENCE__CIRCUIT_BREAKER__USER_SERVICE__MAX_FAILURES=10`)
    /// overrides the same key of the same [normalised](normalize) name. A variable with the
    /// prefix that does not name a kind and a key is an error naming it.
    pub fn with_env(self, prefix: &str) -> Result<Overrides, OverrideError> {
        self.with_vars(prefix, std::env::vars_os())
    }

    /// [`with_env`](Self::with_env) over the given variables instead of the process's.
    pub fn with_vars<K, V>(
        mut self,
        prefix: &str,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Overrides, OverrideError>
    where
        K: AsRef<std::ffi::OsStr>,
        V: AsRef<std::ffi::OsStr>,
    {
        let start = format!("{}__", prefix.to_ascii_uppercase());
        let mut errors = Vec::new();
        let mut found: Vec<(String, String)> = Vec::new();
        for (name, value) in vars {
            let Some(name) = name.as_ref().to_str() else {
                continue;
            };
            if !name.to_ascii_uppercase().starts_with(&start) {
                continue;
            }
            let origin = Origin::Env {
                name: name.to_owned(),
            };
            let Some(value) = value.as_ref().to_str() else {
                errors.push(OverrideError::invalid(
                    origin,
                    String::new(),
                    String::new(),
                    String::new(),
                    "is not valid UTF-8".to_owned(),
                ));
                continue;
            };
            found.push((name.to_owned(), value.to_owned()));
        }
        // Sorted, so errors and "first written" names do not depend on the environment's order.
        found.sort();
        for (var, value) in found {
            let origin = Origin::Env { name: var.clone() };
            let parts: Vec<&str> = var[start.len()..].split("__").collect();
            let [kind, name, key] = parts.as_slice() else {
                errors.push(OverrideError::invalid(origin, String::new(), String::new(), String::new(), format!(
                        "must be {start}<KIND>__<NAME>__<KEY> (e.g. {start}CIRCUIT_BREAKER__USER_SERVICE__MAX_FAILURES)"
                    )));
                continue;
            };
            let Some(kind) = kind_of(&kind.to_ascii_lowercase()) else {
                errors.push(OverrideError::invalid(
                    origin,
                    *kind,
                    *name,
                    *key,
                    "names no policy kind: expected CIRCUIT_BREAKER, RETRY, TIMEOUT or BULKHEAD",
                ));
                continue;
            };
            let key = key.to_ascii_lowercase();
            if let Err(error) = self.insert(kind, name, &key, Value::Text(value), origin) {
                errors.push(error);
            }
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(OverrideError::from_all(errors))
        }
    }

    fn insert(
        &mut self,
        kind: PolicyKind,
        name: &str,
        key: &str,
        value: Value,
        origin: Origin,
    ) -> Result<(), OverrideError> {
        if !keys(kind).contains(&key) {
            return Err(OverrideError::invalid(
                origin,
                kind.as_str(),
                name,
                key,
                unknown_key(kind, key),
            ));
        }
        let policy = self
            .policies
            .entry((kind, normalize(name)))
            .or_insert_with(|| PolicyOverride {
                written: name.to_owned(),
                ..PolicyOverride::default()
            });
        policy
            .settings
            .insert(key.to_owned(), Setting { value, origin });
        Ok(())
    }

    /// Whether nothing is overridden.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// The overridden policies: kind and name as first written.
    pub fn names(&self) -> Vec<(PolicyKind, String)> {
        self.policies
            .iter()
            .map(|((kind, _), policy)| (*kind, policy.written.clone()))
            .collect()
    }

    pub(crate) fn get(&self, kind: PolicyKind, normalized: &str) -> Option<&PolicyOverride> {
        self.policies.get(&(kind, normalized.to_owned()))
    }
}
