//! Every `specs/*.tla` parses (tree-sitter-tlaplus), and every invariant it names is checked by
//! a Rust model, every liveness property of its `.cfg` by the fair-cycle search; every action
//! of its `Next` has a Rust function of the same name.

use std::collections::BTreeSet;

use resilience_verification::cfg::{Cfg, specs_dir};
use resilience_verification::{bulkhead, circuit_breaker, discovery, pipeline, retry};
use stateright::Model;
use tree_sitter::{Node, Parser, Tree};

/// The Rust checks of one spec: the invariants its model checks, and its transcription.
struct RustCheck {
    module: &'static str,
    properties: Vec<&'static str>,
    /// The liveness properties its fair-cycle check covers (none: not checked).
    liveness: &'static [&'static str],
    source: &'static str,
}

fn rust_checks() -> Vec<RustCheck> {
    fn names<M: Model>(model: M) -> Vec<&'static str> {
        model.properties().iter().map(|p| p.name).collect()
    }
    vec![
        RustCheck {
            module: "CircuitBreaker",
            properties: names(circuit_breaker::CircuitBreakerModel::spec()),
            liveness: &circuit_breaker::LIVENESS,
            source: include_str!("../src/circuit_breaker.rs"),
        },
        RustCheck {
            module: "Bulkhead",
            properties: names(bulkhead::BulkheadModel::spec()),
            liveness: &bulkhead::LIVENESS,
            source: include_str!("../src/bulkhead.rs"),
        },
        RustCheck {
            module: "Retry",
            properties: names(retry::RetryModel::new(retry::Semantics::Spec)),
            liveness: &retry::LIVENESS,
            source: include_str!("../src/retry.rs"),
        },
        RustCheck {
            module: "Pipeline",
            properties: names(pipeline::PipelineModel::spec()),
            liveness: &pipeline::LIVENESS,
            source: include_str!("../src/pipeline.rs"),
        },
        RustCheck {
            module: "ServiceDiscovery",
            properties: names(discovery::ServiceDiscoveryModel::spec()),
            liveness: &discovery::LIVENESS,
            source: include_str!("../src/discovery.rs"),
        },
    ]
}

fn parse(text: &str) -> Tree {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_tlaplus::LANGUAGE.into())
        .expect("tree-sitter-tlaplus matches tree-sitter");
    parser.parse(text, None).expect("the parser returns a tree")
}

fn first_error(node: Node<'_>) -> Option<Node<'_>> {
    if node.is_error() || node.is_missing() {
        return Some(node);
    }
    let mut cursor = node.walk();
    node.children(&mut cursor).find_map(first_error)
}

/// The top-level operator definitions: name → definition node.
fn definitions<'t>(root: Node<'t>, text: &str) -> Vec<(String, Node<'t>)> {
    let mut found = Vec::new();
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        if node.kind() == "operator_definition"
            && let Some(name) = node.child_by_field_name("name")
        {
            found.push((text[name.byte_range()].to_owned(), node));
        }
        let mut cursor = node.walk();
        stack.extend(node.children(&mut cursor));
    }
    found
}

/// Every identifier referred to inside `node`.
fn references(node: Node<'_>, text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![node];
    while let Some(node) = stack.pop() {
        if node.kind() == "identifier_ref" {
            found.insert(text[node.byte_range()].to_owned());
        }
        let mut cursor = node.walk();
        stack.extend(node.children(&mut cursor));
    }
    found
}

fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, ch) in name.char_indices() {
        let previous_lower = name[..i].chars().last().is_some_and(|p| p.is_lowercase());
        if ch.is_uppercase() && previous_lower {
            out.push('_');
        }
        out.extend(ch.to_lowercase());
    }
    out
}

#[test]
fn every_spec_parses_and_its_invariants_and_actions_are_checked_in_rust() {
    let checks = rust_checks();
    let mut specs = 0;
    for entry in std::fs::read_dir(specs_dir()).expect("specs/ exists") {
        let path = entry.expect("readable entry").path();
        if path.extension().is_none_or(|ext| ext != "tla") {
            continue;
        }
        specs += 1;
        let module = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let tree = parse(&text);
        if let Some(error) = first_error(tree.root_node()) {
            panic!(
                "{}:{}: syntax error near `{}`",
                path.display(),
                error.start_position().row + 1,
                &text[error.byte_range()]
            );
        }
        let defined = definitions(tree.root_node(), &text);
        let defined_names: BTreeSet<_> = defined.iter().map(|(name, _)| name.clone()).collect();
        let body_of = |name: &str| {
            defined
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, node)| *node)
                .unwrap_or_else(|| panic!("{module}.tla defines no `{name}`"))
        };

        // The invariants: those conjoined in `Invariants` and those the .cfg checks.
        let mut invariants: BTreeSet<String> = references(body_of("Invariants"), &text)
            .intersection(&defined_names)
            .cloned()
            .collect();
        let cfg = Cfg::load(&module);
        invariants.extend(cfg.invariants.iter().cloned());
        assert!(
            cfg.invariants.iter().collect::<BTreeSet<_>>()
                == invariants.iter().collect::<BTreeSet<_>>(),
            "{module}.cfg must check exactly the invariants conjoined in `Invariants`"
        );
        let check = checks
            .iter()
            .find(|check| check.module == module)
            .unwrap_or_else(|| panic!("no Rust check for specs/{module}.tla"));
        for invariant in &invariants {
            assert!(
                defined_names.contains(invariant),
                "{module}.cfg names `{invariant}`, which {module}.tla does not define"
            );
            assert!(
                check.properties.contains(&invariant.as_str()),
                "{module}.tla names the invariant `{invariant}`, which no Rust check names"
            );
        }

        // The liveness properties of the .cfg: defined, and checked by the fair-cycle search.
        for property in &cfg.properties {
            assert!(
                defined_names.contains(property),
                "{module}.cfg names the property `{property}`, which {module}.tla does not define"
            );
            assert!(
                check.liveness.contains(&property.as_str()),
                "{module}.tla's liveness property `{property}` is checked by no Rust check"
            );
        }

        // The actions: every operator `Next` refers to that changes variables (primes them or
        // says UNCHANGED) has a Rust function with its name in snake case.
        for action in references(body_of("Next"), &text).intersection(&defined_names) {
            let definition = &text[body_of(action).byte_range()];
            if !definition.contains('\'') && !definition.contains("UNCHANGED") {
                continue;
            }
            let function = format!("pub fn {}(", snake_case(action));
            assert!(
                check.source.contains(&function),
                "{module}.tla's action `{action}` has no Rust `{function}..`"
            );
        }
    }
    assert!(specs >= 3, "found only {specs} specs");
}

#[test]
fn a_syntax_error_is_reported() {
    let tree = parse("---- MODULE Broken ----\nInit == /\\ x = \n====\n");
    assert!(first_error(tree.root_node()).is_some());
}

#[test]
fn action_names_map_to_snake_case() {
    assert_eq!(snake_case("ForceOpen"), "force_open");
    assert_eq!(snake_case("RetryAfter"), "retry_after");
    assert_eq!(snake_case("Tick"), "tick");
}
