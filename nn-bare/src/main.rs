//! A bare-metal-shaped program that predicts with an embedded model: `#![no_std]`, `#![no_main]`,
//! its own panic handler and entry point, and no global allocator. That it links proves the
//! inference path of nn-runtime (without its `alloc` feature) and `embed!` statics never reach
//! for the heap: a crate that did would fail to link with
//! `error: no global memory allocator found but one is required`.
//!
//! It runs on x86-64 Linux (the host of CI) without libc: `_start` predicts the class of one
//! sample and exits through the `exit` system call with status 0 when the class is the one the
//! hosted tests compute for the same sample and model (`tests/embed.rs`), else 1.

#![no_std]
#![no_main]

mod mem;

use nn_runtime::nalgebra::SVector;

include!("sample.rs");

nn_runtime::network! {
    /// Every kind of parameter block, declared as in `tests/embed.rs` but without the loss:
    /// this program only predicts (inference only; the class is the largest logit).
    pub struct Mixed {
        input: 5,
        h1: dense(8, tanh),
        h2: dense(8, relu) + h1,
        h3: dense(6, gelu, bias = false) + project(h1),
        norm: layer_norm(eps = 1e-3),
        out: dense(3),
    }
}

nn_runtime::embed! {
    /// The trained model, in the binary's read-only data.
    static MODEL: Mixed<f32> = "../../tests/fixtures/embed/mixed-f32.safetensors";
}

/// The entry point the kernel jumps to. It is not called, so the stack is 16-byte aligned here
/// where a function expects it 8 bytes past that (a return address): it aligns the stack and
/// calls [`main`].
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    core::arch::naked_asm!("xor ebp, ebp", "and rsp, -16", "call {main}", "ud2", main = sym main)
}

/// Predicts, then exits with 0 when the class is [`EXPECTED_CLASS`], else 1.
extern "C" fn main() -> ! {
    let x = SVector::from(SAMPLE);
    let logits = MODEL.predict(core::hint::black_box(&x));
    let status = if logits.imax() == EXPECTED_CLASS {
        0
    } else {
        1
    };
    exit(status)
}

/// Ends the process with `status` (Linux's `exit` system call: nothing else to clean up).
fn exit(status: i32) -> ! {
    // SAFETY: system call 60 (`exit`) on x86-64 Linux takes the status in `rdi` and does not
    // return; it reads no memory.
    unsafe {
        core::arch::asm!("syscall", in("rax") 60, in("rdi") status, options(noreturn, nostack));
    }
}

/// The unwinding personality routine, never called: this binary aborts on panic. The
/// precompiled `core` of a hosted target is built for unwinding and names the symbol in its
/// unwind tables, which the linker must resolve.
#[unsafe(no_mangle)]
pub extern "C" fn rust_eh_personality() {}

/// A panic (none is reachable: the model is checked when the crate compiles) exits with 101.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    exit(101)
}
