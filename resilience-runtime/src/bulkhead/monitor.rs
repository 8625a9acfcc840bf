//! The runtime monitor of [`Slots`](super::slots::Slots) (debug and loom builds only): every
//! transition of the real semaphore is mapped to the abstract [`State`] of `specs/Bulkhead.tla`
//! and checked to be the transition [`step`] makes, and the FIFO invariant is asserted on the
//! real word and queue. Release builds compile none of it.
//!
//! The abstraction, at an instant the queue's lock is held (the queue cannot change then, and
//! the word is read once, so the pair is one real state):
//!
//! - `in_flight` = the slots that exist − the free count of the word;
//! - `waiting` = the length of the wait queue; `queued` = `waiting` + the granted tickets.
//!
//! `Slots` does not bound its queue (the driver's `QueuePlace` does), so the monitor's limits have
//! an unbounded queue; the queue bound is checked by the loom tests of `QueuePlace` and the spec.
//!
//! The lock-free transitions (a `try_acquire`, a release while nobody waits) are checked on the
//! word their compare-and-swap replaced, which is exact: the slot counts of the step, and that
//! the waiting bit was clear (with it set, no slot is free). They do not see the queue, so they
//! take it as empty, which the bit being clear means.
//!
//! After a reconfiguration (`Slots::add`/`remove`, contract §7) the number of slots is no
//! longer one constant of the spec: the monitor then checks the FIFO invariant and the queue's
//! shape only, not the counts.

use std::sync::atomic::{AtomicBool, Ordering};

use super::state::{Decision, Event, Limits, State, step};

/// What the monitor keeps beside the real state: the spec's constants. Plain `std` atomics,
/// also under loom, so that the monitor adds no interleaving for loom to explore.
#[derive(Debug)]
pub(super) struct Monitor {
    slots: usize,
    reconfigured: AtomicBool,
}

impl Monitor {
    pub(super) fn new(slots: usize) -> Monitor {
        Monitor {
            slots,
            reconfigured: AtomicBool::new(false),
        }
    }

    /// The number of slots changed: from now on the counts are not checked.
    pub(super) fn reconfigured(&self) {
        self.reconfigured.store(true, Ordering::Relaxed);
    }

    fn limits(&self) -> Option<Limits> {
        (!self.reconfigured.load(Ordering::Relaxed)).then_some(Limits {
            max_concurrent_calls: self.slots,
            max_queue_size: usize::MAX,
        })
    }

    /// The abstract state of `free` free slots and the queue's `waiting` and `granted` counts.
    pub(super) fn abstraction(&self, free: u64, waiting: usize, granted: usize) -> State {
        let free = usize::try_from(free).unwrap_or(usize::MAX);
        assert!(
            self.reconfigured.load(Ordering::Relaxed) || free <= self.slots,
            "bulkhead slots: {free} free of {} (a slot was released twice)",
            self.slots
        );
        State {
            in_flight: self.slots.saturating_sub(free),
            queued: waiting + granted,
            waiting,
        }
    }

    /// `before --event--> after` with `decision` must be the spec's step, from and to states
    /// within its invariant.
    #[track_caller]
    pub(super) fn transition(&self, before: State, event: Event, after: State, decision: Decision) {
        let Some(limits) = self.limits() else { return };
        assert!(
            before.within_bounds(&limits),
            "bulkhead slots: {before:?} breaks the spec's invariant (before {event:?})"
        );
        let expected = step(before, event, &limits);
        assert_eq!(
            (after, decision),
            expected,
            "bulkhead slots: {before:?} --{event:?}--> {after:?} ({decision:?}) is not a step of \
             specs/Bulkhead.tla"
        );
    }

    /// A lock-free step on the word: `old` replaced by `new`, the queue empty (the waiting bit
    /// of `old` must be clear).
    #[track_caller]
    pub(super) fn lock_free(&self, event: Event, old: u64, new: u64, decision: Decision) {
        assert_eq!(
            old & super::slots::WAITING,
            0,
            "bulkhead slots: a lock-free {event:?} while callers wait"
        );
        let before = self.abstraction(old & super::slots::FREE, 0, 0);
        let after = self.abstraction(new & super::slots::FREE, 0, 0);
        self.transition(before, event, after, decision);
    }

    /// The FIFO invariant of `slots.rs` on a real state: the waiting bit is set exactly when the
    /// queue is not empty, and then no slot is free; waiters are in ticket order (oldest
    /// first); a ticket is in one place only.
    #[track_caller]
    pub(super) fn fifo(&self, word: u64, waiting: impl Iterator<Item = u64>, granted: &[u64]) {
        let bit = word & super::slots::WAITING != 0;
        let free = word & super::slots::FREE;
        let mut count = 0;
        let mut last = None;
        for ticket in waiting {
            assert!(
                last.is_none_or(|last| last < ticket),
                "bulkhead slots: waiters out of order ({last:?} before {ticket})"
            );
            assert!(
                !granted.contains(&ticket),
                "bulkhead slots: ticket {ticket} both waiting and granted"
            );
            last = Some(ticket);
            count += 1;
        }
        assert_eq!(
            bit,
            count > 0,
            "bulkhead slots: waiting bit {bit} with {count} waiters"
        );
        assert!(
            !bit || free == 0,
            "bulkhead slots: {free} slots free while {count} callers wait"
        );
    }
}
