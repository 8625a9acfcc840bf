//! The bulkhead as a pure state machine: how many bodies run, how many callers wait. No tokio,
//! no clock (`max_wait` expiring is the [`Event::Leave`] of a queued caller).
//!
//! The driver (`bulkhead.rs`) realises it with a FIFO semaphore (`slots.rs`) and an atomic
//! queue counter; `specs/Bulkhead.tla` describes the same machine.

/// Occupancy of a bulkhead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct State {
    /// Bodies running.
    pub in_flight: usize,
    /// Callers waiting for a slot.
    pub queued: usize,
}

/// An input to the bulkhead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// A caller arrives.
    Arrive,
    /// A slot is free and the head of the queue takes it.
    Admit,
    /// A running body finished or was dropped.
    Finish,
    /// A queued caller was dropped or waited `max_wait`.
    Leave,
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
    /// The event was taken into account.
    Done,
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

/// The bulkhead's transition function.
pub fn step(state: State, event: Event, limits: &Limits) -> (State, Decision) {
    let State { in_flight, queued } = state;
    match event {
        Event::Arrive if in_flight < limits.max_concurrent_calls && queued == 0 => (
            State {
                in_flight: in_flight + 1,
                queued,
            },
            Decision::Run,
        ),
        Event::Arrive if queued < limits.max_queue_size => (
            State {
                in_flight,
                queued: queued + 1,
            },
            Decision::Wait,
        ),
        Event::Arrive => (state, Decision::Reject),
        Event::Admit if queued > 0 && in_flight < limits.max_concurrent_calls => (
            State {
                in_flight: in_flight + 1,
                queued: queued - 1,
            },
            Decision::Run,
        ),
        Event::Finish if in_flight > 0 => (
            State {
                in_flight: in_flight - 1,
                queued,
            },
            Decision::Done,
        ),
        Event::Leave if queued > 0 => (
            State {
                in_flight,
                queued: queued - 1,
            },
            Decision::Done,
        ),
        Event::Admit | Event::Finish | Event::Leave => (state, Decision::Ignored),
    }
}

impl State {
    /// The safety invariant of `specs/Bulkhead.tla`: both bounds hold, and nobody waits while a
    /// slot is free (work conservation) — except in the instant between a `Finish` and the
    /// `Admit` it enables, which the spec allows.
    pub fn within_bounds(self, limits: &Limits) -> bool {
        self.in_flight <= limits.max_concurrent_calls && self.queued <= limits.max_queue_size
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
                queued: 1
            }
        );
    }

    #[test]
    fn a_newcomer_never_overtakes_the_queue() {
        let waiting = State {
            in_flight: 0,
            queued: 1,
        };
        let limits = Limits {
            max_concurrent_calls: 1,
            max_queue_size: 2,
        };
        assert_eq!(step(waiting, Event::Arrive, &limits).1, Decision::Wait);
        assert_eq!(step(waiting, Event::Admit, &limits).1, Decision::Run);
    }
}
