//! Support for the examples and integration tests of the nn workspace: the datasets that ship
//! with the repository, loading MNIST (which does not), and plotting a training history. The library itself is `nn-runtime`.

pub mod digits;
pub mod mnist;
pub mod plot;
pub mod sine;
pub mod xor;
