//! The floating-point environment: flushing subnormal numbers to zero, on purpose.
//!
//! A subnormal float (below `f32::MIN_POSITIVE` ≈ 1.2e-38 in magnitude, or `f64`'s ≈ 2.2e-308)
//! costs 10–100× more per operation on x86 CPUs, which handle it in microcode. Training drifts
//! into them: Adam's first moment `m ← β₁ m + (1 − β₁) g` of a weight whose gradient is mostly
//! exactly 0 (an input pixel that is rarely lit, a ReLU unit that rarely fires) shrinks by
//! `β₁ = 0.9` per step and goes subnormal ~750 steps after its last nonzero gradient, inside
//! MNIST's first epoch. Measured on MNIST (784-256-128-10, Adam, batch 64): after one epoch,
//! 50 steps without flushing left 859 of `h1.weight`'s 200 704 moments and 66 of
//! `h2.weight`'s subnormal (weights, gradients and softmax outputs had none), and every later
//! epoch's steps ran slower than the first (up to twice as slow on the older machine kind; on
//! an AVX-512 Xeon 15 % more CPU time in all, see BENCHMARKS.md).
//!
//! [`FlushSubnormals`] sets the CPU to treat subnormals as zero for the current thread, and
//! restores the previous setting when dropped. [`fit`](crate::train::fit) holds one for the
//! calling thread and sets it on every thread of its pool; hold one yourself when you call the
//! generated `backward_batch` and an optimizer's `step` in your own loop.
//!
//! # What it changes numerically
//!
//! A result that would be subnormal becomes `±0` (flush-to-zero), and a subnormal operand is
//! read as `±0` (denormals-are-zero). Normal numbers, infinities and NaNs are untouched, so
//! anything whose magnitude stays above `MIN_POSITIVE` computes bit for bit as before. For
//! training this is harmless: a weight, moment or gradient below 10⁻³⁸ contributes nothing that
//! a learning rate could turn into a visible change. Code that relies on gradual underflow
//! (computing ratios of tiny numbers, `x - y == 0 ⇔ x == y`) should not run inside the guard.
//!
//! # Platforms
//!
//! - x86 and x86_64 with SSE: the FTZ (bit 15) and DAZ (bit 6) bits of the `MXCSR` register.
//! - aarch64: the FZ bit (24) of `FPCR`, which flushes both subnormal results and operands.
//! - Elsewhere: nothing happens, and [`flushing_subnormals`] is `false`.
//!
//! The setting is per thread (each thread has its own register), so a guard affects only the
//! thread that created it, and it must be dropped on that thread (it is not `Send`).
//!
//! # Examples
//!
//! ```
//! use nn_runtime::fpenv::{FlushSubnormals, flushing_subnormals};
//! use core::hint::black_box;
//!
//! let tiny = black_box(f32::MIN_POSITIVE);
//! {
//!     let _guard = FlushSubnormals::new();
//!     if flushing_subnormals() {
//!         assert_eq!(black_box(tiny) * black_box(0.5), 0.0); // would be subnormal
//!     }
//! }
//! assert_eq!(black_box(tiny) * black_box(0.5), f32::MIN_POSITIVE / 2.0); // restored
//! ```

use core::marker::PhantomData;

/// While alive, the current thread treats subnormal floats as zero (results and operands);
/// dropping it restores the thread's previous setting. See the [module docs](self).
#[must_use = "the setting lasts only while the guard is alive"]
pub struct FlushSubnormals {
    /// The control register as it was before (its flush bits are restored).
    previous: Register,
    /// Not `Send`: the register belongs to the thread that created the guard.
    _thread: PhantomData<*const ()>,
}

impl FlushSubnormals {
    /// Sets flush-to-zero and denormals-are-zero on the current thread, remembering the
    /// previous setting.
    pub fn new() -> Self {
        let previous = read();
        write(previous | FLUSH_BITS);
        FlushSubnormals {
            previous,
            _thread: PhantomData,
        }
    }
}

impl Default for FlushSubnormals {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for FlushSubnormals {
    fn drop(&mut self) {
        // Only the flush bits go back: the sticky exception flags raised meanwhile stay set.
        write((read() & !FLUSH_BITS) | (self.previous & FLUSH_BITS));
    }
}

/// Whether the current thread flushes subnormal floats to zero (all the bits
/// [`FlushSubnormals`] sets are set). Always `false` on platforms without the setting.
pub fn flushing_subnormals() -> bool {
    FLUSH_BITS != 0 && read() & FLUSH_BITS == FLUSH_BITS
}

#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "x86", target_feature = "sse")
))]
mod arch {
    pub type Register = u32;
    /// `MXCSR`: FTZ (bit 15) flushes subnormal results, DAZ (bit 6) reads subnormal operands
    /// as zero.
    pub const FLUSH_BITS: Register = (1 << 15) | (1 << 6);

    pub fn read() -> Register {
        let mut value: Register = 0;
        // SAFETY: `stmxcsr` stores the 32-bit MXCSR to the address given, which points to a
        // live, writable, 4-byte-aligned `u32`; it has no other effect.
        unsafe {
            core::arch::asm!(
                "stmxcsr [{}]",
                in(reg) &mut value,
                options(nostack, preserves_flags)
            );
        }
        value
    }

    pub fn write(value: Register) {
        // SAFETY: `ldmxcsr` loads MXCSR from a live `u32`. Every value written is one read
        // from MXCSR with only the FTZ and DAZ bits changed, so no reserved bit is set (which
        // would fault). Changing the rounding/flush mode is what the caller asked for; it
        // breaks no invariant Rust relies on.
        unsafe {
            core::arch::asm!(
                "ldmxcsr [{}]",
                in(reg) &value,
                options(nostack, preserves_flags, readonly)
            );
        }
    }
}

#[cfg(target_arch = "aarch64")]
mod arch {
    pub type Register = u64;
    /// `FPCR.FZ` (bit 24): flush subnormal results and operands to zero.
    pub const FLUSH_BITS: Register = 1 << 24;

    pub fn read() -> Register {
        let value: Register;
        // SAFETY: reading FPCR has no side effect.
        unsafe {
            core::arch::asm!("mrs {}, fpcr", out(reg) value, options(nomem, nostack, preserves_flags));
        }
        value
    }

    pub fn write(value: Register) {
        // SAFETY: the value is one read from FPCR with only FZ changed.
        unsafe {
            core::arch::asm!("msr fpcr, {}", in(reg) value, options(nomem, nostack, preserves_flags));
        }
    }
}

#[cfg(not(any(
    target_arch = "x86_64",
    all(target_arch = "x86", target_feature = "sse"),
    target_arch = "aarch64"
)))]
mod arch {
    pub type Register = u8;
    /// No setting on this platform.
    pub const FLUSH_BITS: Register = 0;

    pub fn read() -> Register {
        0
    }

    pub fn write(_: Register) {}
}

use arch::{FLUSH_BITS, Register, read, write};

#[cfg(test)]
mod tests {
    use super::{FLUSH_BITS, FlushSubnormals, flushing_subnormals, read};
    use core::hint::black_box;

    #[test]
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    fn the_guard_flushes_subnormals_and_restores_the_previous_state() {
        let before = read();
        assert!(!flushing_subnormals(), "a fresh thread keeps subnormals");
        let half = black_box(0.5f32);
        // f32::MIN_POSITIVE / 2 is subnormal; so is f64::MIN_POSITIVE / 2.
        assert_eq!(black_box(f32::MIN_POSITIVE) * half, f32::MIN_POSITIVE / 2.0);
        {
            let _guard = FlushSubnormals::new();
            assert!(flushing_subnormals());
            assert_eq!(black_box(f32::MIN_POSITIVE) * half, 0.0);
            assert_eq!(black_box(f64::MIN_POSITIVE) * black_box(0.5f64), 0.0);
            // A subnormal operand reads as zero: 2 · (MIN_POSITIVE / 2) is not MIN_POSITIVE.
            let subnormal = f32::from_bits(1 << 22);
            assert_eq!(black_box(subnormal) * black_box(2.0f32), 0.0);
            // Normal numbers are untouched.
            assert_eq!(
                black_box(f32::MIN_POSITIVE) * black_box(1.0f32),
                f32::MIN_POSITIVE
            );
            {
                let _nested = FlushSubnormals::new();
            }
            assert!(
                flushing_subnormals(),
                "a nested guard restores the outer setting"
            );
        }
        assert_eq!(
            read() & FLUSH_BITS,
            before & FLUSH_BITS,
            "the flush bits are restored"
        );
        assert!(!flushing_subnormals());
        assert_eq!(black_box(f32::MIN_POSITIVE) * half, f32::MIN_POSITIVE / 2.0);
    }
}
