//! Breadth-first enumeration of a model's reachable states, for the refinement checks (the
//! property checks use stateright's own checker).

use std::collections::HashSet;
use std::fmt::Debug;
use std::hash::Hash;

use stateright::Model;

/// Every state reachable from the initial states through states within the model's boundary
/// (the spec's `CONSTRAINT`); like stateright's checker, states outside it are dropped.
pub fn reachable<M>(model: &M) -> Vec<M::State>
where
    M: Model,
    M::State: Clone + Eq + Hash,
{
    let mut seen: HashSet<M::State> = HashSet::new();
    let mut order = Vec::new();
    let mut frontier = Vec::new();
    for state in model.init_states() {
        if model.within_boundary(&state) && seen.insert(state.clone()) {
            order.push(state.clone());
            frontier.push(state);
        }
    }
    let mut actions = Vec::new();
    while let Some(state) = frontier.pop() {
        actions.clear();
        model.actions(&state, &mut actions);
        for action in actions.drain(..) {
            if let Some(next) = model.next_state(&state, action)
                && model.within_boundary(&next)
                && seen.insert(next.clone())
            {
                order.push(next.clone());
                frontier.push(next);
            }
        }
    }
    order
}

/// What an exhaustive refinement check covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefinementReport {
    /// Reachable spec states visited.
    pub states: usize,
    /// (state, action) pairs compared.
    pub pairs: usize,
    /// Pairs where the action was enabled (in both).
    pub enabled: usize,
}

/// For every state and every action: the implementation takes the action exactly when the spec
/// does, and reaches the same state. So every implementation step is a spec step (refinement),
/// and every spec action is matched by an implementation step. `per_state` runs any further
/// check a machine has on each state first.
pub fn refine_action_by_action<S, A, T>(
    states: &[S],
    actions: &[A],
    mut per_state: impl FnMut(&S) -> Result<(), String>,
    spec: impl Fn(&S, A) -> Option<T>,
    implementation: impl Fn(&S, A) -> Option<T>,
) -> Result<RefinementReport, String>
where
    S: Debug,
    A: Copy + Debug,
    T: PartialEq + Debug,
{
    let mut report = RefinementReport {
        states: states.len(),
        pairs: 0,
        enabled: 0,
    };
    for s in states {
        per_state(s)?;
        for &action in actions {
            report.pairs += 1;
            let by_spec = spec(s, action);
            let by_implementation = implementation(s, action);
            if by_spec != by_implementation {
                return Err(format!(
                    "{action:?} from {s:?}:\n  spec           -> {by_spec:?}\n  implementation -> {by_implementation:?}"
                ));
            }
            report.enabled += usize::from(by_spec.is_some());
        }
    }
    Ok(report)
}
