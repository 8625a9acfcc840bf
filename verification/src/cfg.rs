//! Reads the `.cfg` files next to the specs, so the checks explore exactly the constants TLC
//! would (`CONSTANTS` with integers and sets, the `INVARIANTS` and `PROPERTIES` lists).

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The directory holding the TLA+ specs and their `.cfg` files.
pub fn specs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../specs")
}

/// A constant's value: the `.cfg` subset the specs use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A natural number.
    Int(u64),
    /// A set of strings (`"rate"`) or model values (`c1`), without quotes.
    Set(Vec<String>),
}

/// A parsed TLC configuration.
#[derive(Debug, Clone, Default)]
pub struct Cfg {
    /// `CONSTANTS` section.
    pub constants: BTreeMap<String, Value>,
    /// `INVARIANT`/`INVARIANTS` section, in order.
    pub invariants: Vec<String>,
    /// `CONSTRAINT`/`CONSTRAINTS` section.
    pub constraints: Vec<String>,
    /// `PROPERTY`/`PROPERTIES` section (the liveness properties), in order.
    pub properties: Vec<String>,
}

impl Cfg {
    /// Reads `specs/<module>.cfg`; panics with the path on any problem (checks are tests).
    pub fn load(module: &str) -> Cfg {
        let path = specs_dir().join(format!("{module}.cfg"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
        Cfg::parse(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
    }

    /// Parses the text of a `.cfg` file.
    pub fn parse(text: &str) -> Result<Cfg, String> {
        let mut cfg = Cfg::default();
        let mut section = "";
        for raw in text.lines() {
            let line = raw.split("\\*").next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut words = line.split_whitespace();
            let first = words.next().unwrap_or("");
            let rest: Vec<&str> = words.collect();
            match first {
                "CONSTANT" | "CONSTANTS" | "INVARIANT" | "INVARIANTS" | "CONSTRAINT"
                | "CONSTRAINTS" | "SPECIFICATION" | "INIT" | "NEXT" | "PROPERTY" | "PROPERTIES"
                | "SYMMETRY" => {
                    section = first;
                    if !rest.is_empty() {
                        cfg.add(section, &rest.join(" "))?;
                    }
                }
                _ => cfg.add(section, line)?,
            }
        }
        Ok(cfg)
    }

    fn add(&mut self, section: &str, line: &str) -> Result<(), String> {
        match section {
            "CONSTANT" | "CONSTANTS" => {
                let (name, value) = line
                    .split_once('=')
                    .ok_or_else(|| format!("expected `Name = value`, got `{line}`"))?;
                let value = value.trim();
                let value = if let Some(items) =
                    value.strip_prefix('{').and_then(|v| v.strip_suffix('}'))
                {
                    Value::Set(
                        items
                            .split(',')
                            .map(|item| item.trim().trim_matches('"').to_owned())
                            .filter(|item| !item.is_empty())
                            .collect(),
                    )
                } else {
                    Value::Int(
                        value
                            .parse()
                            .map_err(|_| format!("`{value}` is not a natural number"))?,
                    )
                };
                self.constants.insert(name.trim().to_owned(), value);
            }
            "INVARIANT" | "INVARIANTS" => self
                .invariants
                .extend(line.split_whitespace().map(str::to_owned)),
            "CONSTRAINT" | "CONSTRAINTS" => self
                .constraints
                .extend(line.split_whitespace().map(str::to_owned)),
            "PROPERTY" | "PROPERTIES" => self
                .properties
                .extend(line.split_whitespace().map(str::to_owned)),
            _ => {}
        }
        Ok(())
    }

    /// The integer constant `name`.
    pub fn int(&self, name: &str) -> u64 {
        match self.constants.get(name) {
            Some(Value::Int(n)) => *n,
            other => panic!("constant {name} is {other:?}, expected a natural number"),
        }
    }

    /// The set constant `name`.
    pub fn set(&self, name: &str) -> Vec<String> {
        match self.constants.get(name) {
            Some(Value::Set(items)) => items.clone(),
            other => panic!("constant {name} is {other:?}, expected a set"),
        }
    }
}
