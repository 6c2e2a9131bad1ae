//! Examples and integration tests of the nn workspace live in this package; the library itself
//! is `nn-runtime` (with the `network!` macro from `nn-macros`).
