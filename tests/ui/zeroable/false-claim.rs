// Hand-written safe code cannot make `impl_zeroable!` claim a struct with a reference is
// all-zero valid: listing only some fields, or a field at a type it does not have, fails.
use nn_runtime::__private::{Dense, Real, impl_zeroable};

pub struct Hidden<T: Real> {
    pub h: Dense<T, 1, 1>,
    pub name: &'static str,
}
impl_zeroable! { Hidden { h: Dense<T, 1, 1> } }

pub struct Retyped<T: Real> {
    pub h: Dense<T, 1, 1>,
    pub name: &'static str,
}
impl_zeroable! { Retyped { h: Dense<T, 1, 1>, name: Dense<T, 1, 1> } }

fn main() {}
