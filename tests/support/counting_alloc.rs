//! A global allocator that counts the heap allocations of one thread, for the tests that prove
//! a hot path allocates nothing (and measures the most heap it holds at once, for the tests
//! that bound memory). Include it with
//! `#[path = "support/counting_alloc.rs"] mod counting_alloc;` and call [`allocations`] or
//! [`peak_bytes`].

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Counts heap allocations made by the current thread while `COUNTING` is set; other threads
/// (the test harness, parallel tests) are not counted.
struct CountingAllocator;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    /// Bytes allocated and not yet freed by this thread since counting started (may go
    /// below zero if it frees older blocks).
    static LIVE: Cell<isize> = const { Cell::new(0) };
    /// The most `LIVE` has been since counting started.
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to `System`; only counts on the side. `alloc_zeroed` and
// `realloc` keep their default implementations, which call `alloc`, so they are counted too.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.with(|n| n.set(n.get() + 1));
            let live = LIVE.with(|n| {
                n.set(n.get() + layout.size() as isize);
                n.get()
            });
            PEAK.with(|p| p.set(p.get().max(live)));
        }
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.with(Cell::get) {
            LIVE.with(|n| n.set(n.get() - layout.size() as isize));
        }
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Heap allocations `f` makes on this thread.
pub fn allocations(f: impl FnOnce()) -> usize {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get)
}

/// The most heap, in bytes, that `f` holds at once on this thread (blocks it allocates and
/// has not freed; a `realloc` counts the old and the new block while it copies).
#[allow(dead_code)] // Not every test that includes this file measures bytes.
pub fn peak_bytes<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LIVE.with(|n| n.set(0));
    PEAK.with(|p| p.set(0));
    COUNTING.with(|c| c.set(true));
    let result = f();
    COUNTING.with(|c| c.set(false));
    (result, PEAK.with(Cell::get) as usize)
}
