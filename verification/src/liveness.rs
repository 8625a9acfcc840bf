//! Liveness on the explored graph: `P ~> Q` under weak and strong fairness, by a search for
//! fair cycles among the strongly connected components of the states where `Q` does not hold.
//!
//! stateright's `eventually` looks at acyclic paths only (a cycle ends its search), so it can
//! neither find a behaviour that loops forever without `Q` nor take fairness into account. This
//! module builds the whole graph of reachable states (within the model's boundary, like the
//! checker) and decides, as TLC does for `PROPERTIES`:
//!
//! - a behaviour of TLA+ may stutter, so every state has a self-loop that takes no action;
//! - an action `A` of a fairness condition is *enabled* in a state when some action it covers
//!   has a successor that differs from the state (`<<A>>_vars`), even a successor outside the
//!   boundary (the `CONSTRAINT`), which is then an exit from the graph, not a state of it;
//! - `P ~> Q` fails exactly when, from a reachable state satisfying `P` and not `Q`, the states
//!   not satisfying `Q` contain a reachable *fair* cycle: one whose behaviour repeats forever
//!   satisfies every fairness condition. In a strongly connected component, a behaviour can
//!   visit every state and take every internal edge infinitely often, so a component is fair
//!   for `WF(A)` iff `A` is taken on an internal edge or is disabled in one of its states, and
//!   for `SF(A)` iff `A` is taken inside or disabled in all of them; a component failing only
//!   strong fairness may still contain a fair cycle that avoids the states where `A` is enabled
//!   (Emerson–Lei), so those states are removed and the rest searched again.

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;

use stateright::Model;

/// A fairness condition on the actions it covers (`WF_vars(A)` or `SF_vars(A)`, `A` the
/// disjunction of those actions).
pub struct Fairness<A> {
    /// The name in the spec, for reports (`WF_vars(Finish(c1))`).
    pub name: String,
    /// `SF` rather than `WF`.
    pub strong: bool,
    /// Whether an action is one of `A`'s disjuncts.
    pub covers: Box<dyn Fn(&A) -> bool>,
}

impl<A> Fairness<A> {
    /// `WF_vars(A)`.
    pub fn weak(name: impl Into<String>, covers: impl Fn(&A) -> bool + 'static) -> Self {
        Fairness {
            name: name.into(),
            strong: false,
            covers: Box::new(covers),
        }
    }

    /// `SF_vars(A)`.
    pub fn strong(name: impl Into<String>, covers: impl Fn(&A) -> bool + 'static) -> Self {
        Fairness {
            name: name.into(),
            strong: true,
            covers: Box::new(covers),
        }
    }
}

/// The reachable graph of a model, with the fairness conditions evaluated on it.
pub struct Graph<S> {
    /// The states, in discovery order (the initial states first).
    pub states: Vec<S>,
    /// `edges[i]`: `(j, taken)`, a step from state `i` to state `j ≠ i`, `taken` the set of
    /// fairness conditions (bits) whose actions make it.
    edges: Vec<Vec<(usize, u64)>>,
    /// `enabled[i]`: the fairness conditions (bits) enabled in state `i`.
    enabled: Vec<u64>,
    names: Vec<String>,
    strong: u64,
}

/// What a liveness check covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LivenessReport {
    /// Reachable states in the graph.
    pub states: usize,
    /// Steps between distinct states.
    pub edges: usize,
    /// Reachable states satisfying `P` and not `Q` (each must lead to `Q`).
    pub pending: usize,
    /// Strongly connected components of the states not satisfying `Q` that were examined.
    pub components: usize,
}

impl<S: Clone + Eq + Hash + Debug> Graph<S> {
    /// Explores `model` (within its boundary) under `fairness` (at most 64 conditions).
    pub fn explore<M>(model: &M, fairness: &[Fairness<M::Action>]) -> Graph<S>
    where
        M: Model<State = S>,
        M::Action: Clone,
    {
        assert!(fairness.len() <= 64, "at most 64 fairness conditions");
        let mut index: HashMap<S, usize> = HashMap::new();
        let mut states = Vec::new();
        for state in model.init_states() {
            if model.within_boundary(&state) && !index.contains_key(&state) {
                index.insert(state.clone(), states.len());
                states.push(state);
            }
        }
        let (mut edges, mut enabled) = (Vec::new(), Vec::new());
        let mut actions = Vec::new();
        let mut i = 0;
        while i < states.len() {
            let state = states[i].clone();
            let (mut out, mut on) = (Vec::new(), 0u64);
            actions.clear();
            model.actions(&state, &mut actions);
            for action in actions.drain(..) {
                let Some(next) = model.next_state(&state, action.clone()) else {
                    continue;
                };
                if next == state {
                    continue; // A stutter: enables and takes nothing.
                }
                let taken = fairness
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| (f.covers)(&action))
                    .fold(0u64, |bits, (bit, _)| bits | 1 << bit);
                on |= taken;
                if !model.within_boundary(&next) {
                    continue; // Enabled, but leads out of the explored graph.
                }
                let j = *index.entry(next.clone()).or_insert_with(|| {
                    states.push(next);
                    states.len() - 1
                });
                out.push((j, taken));
            }
            edges.push(out);
            enabled.push(on);
            i += 1;
        }
        let strong = fairness
            .iter()
            .enumerate()
            .filter(|(_, f)| f.strong)
            .fold(0u64, |bits, (bit, _)| bits | 1 << bit);
        Graph {
            states,
            edges,
            enabled,
            names: fairness.iter().map(|f| f.name.clone()).collect(),
            strong,
        }
    }

    /// Checks `p ~> q`: `Ok` with what was covered, or a description of a fair behaviour that
    /// reaches `p` and then never `q`.
    pub fn leads_to(
        &self,
        p: impl Fn(&S) -> bool,
        q: impl Fn(&S) -> bool,
    ) -> Result<LivenessReport, String> {
        let n = self.states.len();
        let outside: Vec<bool> = self.states.iter().map(|s| !q(s)).collect();
        // The states not satisfying `q` reachable, through such states, from a `p` one.
        let mut reached = vec![false; n];
        let mut stack: Vec<usize> = (0..n)
            .filter(|&i| outside[i] && p(&self.states[i]))
            .collect();
        let pending = stack.len();
        for &i in &stack {
            reached[i] = true;
        }
        while let Some(i) = stack.pop() {
            for &(j, _) in &self.edges[i] {
                if outside[j] && !reached[j] {
                    reached[j] = true;
                    stack.push(j);
                }
            }
        }
        let mut report = LivenessReport {
            states: n,
            edges: self.edges.iter().map(Vec::len).sum(),
            pending,
            components: 0,
        };
        let mut work = vec![reached];
        while let Some(within) = work.pop() {
            for component in self.components(&within) {
                report.components += 1;
                let mut members = vec![false; n];
                for &i in &component {
                    members[i] = true;
                }
                let taken = component.iter().fold(0u64, |bits, &i| {
                    self.edges[i]
                        .iter()
                        .filter(|&&(j, _)| members[j])
                        .fold(bits, |bits, &(_, t)| bits | t)
                });
                let enabled_somewhere = component.iter().fold(0, |bits, &i| bits | self.enabled[i]);
                let enabled_everywhere = component
                    .iter()
                    .fold(u64::MAX, |bits, &i| bits & self.enabled[i]);
                let weak_unfair = enabled_everywhere & !taken & !self.strong;
                if weak_unfair != 0 {
                    continue; // Every behaviour staying here neglects a WF action.
                }
                let strong_unfair = enabled_somewhere & !taken & self.strong;
                if strong_unfair != 0 {
                    // Only a cycle avoiding the states where those actions are enabled can be
                    // fair.
                    let rest: Vec<bool> = (0..n)
                        .map(|i| members[i] && self.enabled[i] & strong_unfair == 0)
                        .collect();
                    if rest.iter().any(|&r| r) {
                        work.push(rest);
                    }
                    continue;
                }
                let start = (0..n)
                    .find(|&i| outside[i] && p(&self.states[i]))
                    .map(|i| &self.states[i]);
                let shown: Vec<&S> = component.iter().take(4).map(|&i| &self.states[i]).collect();
                return Err(format!(
                    "a fair behaviour never reaches the goal: from a state like {start:?} it can \
                     stay forever among {} states without it, fair to {:?}, e.g. {shown:#?}",
                    component.len(),
                    self.names
                ));
            }
        }
        Ok(report)
    }

    /// The strongly connected components of the subgraph of the states in `within`
    /// (iterative Tarjan).
    fn components(&self, within: &[bool]) -> Vec<Vec<usize>> {
        let n = self.states.len();
        let (mut index, mut low) = (vec![usize::MAX; n], vec![0; n]);
        let mut on_stack = vec![false; n];
        let (mut stack, mut found, mut next) = (Vec::new(), Vec::new(), 0);
        for root in (0..n).filter(|&i| within[i]) {
            if index[root] != usize::MAX {
                continue;
            }
            let mut call: Vec<(usize, usize)> = vec![(root, 0)];
            index[root] = next;
            low[root] = next;
            next += 1;
            stack.push(root);
            on_stack[root] = true;
            while let Some(&mut (v, ref mut edge)) = call.last_mut() {
                if let Some(&(w, _)) = self.edges[v].get(*edge) {
                    *edge += 1;
                    if !within[w] {
                        continue;
                    }
                    if index[w] == usize::MAX {
                        index[w] = next;
                        low[w] = next;
                        next += 1;
                        stack.push(w);
                        on_stack[w] = true;
                        call.push((w, 0));
                    } else if on_stack[w] {
                        low[v] = low[v].min(index[w]);
                    }
                    continue;
                }
                call.pop();
                if let Some(&(parent, _)) = call.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut component = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        component.push(w);
                        if w == v {
                            break;
                        }
                    }
                    found.push(component);
                }
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stateright::Model;

    /// A counter modulo 3 that may also stop at 0: `Inc` moves on, `Stop` (from 0) ends in 3.
    struct Ring;

    impl Model for Ring {
        type State = u8;
        type Action = &'static str;
        fn init_states(&self) -> Vec<u8> {
            vec![0]
        }
        fn actions(&self, _: &u8, actions: &mut Vec<&'static str>) {
            actions.extend(["Inc", "Stop"]);
        }
        fn next_state(&self, s: &u8, action: &'static str) -> Option<u8> {
            match (action, *s) {
                ("Inc", 0..=2) => Some((s + 1) % 3),
                ("Stop", 0) => Some(3),
                _ => None,
            }
        }
    }

    #[test]
    fn without_fairness_stuttering_violates_leads_to() {
        let graph = Graph::explore(&Ring, &[]);
        assert!(graph.leads_to(|&s| s == 0, |&s| s == 3).is_err());
    }

    #[test]
    fn weak_fairness_on_inc_alone_still_allows_the_ring_forever() {
        let graph = Graph::explore(&Ring, &[Fairness::weak("WF(Inc)", |a: &&str| *a == "Inc")]);
        assert!(graph.leads_to(|&s| s == 0, |&s| s == 3).is_err());
        // But 0 is always left: for 1, or for 3 (where Inc is disabled, so stuttering is fair).
        assert!(graph.leads_to(|&s| s == 0, |&s| s == 1 || s == 3).is_ok());
        assert!(graph.leads_to(|&s| s == 0, |&s| s == 1).is_err());
    }

    #[test]
    fn weak_fairness_on_stop_is_not_enough_strong_fairness_is() {
        // Stop is enabled only in 0, so a ring that keeps moving disables it infinitely often:
        // WF(Stop) is satisfied by the ring, SF(Stop) is not.
        let inc = || Fairness::weak("WF(Inc)", |a: &&str| *a == "Inc");
        let weak = Graph::explore(
            &Ring,
            &[inc(), Fairness::weak("WF(Stop)", |a: &&str| *a == "Stop")],
        );
        assert!(weak.leads_to(|&s| s == 0, |&s| s == 3).is_err());
        let strong = Graph::explore(
            &Ring,
            &[inc(), Fairness::strong("SF(Stop)", |a: &&str| *a == "Stop")],
        );
        let report = strong
            .leads_to(|&s| s == 0, |&s| s == 3)
            .expect("SF(Stop) forces the exit");
        assert_eq!((report.states, report.pending), (4, 1));
    }
}
