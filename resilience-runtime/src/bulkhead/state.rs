//! The bulkhead as a pure state machine: how many slots are handed out, how many callers hold a
//! queue place, how many of those still wait. No tokio, no clock (`max_wait` expiring is the
//! [`Event::Leave`](crate::bulkhead::state::Event::Leave) of a queued caller).
//!
//! The driver (`driver.rs`) realises it with a FIFO semaphore (`slots.rs`) and an atomic
//! queue counter; `specs/Bulkhead.tla` describes the same machine. In debug and loom builds
//! `slots.rs` checks every transition of its wait queue against [`step`](crate::bulkhead::state::step) (`monitor.rs`).

/// Occupancy of a bulkhead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct State {
    /// Slots handed out: bodies running, and waiters handed a slot whose task has not run again
    /// yet ("granted"; `Bulkhead::in_flight` counts them too).
    pub in_flight: usize,
    /// Queue places held: callers waiting, and the granted ones (the driver's `QueuePlace`
    /// counter keeps a place until `acquire_queued` returns).
    pub queued: usize,
    /// Callers waiting for a slot (the `Slots` queue); `queued - waiting` are granted.
    pub waiting: usize,
}

/// An input to the bulkhead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// A caller arrives.
    Arrive,
    /// A granted waiter's task runs again and takes the slot it was handed.
    Start,
    /// A running body finished or was dropped: its slot is given back.
    Finish,
    /// A queued caller was dropped or waited `max_wait`; `granted` if it had been handed a slot
    /// already (which it then passes on).
    Leave {
        /// Whether it had been handed a slot.
        granted: bool,
    },
}

/// What the bulkhead tells the caller of [`step`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Run the body now.
    Run,
    /// Wait in the queue.
    Wait,
    /// `BulkheadFull`.
    Reject,
    /// The event was taken into account (a slot given back went to the free count).
    Done,
    /// The slot given back went to the oldest waiter, which is now granted.
    HandOver,
    /// The event is impossible in this state and changed nothing.
    Ignored,
}

/// The bulkhead's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Bodies running at once.
    pub max_concurrent_calls: usize,
    /// Callers waiting at once.
    pub max_queue_size: usize,
}

impl State {
    /// Waiters handed a slot that have not taken it yet.
    pub fn granted(self) -> usize {
        self.queued.saturating_sub(self.waiting)
    }

    /// A slot given back: to the oldest waiter, else to the free count.
    fn release(self) -> (State, Decision) {
        if self.waiting > 0 {
            (
                State {
                    waiting: self.waiting - 1,
                    ..self
                },
                Decision::HandOver,
            )
        } else {
            (
                State {
                    in_flight: self.in_flight - 1,
                    ..self
                },
                Decision::Done,
            )
        }
    }
}

/// The bulkhead's transition function.
pub fn step(state: State, event: Event, limits: &Limits) -> (State, Decision) {
    let granted = state.granted();
    let running = state.in_flight.saturating_sub(granted);
    match event {
        Event::Arrive if state.in_flight < limits.max_concurrent_calls => (
            State {
                in_flight: state.in_flight + 1,
                ..state
            },
            Decision::Run,
        ),
        Event::Arrive if state.queued < limits.max_queue_size => (
            State {
                queued: state.queued + 1,
                waiting: state.waiting + 1,
                ..state
            },
            Decision::Wait,
        ),
        Event::Arrive => (state, Decision::Reject),
        Event::Start if granted > 0 => (
            State {
                queued: state.queued - 1,
                ..state
            },
            Decision::Done,
        ),
        Event::Finish if running > 0 => state.release(),
        Event::Leave { granted: false } if state.waiting > 0 => (
            State {
                queued: state.queued - 1,
                waiting: state.waiting - 1,
                ..state
            },
            Decision::Done,
        ),
        Event::Leave { granted: true } if granted > 0 => State {
            queued: state.queued - 1,
            ..state
        }
        .release(),
        Event::Start | Event::Finish | Event::Leave { .. } => (state, Decision::Ignored),
    }
}

impl State {
    /// The safety invariant of `specs/Bulkhead.tla` on the counts: both bounds hold, the granted
    /// waiters hold slots, and nobody waits while a slot is free (`NoFreeSlotWhileWaiting`, the
    /// FIFO invariant of `slots.rs`).
    pub fn within_bounds(self, limits: &Limits) -> bool {
        self.in_flight <= limits.max_concurrent_calls
            && self.queued <= limits.max_queue_size
            && self.waiting <= self.queued
            && self.granted() <= self.in_flight
            && (self.waiting == 0 || self.in_flight == limits.max_concurrent_calls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_concurrent_calls: 1,
        max_queue_size: 1,
    };

    #[test]
    fn arrivals_run_then_wait_then_are_rejected() {
        let (s, d1) = step(State::default(), Event::Arrive, &LIMITS);
        let (s, d2) = step(s, Event::Arrive, &LIMITS);
        let (s, d3) = step(s, Event::Arrive, &LIMITS);
        assert_eq!(
            (d1, d2, d3),
            (Decision::Run, Decision::Wait, Decision::Reject)
        );
        assert_eq!(
            s,
            State {
                in_flight: 1,
                queued: 1,
                waiting: 1
            }
        );
    }

    #[test]
    fn a_released_slot_goes_to_the_waiter_which_keeps_its_place_until_it_starts() {
        let full = State {
            in_flight: 1,
            queued: 1,
            waiting: 1,
        };
        let (granted, decision) = step(full, Event::Finish, &LIMITS);
        assert_eq!(decision, Decision::HandOver);
        assert_eq!(
            granted,
            State {
                in_flight: 1,
                queued: 1,
                waiting: 0
            }
        );
        assert!(granted.within_bounds(&LIMITS));
        // The granted waiter holds the only slot: a newcomer finds the queue full.
        assert_eq!(step(granted, Event::Arrive, &LIMITS).1, Decision::Reject);
        let (started, decision) = step(granted, Event::Start, &LIMITS);
        assert_eq!(decision, Decision::Done);
        assert_eq!(
            started,
            State {
                in_flight: 1,
                queued: 0,
                waiting: 0
            }
        );
        // Only a running body finishes: a granted waiter leaves instead.
        assert_eq!(step(granted, Event::Finish, &LIMITS).1, Decision::Ignored);
        let (left, decision) = step(granted, Event::Leave { granted: true }, &LIMITS);
        assert_eq!((left, decision), (State::default(), Decision::Done));
    }

    #[test]
    fn a_newcomer_never_overtakes_the_queue() {
        let limits = Limits {
            max_concurrent_calls: 1,
            max_queue_size: 2,
        };
        let waiting = State {
            in_flight: 1,
            queued: 1,
            waiting: 1,
        };
        assert_eq!(step(waiting, Event::Arrive, &limits).1, Decision::Wait);
        // The state the old spec allowed (a free slot while somebody waits) is outside the
        // invariant.
        let free_while_waiting = State {
            in_flight: 0,
            ..waiting
        };
        assert!(!free_while_waiting.within_bounds(&limits));
    }
}
