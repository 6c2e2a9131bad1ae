//! Support for the examples and integration tests of the nn workspace: the datasets that ship
//! with the repository, and loading MNIST (which does not).
//! The library itself is `nn-runtime`.

pub mod digits;
pub mod dual;
pub mod ensemble;
pub mod mnist;
pub mod sine;
pub mod ts_cnn;
pub mod xor;

// The repository's README, whose examples run as doctests of this package. (`nn-runtime`'s
// crate documentation is its own README, which ships in its package.)
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}
