//! Bulkhead (docs/CONTRACT.md §2.4) driven through the pipeline: bounds, FIFO queue, `max_wait`, permits
//! released on completion and on cancellation, and a stress run on a multi-thread runtime.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use resilience::ResilienceError;
use resilience::{Bulkhead, BulkheadConfig, Failure, Pipeline};
use tokio::task::yield_now;
use tokio::time::{Instant, sleep};

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

fn yes<E>(_: &E) -> bool {
    true
}

fn bulkhead(
    name: &str,
    max_concurrent_calls: usize,
    max_queue_size: usize,
    max_wait: Option<Duration>,
) -> Arc<Bulkhead> {
    Arc::new(
        Bulkhead::new(
            name,
            BulkheadConfig {
                max_concurrent_calls,
                max_queue_size,
                max_wait,
            },
        )
        .unwrap(),
    )
}

fn only(bulkhead: &Bulkhead) -> Pipeline<'_> {
    Pipeline {
        bulkhead: Some(bulkhead),
        ..Pipeline::default()
    }
}

fn assert_full<T: std::fmt::Debug, E: std::fmt::Debug>(result: Result<T, Failure<E>>, name: &str) {
    match result {
        Err(Failure::Rejected(ResilienceError::BulkheadFull { name: full })) => {
            assert_eq!(full, name);
        }
        other => panic!("expected BulkheadFull from `{name}`, got {other:?}"),
    }
}

/// Polls `future` once, whatever its waker says.
async fn poll_once<F: Future + ?Sized>(future: Pin<&mut F>) -> Poll<F::Output> {
    let mut future = future;
    poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await
}

/// Yields until `condition` holds (other tasks of this runtime make progress meanwhile).
async fn until(mut condition: impl FnMut() -> bool) {
    for _ in 0..10_000 {
        if condition() {
            return;
        }
        yield_now().await;
    }
    panic!("condition never held");
}

/// Spawns a caller running a body that records `id` in `order` and holds its slot for `hold`.
fn spawn_caller(
    bulkhead: &Arc<Bulkhead>,
    id: usize,
    hold: Duration,
    order: &Arc<Mutex<Vec<usize>>>,
) -> tokio::task::JoinHandle<Result<usize, Failure<u32>>> {
    let (bulkhead, order) = (bulkhead.clone(), order.clone());
    tokio::spawn(async move {
        only(&bulkhead)
            .run(yes, yes, || async {
                order.lock().unwrap().push(id);
                sleep(hold).await;
                Ok(id)
            })
            .await
    })
}

#[tokio::test(start_paused = true)]
async fn runs_at_most_max_concurrent_calls_bodies_at_once() {
    let name = "bulkhead::runs_at_most_max_concurrent_calls_bodies_at_once";
    let bulkhead = bulkhead(name, 2, 10, None);
    let running = Arc::new(AtomicUsize::new(0));
    let max_running = Arc::new(AtomicUsize::new(0));
    let origin = Instant::now();
    let callers: Vec<_> = (0..5)
        .map(|_| {
            let (bulkhead, running, max_running) =
                (bulkhead.clone(), running.clone(), max_running.clone());
            tokio::spawn(async move {
                only(&bulkhead)
                    .run(yes, yes, || async {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        max_running.fetch_max(now, Ordering::SeqCst);
                        sleep(ms(100)).await;
                        running.fetch_sub(1, Ordering::SeqCst);
                        Ok::<_, u32>(origin.elapsed())
                    })
                    .await
            })
        })
        .collect();

    // Quiescent points: every caller has arrived and waits for the clock.
    sleep(ms(50)).await;
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (2, 3));
    assert_eq!(running.load(Ordering::SeqCst), 2);
    sleep(ms(100)).await;
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (2, 1));
    sleep(ms(100)).await;
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (1, 0));

    let mut finished = Vec::new();
    for caller in callers {
        finished.push(caller.await.unwrap().unwrap());
    }
    finished.sort();
    assert_eq!(finished, [ms(100), ms(100), ms(200), ms(200), ms(300)]);
    assert_eq!(max_running.load(Ordering::SeqCst), 2);
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn admits_queued_callers_in_fifo_order() {
    let name = "bulkhead::admits_queued_callers_in_fifo_order";
    let bulkhead = bulkhead(name, 1, 10, None);
    let order = Arc::new(Mutex::new(Vec::new()));
    let occupant = bulkhead.try_acquire().unwrap();
    let mut callers = Vec::new();
    for id in 0..6 {
        callers.push(spawn_caller(&bulkhead, id, ms(10), &order));
        until(|| bulkhead.queued() == id + 1).await;
    }
    assert!(order.lock().unwrap().is_empty());
    drop(occupant);
    for caller in callers {
        caller.await.unwrap().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3, 4, 5]);
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_newcomer_does_not_overtake_the_queue_when_a_slot_frees() {
    let name = "bulkhead::a_newcomer_does_not_overtake_the_queue_when_a_slot_frees";
    let bulkhead = bulkhead(name, 1, 10, None);
    let pipeline = only(&bulkhead);
    let order = Arc::new(Mutex::new(Vec::new()));
    let occupant = bulkhead.try_acquire().unwrap();
    let queued = spawn_caller(&bulkhead, 0, ms(10), &order);
    until(|| bulkhead.queued() == 1).await;
    // The slot frees and a newcomer arrives before the queued caller is polled again: the
    // newcomer waits its turn.
    drop(occupant);
    let newcomer_order = order.clone();
    let mut newcomer = Box::pin(pipeline.run(yes, yes, || async {
        newcomer_order.lock().unwrap().push(1);
        Ok::<_, u32>(1)
    }));
    assert!(
        poll_once(newcomer.as_mut()).await.is_pending(),
        "the newcomer took the slot freed for the queued caller"
    );
    assert!(matches!(newcomer.await, Ok(1)));
    queued.await.unwrap().unwrap();
    assert_eq!(*order.lock().unwrap(), [0, 1]);
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn beyond_max_queue_size_a_caller_gets_bulkhead_full_at_once_without_running_the_body() {
    let name = "bulkhead::beyond_max_queue_size_a_caller_gets_bulkhead_full_at_once";
    let bulkhead = bulkhead(name, 1, 2, None);
    let order = Arc::new(Mutex::new(Vec::new()));
    let occupant = bulkhead.try_acquire().unwrap();
    let queued: Vec<_> = (0..2)
        .map(|id| spawn_caller(&bulkhead, id, ms(10), &order))
        .collect();
    until(|| bulkhead.queued() == 2).await;

    let ran = AtomicBool::new(false);
    let origin = Instant::now();
    let result = only(&bulkhead)
        .run(yes, yes, || async {
            ran.store(true, Ordering::SeqCst);
            Ok::<_, u32>(())
        })
        .await;
    assert_full(result, name);
    assert_eq!(origin.elapsed(), Duration::ZERO);
    assert!(!ran.load(Ordering::SeqCst));
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (1, 2));

    drop(occupant);
    for caller in queued {
        caller.await.unwrap().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), [0, 1]);
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn with_max_queue_size_zero_a_busy_bulkhead_rejects_at_once() {
    let name = "bulkhead::with_max_queue_size_zero_a_busy_bulkhead_rejects_at_once";
    let bulkhead = bulkhead(name, 2, 0, None);
    let _first = bulkhead.try_acquire().unwrap();
    let _second = bulkhead.try_acquire().unwrap();
    let origin = Instant::now();
    let result = only(&bulkhead)
        .run(yes, yes, || async { Ok::<_, u32>(()) })
        .await;
    assert_full(result, name);
    assert_eq!(origin.elapsed(), Duration::ZERO);
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (2, 0));
}

#[tokio::test(start_paused = true)]
async fn a_queued_caller_gives_up_with_bulkhead_full_after_max_wait() {
    let name = "bulkhead::a_queued_caller_gives_up_with_bulkhead_full_after_max_wait";
    let bulkhead = bulkhead(name, 1, 5, Some(ms(100)));
    let occupant = bulkhead.try_acquire().unwrap();
    let ran = AtomicBool::new(false);
    let origin = Instant::now();
    let result = only(&bulkhead)
        .run(yes, yes, || async {
            ran.store(true, Ordering::SeqCst);
            Ok::<_, u32>(())
        })
        .await;
    assert_full(result, name);
    assert_eq!(origin.elapsed(), ms(100));
    assert!(!ran.load(Ordering::SeqCst));
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (1, 0));

    // Admitted before max_wait: runs as soon as the slot frees.
    let origin = Instant::now();
    let pipeline = only(&bulkhead);
    let (result, ()) = tokio::join!(
        pipeline.run(yes, yes, || async { Ok::<_, u32>(origin.elapsed()) }),
        async {
            sleep(ms(60)).await;
            drop(occupant);
        }
    );
    assert!(
        matches!(result, Ok(started) if started == ms(60)),
        "{result:?}"
    );
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn max_wait_does_not_limit_a_caller_admitted_at_once() {
    let name = "bulkhead::max_wait_does_not_limit_a_caller_admitted_at_once";
    let bulkhead = bulkhead(name, 1, 5, Some(ms(100)));
    let result = only(&bulkhead)
        .run(yes, yes, || async {
            sleep(ms(500)).await;
            Ok::<_, u32>(1)
        })
        .await;
    assert!(matches!(result, Ok(1)), "{result:?}");
}

#[tokio::test(start_paused = true)]
async fn the_permit_is_released_when_the_body_finishes() {
    let name = "bulkhead::the_permit_is_released_when_the_body_finishes";
    let bulkhead = bulkhead(name, 1, 0, None);
    for outcome in [Ok(()), Err(3)] {
        let result = only(&bulkhead)
            .run(yes, yes, || async {
                assert_eq!(bulkhead.in_flight(), 1);
                sleep(ms(10)).await;
                outcome
            })
            .await;
        assert_eq!(result.is_ok(), outcome.is_ok());
        assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (0, 0));
    }
}

#[tokio::test(start_paused = true)]
async fn the_permit_is_released_when_the_running_callers_future_is_dropped() {
    let name = "bulkhead::the_permit_is_released_when_the_running_callers_future_is_dropped";
    let bulkhead = bulkhead(name, 1, 1, None);
    let pipeline = only(&bulkhead);
    let started = AtomicBool::new(false);
    let mut running = Box::pin(pipeline.run(yes, yes, || async {
        started.store(true, Ordering::SeqCst);
        std::future::pending::<Result<(), u32>>().await
    }));
    assert!(poll_once(running.as_mut()).await.is_pending());
    assert!(started.load(Ordering::SeqCst));
    assert_eq!(bulkhead.in_flight(), 1);

    // A caller queued behind it gets the slot as soon as the running one is dropped.
    let mut waiting = Box::pin(pipeline.run(yes, yes, || async { Ok::<_, u32>("admitted") }));
    assert!(poll_once(waiting.as_mut()).await.is_pending());
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (1, 1));
    drop(running);
    assert!(matches!(waiting.await, Ok("admitted")));
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_dropped_queued_caller_leaves_the_queue() {
    let name = "bulkhead::a_dropped_queued_caller_leaves_the_queue";
    let bulkhead = bulkhead(name, 1, 1, None);
    let pipeline = only(&bulkhead);
    let occupant = bulkhead.try_acquire().unwrap();
    let ran = AtomicBool::new(false);
    let mut queued = Box::pin(pipeline.run(yes, yes, || async {
        ran.store(true, Ordering::SeqCst);
        Ok::<_, u32>(())
    }));
    assert!(poll_once(queued.as_mut()).await.is_pending());
    assert_eq!(bulkhead.queued(), 1);
    drop(queued);
    assert_eq!(bulkhead.queued(), 0);

    // Its place is free again (queue size 1), and the slot goes to the next caller, not to it.
    let mut next = Box::pin(pipeline.run(yes, yes, || async { Ok::<_, u32>("next") }));
    assert!(poll_once(next.as_mut()).await.is_pending());
    assert_eq!(bulkhead.queued(), 1);
    drop(occupant);
    assert!(matches!(next.await, Ok("next")));
    assert!(!ran.load(Ordering::SeqCst));
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_caller_dropped_from_the_middle_of_the_queue_keeps_the_others_in_order() {
    let name = "bulkhead::a_caller_dropped_from_the_middle_of_the_queue";
    let bulkhead = bulkhead(name, 1, 10, None);
    let order = Arc::new(Mutex::new(Vec::new()));
    let occupant = bulkhead.try_acquire().unwrap();
    let mut callers = Vec::new();
    for id in 0..4 {
        callers.push(spawn_caller(&bulkhead, id, ms(10), &order));
        until(|| bulkhead.queued() == id + 1).await;
    }
    let dropped = callers.remove(1);
    dropped.abort();
    assert!(dropped.await.unwrap_err().is_cancelled());
    assert_eq!(bulkhead.queued(), 3);
    drop(occupant);
    for caller in callers {
        caller.await.unwrap().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), [0, 2, 3]);
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_caller_dropped_after_being_handed_the_slot_gives_it_to_the_next() {
    let name = "bulkhead::a_caller_dropped_after_being_handed_the_slot";
    let bulkhead = bulkhead(name, 1, 10, None);
    let pipeline = only(&bulkhead);
    let occupant = bulkhead.try_acquire().unwrap();
    let mut first = Box::pin(pipeline.run(yes, yes, || async { Ok::<_, u32>(1) }));
    let mut second = Box::pin(pipeline.run(yes, yes, || async { Ok::<_, u32>(2) }));
    assert!(poll_once(first.as_mut()).await.is_pending());
    assert!(poll_once(second.as_mut()).await.is_pending());
    // The slot is handed to `first`, which is dropped before it runs.
    drop(occupant);
    drop(first);
    assert!(matches!(second.await, Ok(2)));
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (0, 0));
}

/// Counts a running body; the count goes down however the body ends (aborted included).
struct Running<'a>(&'a AtomicUsize);

impl<'a> Running<'a> {
    fn enter(counter: &'a AtomicUsize) -> (Self, usize) {
        (Running(counter), counter.fetch_add(1, Ordering::SeqCst) + 1)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Stats {
    running: AtomicUsize,
    max_running: AtomicUsize,
    max_in_flight: AtomicUsize,
    max_queued: AtomicUsize,
}

impl Stats {
    fn observe(&self, bulkhead: &Bulkhead) {
        self.max_in_flight
            .fetch_max(bulkhead.in_flight(), Ordering::SeqCst);
        self.max_queued
            .fetch_max(bulkhead.queued(), Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_thousand_concurrent_tasks_the_bounds_hold_and_nothing_leaks() {
    const MAX_CONCURRENT: usize = 8;
    const MAX_QUEUE: usize = 50;
    const TASKS: usize = 1000;
    let name = "bulkhead::under_a_thousand_concurrent_tasks_the_bounds_hold";
    let bulkhead = bulkhead(name, MAX_CONCURRENT, MAX_QUEUE, None);
    let stats = Arc::new(Stats {
        running: AtomicUsize::new(0),
        max_running: AtomicUsize::new(0),
        max_in_flight: AtomicUsize::new(0),
        max_queued: AtomicUsize::new(0),
    });
    let done = Arc::new(AtomicBool::new(false));
    let monitor = {
        let (bulkhead, stats, done) = (bulkhead.clone(), stats.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                stats.observe(&bulkhead);
                yield_now().await;
            }
        })
    };
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let (bulkhead, stats) = (bulkhead.clone(), stats.clone());
            tokio::spawn(async move {
                only(&bulkhead)
                    .run(yes, yes, || async {
                        let (_running, now) = Running::enter(&stats.running);
                        stats.max_running.fetch_max(now, Ordering::SeqCst);
                        stats.observe(&bulkhead);
                        for _ in 0..(1 + i % 4) {
                            yield_now().await;
                        }
                        Ok::<_, u32>(())
                    })
                    .await
            })
        })
        .collect();

    let (mut ok, mut full) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => ok += 1,
            Err(Failure::Rejected(ResilienceError::BulkheadFull { .. })) => full += 1,
            other => panic!("a task ended with {other:?}"),
        }
    }
    done.store(true, Ordering::SeqCst);
    monitor.await.unwrap();

    assert_eq!(ok + full, TASKS);
    assert!(ok >= MAX_CONCURRENT, "only {ok} tasks ran");
    let max_running = stats.max_running.load(Ordering::SeqCst);
    assert!(
        (2..=MAX_CONCURRENT).contains(&max_running),
        "{max_running} bodies ran at once"
    );
    assert!(stats.max_in_flight.load(Ordering::SeqCst) <= MAX_CONCURRENT);
    assert!(stats.max_queued.load(Ordering::SeqCst) <= MAX_QUEUE);
    assert_eq!(stats.running.load(Ordering::SeqCst), 0);
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (0, 0));
}

type Caller<'a> = Pin<Box<dyn Future<Output = Result<(), Failure<u32>>> + 'a>>;

/// One caller of the cancellation run: its future, and how many more polls it gets before it is
/// dropped (`None`: never dropped).
struct Live<'a> {
    id: usize,
    future: Caller<'a>,
    polls: u32,
    drop_after: Option<u32>,
}

#[tokio::test]
async fn callers_dropped_at_random_points_leave_no_slot_and_no_queue_place_behind() {
    const MAX_CONCURRENT: usize = 3;
    const MAX_QUEUE: usize = 10;
    const CALLERS: usize = 400;
    let name = "bulkhead::callers_dropped_at_random_points";
    let bulkhead = bulkhead(name, MAX_CONCURRENT, MAX_QUEUE, None);
    let pipeline = only(&bulkhead);
    let started: Vec<AtomicBool> = (0..CALLERS).map(|_| AtomicBool::new(false)).collect();
    let finished: Vec<AtomicBool> = (0..CALLERS).map(|_| AtomicBool::new(false)).collect();
    let mut rng = fastrand::Rng::with_seed(0x5EED_B01C);

    let mut live: Vec<Live<'_>> = Vec::new();
    let (mut created, mut ok, mut full) = (0, 0, 0);
    let (mut dropped_running, mut dropped_queued) = (0, 0);
    let mut rounds = 0;
    while created < CALLERS || !live.is_empty() {
        rounds += 1;
        assert!(rounds < 100_000, "the callers never finished");
        for _ in 0..rng.usize(0..=3) {
            if created == CALLERS {
                break;
            }
            let id = created;
            created += 1;
            let yields = rng.u32(0..6);
            let (started, finished) = (&started[id], &finished[id]);
            let future: Caller<'_> = Box::pin(pipeline.run(yes, yes, move || async move {
                started.store(true, Ordering::SeqCst);
                for _ in 0..yields {
                    yield_now().await;
                }
                finished.store(true, Ordering::SeqCst);
                Ok(())
            }));
            let drop_after = rng.bool().then(|| rng.u32(0..8));
            live.push(Live {
                id,
                future,
                polls: 0,
                drop_after,
            });
        }

        let mut still_live = Vec::with_capacity(live.len());
        for mut caller in live.drain(..) {
            if caller.drop_after == Some(caller.polls) {
                let id = caller.id;
                let polled = caller.polls > 0;
                drop(caller);
                if started[id].load(Ordering::SeqCst) && !finished[id].load(Ordering::SeqCst) {
                    dropped_running += 1;
                } else if polled && !started[id].load(Ordering::SeqCst) {
                    dropped_queued += 1;
                }
                continue;
            }
            caller.polls += 1;
            match poll_once(caller.future.as_mut()).await {
                Poll::Ready(Ok(())) => ok += 1,
                Poll::Ready(Err(Failure::Rejected(ResilienceError::BulkheadFull { .. }))) => {
                    full += 1;
                }
                Poll::Ready(other) => panic!("caller {} ended with {other:?}", caller.id),
                Poll::Pending => still_live.push(caller),
            }
            assert!(bulkhead.in_flight() <= MAX_CONCURRENT);
            assert!(bulkhead.queued() <= MAX_QUEUE);
        }
        live = still_live;
        // Lets tokio's cooperative budget refill between rounds.
        yield_now().await;
    }

    assert!(ok > 0 && full > 0, "ok {ok}, full {full}");
    assert!(
        dropped_running > 0 && dropped_queued > 0,
        "dropped running {dropped_running}, dropped queued {dropped_queued}"
    );
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (0, 0));
    // Every slot can be taken again.
    let permits: Vec<_> = (0..MAX_CONCURRENT)
        .map(|_| bulkhead.try_acquire().expect("a slot leaked"))
        .collect();
    assert!(bulkhead.try_acquire().is_none());
    drop(permits);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_aborted_at_random_points_on_a_multi_thread_runtime_leave_nothing_behind() {
    const MAX_CONCURRENT: usize = 4;
    const MAX_QUEUE: usize = 100;
    const TASKS: usize = 1000;
    let name = "bulkhead::tasks_aborted_at_random_points";
    let bulkhead = bulkhead(name, MAX_CONCURRENT, MAX_QUEUE, None);
    let running = Arc::new(AtomicUsize::new(0));
    let max_running = Arc::new(AtomicUsize::new(0));
    let mut rng = fastrand::Rng::with_seed(0xAB0127);
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (bulkhead, running, max_running) =
                (bulkhead.clone(), running.clone(), max_running.clone());
            let yields = rng.u32(1..8);
            tokio::spawn(async move {
                only(&bulkhead)
                    .run(yes, yes, || async {
                        let (_running, now) = Running::enter(&running);
                        max_running.fetch_max(now, Ordering::SeqCst);
                        for _ in 0..yields {
                            yield_now().await;
                        }
                        Ok::<_, u32>(())
                    })
                    .await
            })
        })
        .collect();
    let mut aborted = 0;
    for task in &tasks {
        if rng.bool() {
            for _ in 0..rng.u32(0..4) {
                yield_now().await;
            }
            task.abort();
            aborted += 1;
        }
    }
    assert!(aborted > 0);
    for task in tasks {
        match task.await {
            Ok(Ok(())) | Ok(Err(Failure::Rejected(ResilienceError::BulkheadFull { .. }))) => {}
            Err(error) if error.is_cancelled() => {}
            other => panic!("a task ended with {other:?}"),
        }
    }
    let max_running = max_running.load(Ordering::SeqCst);
    assert!(
        max_running <= MAX_CONCURRENT,
        "{max_running} bodies ran at once"
    );
    assert_eq!(running.load(Ordering::SeqCst), 0);
    assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (0, 0));
}
