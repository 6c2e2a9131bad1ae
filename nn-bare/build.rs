//! Links the binary without the C runtime's start files: `_start` in `src/main.rs` is the
//! entry point, and nothing (no libc, no allocator) is linked that the code does not name.

fn main() {
    println!("cargo:rustc-link-arg-bins=-nostartfiles");
    println!("cargo:rustc-link-arg-bins=-nostdlib");
    println!("cargo:rustc-link-arg-bins=-static");
    println!("cargo:rustc-link-arg-bins=-no-pie");
}
