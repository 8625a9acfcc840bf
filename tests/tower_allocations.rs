//! Allocations per request on the success path of the tower layers, counted by a counting
//! global allocator (per thread, only inside the measured loop, as `tests/allocations.rs`).
//!
//! `ResilienceLayer` allocates exactly one block per request: its boxed response future (the
//! runtime's composition is an `async` block, which `Service::Future` cannot name on stable
//! Rust). The inner service here allocates nothing, so any other allocation is the layer's.
//! Reading the deadline and running within one allocate nothing.

// A `GlobalAlloc` impl is unsafe by definition; this one only counts, then forwards to `System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::convert::Infallible;
use std::time::Duration;

use resilience::tower::{DeadlineLayer, ErrorsOnly, ResilienceLayer};
use resilience::{ResilienceConfig, deadline};
use tower::{Layer, Service, ServiceExt, service_fn};

struct CountingAllocator;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
    }
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Allocations per iteration of `run` over `calls` iterations.
async fn per_call<F: AsyncFnMut()>(calls: u64, mut run: F) -> f64 {
    run().await; // Warm-up: first registrations, the timer's first use.
    ALLOCATIONS.with(|count| count.set(0));
    COUNTING.with(|on| on.set(true));
    for _ in 0..calls {
        run().await;
    }
    COUNTING.with(|on| on.set(false));
    ALLOCATIONS.with(Cell::get) as f64 / calls as f64
}

#[tokio::test(flavor = "current_thread")]
async fn resilience_layer_allocates_one_future_per_request_on_the_success_path() {
    let inner = service_fn(|_: ()| async { Ok::<u64, Infallible>(42) });
    let mut service = ResilienceLayer::new("allocations::layer", ResilienceConfig::default())
        .classify(ErrorsOnly)
        .layer(inner);
    let allocations = per_call(1_000, async || {
        let ready = service.ready().await.unwrap();
        assert_eq!(ready.call(()).await.unwrap(), 42);
    })
    .await;
    assert_eq!(allocations, 1.0);
}

#[tokio::test(flavor = "current_thread")]
async fn deadlines_allocate_nothing() {
    let allocations = per_call(1_000, async || {
        assert_eq!(deadline::remaining(), None);
    })
    .await;
    assert_eq!(allocations, 0.0);
    let at = tokio::time::Instant::now() + Duration::from_secs(3600);
    let allocations = per_call(1_000, async || {
        deadline::scope(at, async {
            assert!(deadline::remaining().is_some());
        })
        .await;
    })
    .await;
    assert_eq!(allocations, 0.0);
    let mut server = DeadlineLayer::new().layer(service_fn(|_: http::Request<()>| async {
        Ok::<_, Infallible>(deadline::remaining().is_some())
    }));
    let allocations = per_call(1_000, async || {
        let request = http::Request::new(());
        let ready = server.ready().await.unwrap();
        assert!(!ready.call(request).await.unwrap());
    })
    .await;
    assert_eq!(allocations, 0.0);
}
