//! The bulkhead's slots: a FIFO semaphore whose uncontended paths are one compare-and-swap.
//!
//! tokio's `Semaphore` takes its waiters' mutex on every release, waiters or not. Here the
//! state is one word, the free slots and a "callers are waiting" bit, and the mutex guarding the
//! wait queue is taken only on the waiting path: to queue, to cancel, and to release a slot
//! while somebody waits (the slot then goes straight to the oldest waiter).
//!
//! The invariant that keeps it FIFO: **the waiting bit is set exactly when the queue is not
//! empty, and while it is set no slot is free.** A free slot is only ever added while the bit
//! is clear (a release's compare-and-swap checks it), and the bit is only ever set while no
//! slot is free (the queuing caller's compare-and-swap checks that), both on the same word; so
//! a newcomer finding a free slot never overtakes a waiter.
//!
//! In debug and loom builds every transition is checked against `specs/Bulkhead.tla`'s `step`,
//! and the invariant above asserted, by the monitor (`monitor.rs`); release builds have none of
//! it.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::PoisonError;
use std::task::{Context, Poll, Waker};

#[cfg(any(debug_assertions, loom))]
use super::monitor::Monitor;
#[cfg(any(debug_assertions, loom))]
use super::state::{Decision, Event};
use crate::sync::{AtomicU64, Mutex, MutexGuard, Ordering};

/// The word's "callers are waiting" bit; the other bits count the free slots.
pub(super) const WAITING: u64 = 1 << 63;
pub(super) const FREE: u64 = WAITING - 1;

/// Its body runs in debug and loom builds only: the monitor's checks.
macro_rules! monitor {
    ($($body:tt)*) => {
        #[cfg(any(debug_assertions, loom))]
        {
            $($body)*
        }
    };
}

/// The slots and their wait queue.
#[derive(Debug)]
pub(crate) struct Slots {
    word: AtomicU64,
    /// Slots to swallow as they are released, after the count was lowered below the slots
    /// handed out (an override, contract §7): nobody admitted is dropped.
    debt: AtomicU64,
    queue: Mutex<Queue>,
    /// The spec's view of the slots, checked at every transition.
    #[cfg(any(debug_assertions, loom))]
    monitor: Monitor,
}

/// Callers waiting, oldest first, and those handed a slot that have not taken it yet. Each is
/// known by a ticket.
#[derive(Debug, Default)]
struct Queue {
    next_ticket: u64,
    waiting: VecDeque<(u64, Option<Waker>)>,
    granted: Vec<u64>,
}

impl Slots {
    /// `slots` free slots (at most `usize::MAX >> 3`, as the configuration checks).
    pub(crate) fn new(slots: usize) -> Slots {
        Slots {
            word: AtomicU64::new(slots as u64 & FREE),
            debt: AtomicU64::new(0),
            queue: Mutex::new(Queue::default()),
            #[cfg(any(debug_assertions, loom))]
            monitor: Monitor::new(slots),
        }
    }

    /// Slots still to be swallowed as they are released.
    pub(crate) fn debt(&self) -> usize {
        self.debt.load(Ordering::Acquire) as usize
    }

    /// `more` slots: each goes to the oldest waiter, or cancels a slot still owed, or is free.
    pub(crate) fn add(&self, more: usize) {
        monitor! { self.monitor.reconfigured(); }
        for _ in 0..more {
            self.release();
        }
    }

    /// `fewer` slots: free ones go at once, the rest as they are released (callers admitted
    /// or queued stay so).
    pub(crate) fn remove(&self, fewer: usize) {
        monitor! { self.monitor.reconfigured(); }
        let mut owed = fewer as u64;
        let mut word = self.word.load(Ordering::Relaxed);
        loop {
            let take = (word & FREE).min(owed);
            if take == 0 {
                break;
            }
            match self.word.compare_exchange_weak(
                word,
                word - take,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    owed -= take;
                    break;
                }
                Err(actual) => word = actual,
            }
        }
        if owed > 0 {
            self.debt.fetch_add(owed, Ordering::AcqRel);
        }
    }

    /// Swallows a released slot if one is owed.
    fn pay_debt(&self) -> bool {
        let mut debt = self.debt.load(Ordering::Relaxed);
        while debt != 0 {
            match self.debt.compare_exchange_weak(
                debt,
                debt - 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => debt = actual,
            }
        }
        false
    }

    /// Free slots now.
    pub(crate) fn free(&self) -> usize {
        (self.word.load(Ordering::Acquire) & FREE) as usize
    }

    /// Takes a free slot, if there is one (then nobody waits).
    #[inline]
    pub(crate) fn try_acquire(&self) -> bool {
        let mut word = self.word.load(Ordering::Relaxed);
        while word & FREE != 0 {
            match self.word.compare_exchange_weak(
                word,
                word - 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    monitor! { self.monitor.lock_free(Event::Arrive, word, word - 1, Decision::Run); }
                    return true;
                }
                Err(actual) => word = actual,
            }
        }
        false
    }

    /// Gives a slot back: to the free count if nobody waits, else to the oldest waiter.
    #[inline]
    pub(crate) fn release(&self) {
        if self.debt.load(Ordering::Relaxed) != 0 && self.pay_debt() {
            return;
        }
        let mut word = self.word.load(Ordering::Relaxed);
        while word & WAITING == 0 {
            match self.word.compare_exchange_weak(
                word,
                word + 1,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    monitor! { self.monitor.lock_free(Event::Finish, word, word + 1, Decision::Done); }
                    return;
                }
                Err(actual) => word = actual,
            }
        }
        self.release_to_waiter();
    }

    #[cold]
    fn release_to_waiter(&self) {
        let waker = self.hand_over(&mut self.lock(), false);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Under the queue's lock: one released slot to the oldest waiter (its waker is returned,
    /// to wake once the lock is dropped), or to the free count if nobody waits any more.
    /// `leaver`: the slot is a granted waiter's that gave up (it has just left `granted`).
    fn hand_over(&self, queue: &mut Queue, leaver: bool) -> Option<Waker> {
        if self.pay_debt() {
            return None;
        }
        #[cfg(any(debug_assertions, loom))]
        let (event, waiting, granted) = (
            if leaver {
                Event::Leave { granted: true }
            } else {
                Event::Finish
            },
            queue.waiting.len(),
            queue.granted.len() + usize::from(leaver),
        );
        #[cfg(not(any(debug_assertions, loom)))]
        let _ = leaver;
        match queue.waiting.pop_front() {
            Some((ticket, waker)) => {
                // Somebody waited, so the bit is set and no slot is free: nobody else changes the
                // word while the lock is held.
                let _word = if queue.waiting.is_empty() {
                    self.word.fetch_and(!WAITING, Ordering::AcqRel)
                } else {
                    self.word.load(Ordering::Acquire)
                };
                queue.granted.push(ticket);
                monitor! {
                    let before = self.monitor.abstraction(_word & FREE, waiting, granted);
                    let after = self.monitor.abstraction(_word & FREE, waiting - 1, granted - usize::from(leaver) + 1);
                    self.monitor.transition(before, event, after, Decision::HandOver);
                    self.check_fifo(queue, if queue.waiting.is_empty() { _word & !WAITING } else { _word });
                }
                waker
            }
            None => {
                // The bit is clear with the queue empty, so this cannot overtake anybody.
                let _word = self.word.fetch_add(1, Ordering::Release);
                monitor! {
                    let before = self.monitor.abstraction(_word & FREE, 0, granted);
                    let after = self.monitor.abstraction((_word & FREE) + 1, 0, granted - usize::from(leaver));
                    self.monitor.transition(before, event, after, Decision::Done);
                    self.check_fifo(queue, _word + 1);
                }
                None
            }
        }
    }

    /// The monitor's FIFO invariant on the queue and a word read while its lock is held.
    #[cfg(any(debug_assertions, loom))]
    fn check_fifo(&self, queue: &Queue, word: u64) {
        self.monitor
            .fifo(word, queue.waiting.iter().map(|&(t, _)| t), &queue.granted);
    }

    /// A slot, after the callers already waiting. Dropping the future leaves the queue (and
    /// passes on a slot it was handed but had not taken).
    pub(crate) fn acquire(&self) -> Acquire<'_> {
        Acquire {
            slots: self,
            ticket: None,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The future of [`Slots::acquire`]; resolves once the caller holds a slot.
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub(crate) struct Acquire<'a> {
    slots: &'a Slots,
    /// The caller's ticket once queued; `None` before, and after it took its slot.
    ticket: Option<u64>,
}

impl Future for Acquire<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let slots = self.slots;
        let mut queue = slots.lock();
        if let Some(ticket) = self.ticket {
            if let Some(index) = queue.granted.iter().position(|&t| t == ticket) {
                queue.granted.swap_remove(index);
                monitor! {
                    // One read of the word while the queue is locked: with the queue, one real
                    // state (the word may move on, but only by lock-free steps, which `Start`
                    // does not depend on).
                    let word = slots.word.load(Ordering::Acquire);
                    let waiting = queue.waiting.len();
                    let granted = queue.granted.len();
                    let before = slots.monitor.abstraction(word & FREE, waiting, granted + 1);
                    let after = slots.monitor.abstraction(word & FREE, waiting, granted);
                    slots.monitor.transition(before, Event::Start, after, Decision::Done);
                    slots.check_fifo(&queue, word);
                }
                self.ticket = None;
                return Poll::Ready(());
            }
            if let Some(entry) = queue.waiting.iter_mut().find(|(t, _)| *t == ticket) {
                match &mut entry.1 {
                    Some(waker) => waker.clone_from(cx.waker()),
                    None => entry.1 = Some(cx.waker().clone()),
                }
            }
            return Poll::Pending;
        }
        // First poll: take a free slot (nobody waits then), or set the waiting bit (no slot is
        // free then) and queue, both decided on the word while holding the queue's lock.
        let mut word = slots.word.load(Ordering::Acquire);
        loop {
            let next = if word & FREE != 0 {
                word - 1
            } else {
                word | WAITING
            };
            if next == word {
                break; // Already waiting: the bit is set.
            }
            match slots
                .word
                .compare_exchange_weak(word, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) if word & FREE != 0 => {
                    monitor! {
                        let (waiting, granted) = (queue.waiting.len(), queue.granted.len());
                        let before = slots.monitor.abstraction(word & FREE, waiting, granted);
                        let after = slots.monitor.abstraction(next & FREE, waiting, granted);
                        slots.monitor.transition(before, Event::Arrive, after, Decision::Run);
                    }
                    return Poll::Ready(());
                }
                Ok(_) => break,
                Err(actual) => word = actual,
            }
        }
        let ticket = queue.next_ticket;
        queue.next_ticket += 1;
        queue.waiting.push_back((ticket, Some(cx.waker().clone())));
        monitor! {
            // The word has no free slot and the bit set (`next`, or `word` when already set).
            let word = word | WAITING;
            let (waiting, granted) = (queue.waiting.len(), queue.granted.len());
            let before = slots.monitor.abstraction(word & FREE, waiting - 1, granted);
            let after = slots.monitor.abstraction(word & FREE, waiting, granted);
            slots.monitor.transition(before, Event::Arrive, after, Decision::Wait);
            slots.check_fifo(&queue, word);
        }
        drop(queue);
        self.ticket = Some(ticket);
        Poll::Pending
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        let Some(ticket) = self.ticket else { return };
        let slots = self.slots;
        let mut queue = slots.lock();
        if let Some(index) = queue.granted.iter().position(|&t| t == ticket) {
            // Handed a slot it will never take: pass it on.
            queue.granted.swap_remove(index);
            let waker = slots.hand_over(&mut queue, true);
            drop(queue);
            if let Some(waker) = waker {
                waker.wake();
            }
        } else if let Some(index) = queue.waiting.iter().position(|(t, _)| *t == ticket) {
            queue.waiting.remove(index);
            // Somebody waited: the bit is set, no slot is free, the word is ours to read.
            let _word = if queue.waiting.is_empty() {
                slots.word.fetch_and(!WAITING, Ordering::AcqRel) & !WAITING
            } else {
                slots.word.load(Ordering::Acquire)
            };
            monitor! {
                let (waiting, granted) = (queue.waiting.len(), queue.granted.len());
                let before = slots.monitor.abstraction(_word & FREE, waiting + 1, granted);
                let after = slots.monitor.abstraction(_word & FREE, waiting, granted);
                slots.monitor.transition(before, Event::Leave { granted: false }, after, Decision::Done);
                slots.check_fifo(&queue, _word);
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::Slots;

    fn poll(future: std::pin::Pin<&mut impl Future<Output = ()>>) -> Poll<()> {
        future.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn released_slots_go_to_waiters_in_order_and_never_to_newcomers() {
        let slots = Slots::new(1);
        assert!(slots.try_acquire());
        let mut first = pin!(slots.acquire());
        let mut second = pin!(slots.acquire());
        assert!(poll(first.as_mut()).is_pending());
        assert!(poll(second.as_mut()).is_pending());
        assert!(
            !slots.try_acquire(),
            "a newcomer does not overtake the queue"
        );

        slots.release();
        assert_eq!(slots.free(), 0, "the slot went to the oldest waiter");
        assert!(!slots.try_acquire());
        assert!(poll(second.as_mut()).is_pending());
        assert!(poll(first.as_mut()).is_ready());

        slots.release();
        assert!(poll(second.as_mut()).is_ready());
        slots.release();
        assert_eq!(slots.free(), 1);
        assert!(
            slots.try_acquire(),
            "with nobody waiting, a free slot is taken at once"
        );
    }

    #[test]
    fn added_slots_go_to_waiters_first_and_removed_ones_are_owed_until_released() {
        let slots = Slots::new(1);
        assert!(slots.try_acquire());
        let mut waiter = pin!(slots.acquire());
        assert!(poll(waiter.as_mut()).is_pending());
        slots.add(2);
        assert_eq!(slots.free(), 1, "one added slot went to the waiter");
        assert!(poll(waiter.as_mut()).is_ready());
        slots.remove(2);
        assert_eq!(
            (slots.free(), slots.debt()),
            (0, 1),
            "the free slot goes at once, the other is owed"
        );
        slots.release();
        assert_eq!(
            (slots.free(), slots.debt()),
            (0, 0),
            "the debt swallowed it"
        );
        slots.release();
        assert_eq!(slots.free(), 1, "one slot, as configured");
        assert!(slots.try_acquire());
        assert!(!slots.try_acquire());
    }

    #[test]
    fn a_cancelled_waiter_leaves_the_queue_and_a_granted_one_passes_its_slot_on() {
        let slots = Slots::new(1);
        assert!(slots.try_acquire());
        {
            let mut gone = pin!(slots.acquire());
            assert!(poll(gone.as_mut()).is_pending());
        }
        slots.release();
        assert_eq!(slots.free(), 1, "nobody waits: the slot is free");

        assert!(slots.try_acquire());
        let mut next = pin!(slots.acquire());
        {
            let mut granted = pin!(slots.acquire());
            assert!(poll(granted.as_mut()).is_pending());
            assert!(poll(next.as_mut()).is_pending());
            slots.release(); // To `granted`, the oldest waiter, which never takes it.
            assert!(poll(next.as_mut()).is_pending());
        }
        assert!(poll(next.as_mut()).is_ready());
        slots.release();
        assert_eq!(slots.free(), 1);
    }
}

/// loom (`cargo test --lib loom` under `--cfg loom`, see `specs/README.md`): a release racing
/// a caller that queues, a waiter cancelled while handed a slot, newcomers racing waiters.
#[cfg(all(test, loom))]
mod loom {
    use ::loom::future::block_on;
    use ::loom::sync::Arc;
    use ::loom::thread;

    use std::future::Future;
    use std::task::{Context, Waker};

    use super::Slots;
    use crate::sync::{AtomicUsize, Ordering};

    /// Holds a slot while checking that no more than `max` are held.
    fn hold(slots: &Slots, held: &AtomicUsize, max: usize) {
        let now = held.fetch_add(1, Ordering::AcqRel) + 1;
        assert!(now <= max, "{now} slots held, {max} exist");
        held.fetch_sub(1, Ordering::AcqRel);
        slots.release();
    }

    #[test]
    fn a_release_racing_a_caller_that_queues_is_never_lost() {
        ::loom::model(|| {
            let slots = Arc::new(Slots::new(1));
            assert!(slots.try_acquire());
            let waiter = {
                let slots = slots.clone();
                thread::spawn(move || {
                    block_on(slots.acquire());
                    slots.release();
                })
            };
            slots.release();
            waiter.join().unwrap();
            assert_eq!(slots.free(), 1, "the slot is free again, and nobody waits");
            assert!(slots.queue.lock().unwrap().waiting.is_empty());
        });
    }

    #[test]
    fn callers_racing_for_one_slot_never_hold_more_than_it() {
        ::loom::model(|| {
            let slots = Arc::new(Slots::new(1));
            let held = Arc::new(AtomicUsize::new(0));
            let threads: Vec<_> = [true, false]
                .into_iter()
                .map(|queues| {
                    let (slots, held) = (slots.clone(), held.clone());
                    thread::spawn(move || {
                        if queues {
                            block_on(slots.acquire());
                            hold(&slots, &held, 1);
                        } else if slots.try_acquire() {
                            hold(&slots, &held, 1);
                        }
                    })
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
            assert_eq!(slots.free(), 1);
        });
    }

    /// Three threads: the holder releases the only slot while one waiter waits for it and
    /// another queues, then gives up after one poll (waiting, or already handed the slot).
    /// Every transition of every interleaving goes through the monitor (`monitor.rs`).
    #[test]
    fn two_waiters_a_cancellation_and_a_release_leave_the_slot_free() {
        ::loom::model(|| {
            let slots = Arc::new(Slots::new(1));
            assert!(slots.try_acquire());
            let stays = {
                let slots = slots.clone();
                thread::spawn(move || {
                    block_on(slots.acquire());
                    slots.release();
                })
            };
            let gives_up = {
                let slots = slots.clone();
                thread::spawn(move || {
                    let mut acquire = Box::pin(slots.acquire());
                    let mut cx = Context::from_waker(Waker::noop());
                    if acquire.as_mut().poll(&mut cx).is_ready() {
                        // Took the slot the holder released: give it back.
                        drop(acquire);
                        slots.release();
                    }
                    // Otherwise dropped while waiting or granted: it leaves.
                })
            };
            slots.release();
            stays.join().unwrap();
            gives_up.join().unwrap();
            assert_eq!(slots.free(), 1, "the slot is free again");
            let queue = slots.queue.lock().unwrap();
            assert!(queue.waiting.is_empty() && queue.granted.is_empty());
        });
    }

    #[test]
    fn a_waiter_cancelled_as_it_is_handed_a_slot_passes_it_on() {
        ::loom::model(|| {
            let slots = Arc::new(Slots::new(1));
            assert!(slots.try_acquire());
            // Queue, then give up, while the holder releases.
            let mut acquire = Box::pin(slots.acquire());
            let mut cx = Context::from_waker(Waker::noop());
            assert!(
                acquire.as_mut().poll(&mut cx).is_pending(),
                "the only slot is held: it queues"
            );
            let holder = {
                let slots = slots.clone();
                thread::spawn(move || slots.release())
            };
            drop(acquire);
            holder.join().unwrap();
            assert_eq!(slots.free(), 1, "the slot is not lost");
            let queue = slots.queue.lock().unwrap();
            assert!(queue.waiting.is_empty() && queue.granted.is_empty());
        });
    }
}
