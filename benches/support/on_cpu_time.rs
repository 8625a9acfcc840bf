//! The benches' clock: on-CPU time, for figures that hold on a shared 2-core machine. Shared by
//! `benches/overhead.rs` and `discovery/benches/balancers.rs` (included with `#[path]`).

use std::time::{Duration, Instant};

use criterion::measurement::{Measurement, ValueFormatter, WallTime};

/// On-CPU time: wall time minus the time this thread waited for a CPU.
///
/// The wait is the second field of `/proc/thread-self/schedstat` (ns spent runnable but not
/// running), which the kernel brings up to date each time the thread is scheduled in, so it is
/// exact whenever the running thread reads it. Each reading is taken inside the wall-clock
/// window, so a preemption around a reading is subtracted only if it was also timed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OnCpuTime;

/// ns this thread has waited in the run queue, or `None` off Linux (wall time is used then).
pub(crate) fn run_queue_wait() -> Option<u64> {
    let schedstat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    schedstat.split_whitespace().nth(1)?.parse().ok()
}

impl OnCpuTime {
    /// Starts a measurement.
    pub(crate) fn begin() -> (Instant, u64) {
        let wall = Instant::now();
        (wall, run_queue_wait().unwrap_or(0))
    }

    /// The on-CPU time since `begin`.
    pub(crate) fn finish((wall, waited_before): (Instant, u64)) -> Duration {
        let waited_after = run_queue_wait().unwrap_or(0);
        wall.elapsed().saturating_sub(Duration::from_nanos(
            waited_after.saturating_sub(waited_before),
        ))
    }

    /// What the clock measures here, for the printed tables.
    pub(crate) fn name() -> &'static str {
        if run_queue_wait().is_some() {
            "on-CPU time (wall time minus run-queue wait, /proc/thread-self/schedstat)"
        } else {
            "wall time (no /proc/thread-self/schedstat here)"
        }
    }
}

impl Measurement for OnCpuTime {
    type Intermediate = (Instant, u64);
    type Value = Duration;

    fn start(&self) -> Self::Intermediate {
        OnCpuTime::begin()
    }

    fn end(&self, started: Self::Intermediate) -> Self::Value {
        OnCpuTime::finish(started)
    }

    fn add(&self, v1: &Self::Value, v2: &Self::Value) -> Self::Value {
        *v1 + *v2
    }

    fn zero(&self) -> Self::Value {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Self::Value) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        // Durations are shown as criterion shows wall time.
        static WALL_TIME: WallTime = WallTime;
        WALL_TIME.formatter()
    }
}
