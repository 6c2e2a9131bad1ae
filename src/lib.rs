//! Support for the examples and integration tests of the nn workspace: the datasets that ship
//! with the repository, and loading MNIST (which does not).
//! The library itself is `nn-runtime`.

pub mod digits;
pub mod mnist;
pub mod sine;
pub mod xor;
