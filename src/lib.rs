//! Support for the examples and integration tests of the nn workspace: the datasets that ship
//! with the repository, and plotting a training history. The library itself is `nn-runtime`.

pub mod digits;
pub mod plot;
pub mod sine;
pub mod xor;
