//! `__with_alloc!`: how code generated in the user's crate follows this crate's `alloc`
//! feature, which the user's crate cannot name in a `#[cfg]`.

/// Expands to its items when nn-runtime has the `alloc` feature, to nothing without it.
///
/// `network!` wraps in it what needs the heap: the batch methods (`forward_batch`,
/// `backward_batch`, …, whose `Batch` is a matrix with a run-time column count) and their
/// record of intermediates. A `#![no_std]` crate without an allocator then still gets every
/// per-sample method.
#[cfg(feature = "alloc")]
#[doc(hidden)]
#[macro_export]
macro_rules! __with_alloc {
    ($($tokens:tt)*) => {
        $($tokens)*
    };
}

/// Expands to its items when nn-runtime has the `alloc` feature, to nothing without it (here:
/// without it).
#[cfg(not(feature = "alloc"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __with_alloc {
    ($($tokens:tt)*) => {};
}

/// Expands to its items when nn-runtime has the `alloc` feature, and to a compile error with
/// the given message without it: for what cannot exist at all without the heap.
///
/// `network!` wraps a sequence network in it (its sequences are `Vec`s of steps; per-step
/// streaming alone without an allocator is not generated yet).
#[cfg(feature = "alloc")]
#[doc(hidden)]
#[macro_export]
macro_rules! __require_alloc {
    ($message:literal, $($tokens:tt)*) => {
        $($tokens)*
    };
}

/// Expands to its items when nn-runtime has the `alloc` feature, and to a compile error with
/// the given message without it (here: without it).
#[cfg(not(feature = "alloc"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __require_alloc {
    ($message:literal, $($tokens:tt)*) => {
        ::core::compile_error!($message);
    };
}
