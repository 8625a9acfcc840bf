//! Breadth-first enumeration of a model's reachable states, for the refinement checks (the
//! property checks use stateright's own checker).

use std::collections::HashSet;
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
