//! Tests of the pipeline on `proc_macro2` tokens: expansion snapshots, and the guarantee that no
//! input, however malformed, panics the macro.

mod corpus;
mod once;
mod snapshots;
