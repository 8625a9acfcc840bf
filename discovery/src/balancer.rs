//! Load balancers. Each pick is O(1) whatever the number of instances: the tables a balancer
//! needs (smooth weighted round robin's sequence, weighted random's alias table) are built once
//! per catalog revision, and a pick reads them with one atomic counter or two random numbers.

use std::sync::atomic::Ordering;

use crate::catalog::Endpoints;
use crate::endpoint::Endpoint;
use crate::sync::AtomicUsize;

/// How a route picks an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Balancer {
    /// Power of two choices on peak-EWMA latency × (in-flight + 1) (Linkerd's, Finagle's).
    #[default]
    P2cPeakEwma,
    /// Each instance in turn, weights ignored.
    RoundRobin,
    /// Power of two choices on in-flight calls (divided by weight).
    LeastConnections,
    /// Weighted random (alias method).
    Random,
    /// Smooth weighted round robin (nginx's), as a precomputed sequence.
    WeightedRoundRobin,
}

impl Balancer {
    /// The balancer named as `#[discover(balancer = "...")]` names it.
    pub fn from_name(name: &str) -> Option<Balancer> {
        Some(match name {
            "p2c" => Balancer::P2cPeakEwma,
            "round_robin" => Balancer::RoundRobin,
            "least_connections" => Balancer::LeastConnections,
            "random" => Balancer::Random,
            "weighted_round_robin" => Balancer::WeightedRoundRobin,
            _ => return None,
        })
    }

    /// The names [`from_name`](Self::from_name) accepts.
    pub const NAMES: &'static [&'static str] = &[
        "p2c",
        "round_robin",
        "least_connections",
        "random",
        "weighted_round_robin",
    ];
}

/// The longest smooth-weighted-round-robin sequence built; larger weight sums are scaled down.
const MAX_SEQUENCE: u64 = 1 << 16;

/// A balancer's precomputed view of one set of endpoints.
#[derive(Debug)]
pub(crate) struct Table {
    /// Persistent (shared with the service's snapshot when the route has no filters).
    pub(crate) endpoints: Endpoints,
    /// Weighted random: Vose's alias table (probability in 2^32 parts, alias index). Empty when
    /// every weight is 1: a uniform draw needs none.
    alias: Vec<(u32, u32)>,
    /// Smooth weighted round robin: indices into `endpoints`. Empty when every weight is 1:
    /// the sequence is then plain round robin.
    sequence: Vec<u32>,
}

impl Table {
    /// The table of `endpoints` for `balancer`; `weighted` tells whether any weight is not 1
    /// (only then is an O(n) table built).
    pub(crate) fn new(endpoints: Endpoints, balancer: Balancer, weighted: bool) -> Table {
        let weights = || -> Vec<u64> { endpoints.iter().map(|e| u64::from(e.weight())).collect() };
        let needs_alias = weighted
            && matches!(
                balancer,
                Balancer::Random | Balancer::P2cPeakEwma | Balancer::LeastConnections
            );
        Table {
            alias: if needs_alias {
                alias_table(&weights())
            } else {
                Vec::new()
            },
            sequence: if weighted && balancer == Balancer::WeightedRoundRobin {
                smooth_sequence(&weights())
            } else {
                Vec::new()
            },
            endpoints,
        }
    }

    /// One index drawn with probability proportional to weight.
    ///
    /// `fastrand`'s thread-local generator, not `rand`'s: in `benches/random.rs` (one process,
    /// interleaved rounds, on-CPU clock, 2-core VM) this draw costs 4.1 ns, 7.7 ns with
    /// `rand::rng()` (6.1 ns with the handle held, 6.0 ns with a thread-local `SmallRng`); a
    /// P2C pick's two draws 8.5 ns against 13.5-15.6 ns.
    #[inline]
    fn weighted_index(&self) -> usize {
        let n = self.alias.len();
        if n == 0 {
            return fastrand::usize(..self.endpoints.len());
        }
        let column = fastrand::usize(..n);
        let (threshold, alias) = self.alias[column];
        if fastrand::u32(..) < threshold {
            column
        } else {
            alias as usize
        }
    }

    /// Picks an index (never called on an empty table). `accept` may refuse a candidate (an
    /// instance that already failed this call); it is then avoided if any other is available.
    pub(crate) fn pick(
        &self,
        balancer: Balancer,
        counter: &AtomicUsize,
        bound: Option<u32>,
        accept: impl Fn(&Endpoint) -> bool,
    ) -> usize {
        let n = self.endpoints.len();
        let candidate = |index: usize| accept(&self.endpoints[index]);
        // A few draws find an acceptable candidate in O(1) unless nearly all are refused; then
        // one scan decides (the rare case of a call that already failed on most instances).
        let mut drawn = 0;
        for _ in 0..8 {
            let index = match balancer {
                Balancer::RoundRobin => counter.fetch_add(1, Ordering::Relaxed) % n,
                Balancer::WeightedRoundRobin if self.sequence.is_empty() => {
                    counter.fetch_add(1, Ordering::Relaxed) % n
                }
                Balancer::WeightedRoundRobin => {
                    let step = counter.fetch_add(1, Ordering::Relaxed) % self.sequence.len();
                    self.sequence[step] as usize
                }
                Balancer::Random => self.weighted_index(),
                Balancer::LeastConnections | Balancer::P2cPeakEwma => {
                    let a = self.weighted_index();
                    let mut b = self.weighted_index();
                    if b == a && n > 1 {
                        b = (a + 1 + fastrand::usize(..n - 1)) % n;
                    }
                    let (ea, eb) = (&self.endpoints[a], &self.endpoints[b]);
                    match (accept(ea), accept(eb)) {
                        (true, false) => return a,
                        (false, true) => return b,
                        (true, true) => {
                            return if better(balancer, ea, eb, bound) {
                                b
                            } else {
                                a
                            };
                        }
                        (false, false) => a,
                    }
                }
            };
            if candidate(index) {
                return index;
            }
            drawn = index;
        }
        // Every instance refused (all failed this call already): the balancer's own choice.
        self.endpoints
            .iter()
            .position(|endpoint| accept(endpoint))
            .unwrap_or(drawn)
    }
}

/// Whether `b` is the better of two P2C candidates: under the load bound when `a` is not, else
/// the lower cost per weight; a tie is broken at random (so a new instance, whose cost equals
/// an idle one's, is not always passed over for the first drawn).
fn better(balancer: Balancer, a: &Endpoint, b: &Endpoint, bound: Option<u32>) -> bool {
    if let Some(bound) = bound {
        match (a.in_flight() > bound, b.in_flight() > bound) {
            (true, false) => return true,
            (false, true) => return false,
            _ => {}
        }
    }
    let cost = |endpoint: &Endpoint| match balancer {
        Balancer::LeastConnections => f64::from(endpoint.in_flight()),
        _ => endpoint.cost(),
    } / f64::from(endpoint.weight());
    let (ca, cb) = (cost(a), cost(b));
    cb < ca || (cb == ca && fastrand::bool())
}

/// Vose's alias method: O(n) to build, O(1) to draw.
fn alias_table(weights: &[u64]) -> Vec<(u32, u32)> {
    let n = weights.len();
    if n == 0 {
        return Vec::new();
    }
    let total: u64 = weights.iter().sum();
    let mut scaled: Vec<f64> = weights
        .iter()
        .map(|&w| w as f64 * n as f64 / total as f64)
        .collect();
    let mut table = vec![(u32::MAX, 0u32); n];
    let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| scaled[i] < 1.0);
    while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
        table[s] = (
            (scaled[s] * 4_294_967_296.0).min(4_294_967_295.0) as u32,
            l as u32,
        );
        scaled[l] -= 1.0 - scaled[s];
        if scaled[l] < 1.0 {
            large.pop();
            small.push(l);
        }
    }
    for index in large.into_iter().chain(small) {
        table[index] = (u32::MAX, index as u32);
    }
    table
}

/// Smooth weighted round robin, unrolled into one period: earliest deadline first (Envoy's
/// form), where instance i is due every 1/wᵢ. Each instance appears exactly its weight times
/// per period and its turns are spread evenly. O(W log n) to build for a total weight W, which
/// is capped by scaling the weights down.
fn smooth_sequence(weights: &[u64]) -> Vec<u32> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    if weights.is_empty() {
        return Vec::new();
    }
    let total: u64 = weights.iter().sum();
    let weights: Vec<u64> = if total > MAX_SEQUENCE {
        weights
            .iter()
            .map(|&w| ((w * MAX_SEQUENCE) / total).max(1))
            .collect()
    } else {
        weights.to_vec()
    };
    let total: u64 = weights.iter().sum();
    // Deadlines as exact fractions k/w compared by cross-multiplication; ties go to the lower
    // index.
    #[derive(PartialEq, Eq)]
    struct Due {
        turn: u64,
        weight: u64,
        index: u32,
    }
    impl Ord for Due {
        fn cmp(&self, other: &Self) -> std::cmp::Ordering {
            (u128::from(self.turn) * u128::from(other.weight))
                .cmp(&(u128::from(other.turn) * u128::from(self.weight)))
                .then(self.index.cmp(&other.index))
        }
    }
    impl PartialOrd for Due {
        fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(other))
        }
    }
    let mut heap: BinaryHeap<Reverse<Due>> = weights
        .iter()
        .enumerate()
        .map(|(index, &weight)| {
            Reverse(Due {
                turn: 1,
                weight,
                index: index as u32,
            })
        })
        .collect();
    let mut sequence = Vec::with_capacity(total as usize);
    while sequence.len() < total as usize {
        let Some(Reverse(mut due)) = heap.pop() else {
            break;
        };
        sequence.push(due.index);
        due.turn += 1;
        heap.push(Reverse(due));
    }
    sequence
}

/// Every interleaving of concurrent picks on one counter (see `sync.rs`).
#[cfg(all(test, loom))]
mod loom {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use ::loom::thread;

    use super::{Balancer, Table};
    use crate::endpoint::loom::endpoints;
    use crate::sync::AtomicUsize;

    /// Two callers pick at once from two endpoints, each picking once.
    fn picks(balancer: Balancer) -> Vec<usize> {
        let table = Arc::new(Table::new(
            endpoints(2).0.into_iter().collect(),
            balancer,
            false,
        ));
        let counter = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (table, counter) = (Arc::clone(&table), Arc::clone(&counter));
                thread::spawn(move || table.pick(balancer, &counter, None, |_| true))
            })
            .collect();
        let picks = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(counter.load(Ordering::Relaxed), 2, "one step per pick");
        picks
    }

    #[test]
    fn concurrent_round_robin_picks_take_distinct_turns() {
        ::loom::model(|| {
            let mut picks = picks(Balancer::RoundRobin);
            picks.sort_unstable();
            assert_eq!(picks, [0, 1]);
        });
    }

    #[test]
    fn concurrent_weighted_round_robin_picks_take_distinct_turns() {
        ::loom::model(|| {
            let mut picks = picks(Balancer::WeightedRoundRobin);
            picks.sort_unstable();
            assert_eq!(picks, [0, 1]);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smooth_sequence_gives_each_its_weight_spread_out() {
        let sequence = smooth_sequence(&[5, 1, 1]);
        assert_eq!(sequence.len(), 7);
        for (index, weight) in [(0, 5), (1, 1), (2, 1)] {
            assert_eq!(sequence.iter().filter(|&&i| i == index).count(), weight);
        }
        assert!(
            sequence.windows(3).all(|w| w.contains(&0)),
            "the heavy instance is never absent for 3 turns: {sequence:?}"
        );
    }

    #[test]
    fn smooth_sequence_is_fast_for_many_instances() {
        let sequence = smooth_sequence(&vec![1; 10_000]);
        assert_eq!(sequence.len(), 10_000);
    }

    #[test]
    fn alias_table_keeps_weights() {
        let table = alias_table(&[1, 3]);
        let p0 = table[0].0 as f64 / 4_294_967_296.0 / 2.0
            + if table[1].1 == 0 {
                (1.0 - table[1].0 as f64 / 4_294_967_296.0) / 2.0
            } else {
                0.0
            };
        assert!((p0 - 0.25).abs() < 1e-6, "{p0}");
    }
}
