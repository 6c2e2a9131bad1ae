//! `memcpy`, `memmove` and `memset`: the memory routines compiled code calls (nalgebra copies
//! matrices by value), which a hosted program takes from libc and a bare-metal one from its
//! platform crate (or `compiler_builtins`' `mem` feature on `*-none` targets). This binary
//! links no libc, so it brings its own: x86-64 string instructions, which the compiler cannot
//! turn back into a call to the routine being defined.

use core::arch::asm;

/// Copies `n` bytes from `src` to `dest` (the ranges do not overlap); returns `dest`.
///
/// # Safety
/// `src` is readable and `dest` writable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: `rep movsb` copies `rcx` bytes forward from `rsi` to `rdi` (the direction flag is
    // clear, as the ABI guarantees on entry); the caller vouches for both ranges.
    unsafe {
        asm!("rep movsb", inout("rcx") n => _, inout("rdi") dest => _, inout("rsi") src => _,
             options(nostack, preserves_flags));
    }
    dest
}

/// Copies `n` bytes from `src` to `dest`, the ranges possibly overlapping; returns `dest`.
///
/// # Safety
/// `src` is readable and `dest` writable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dest as usize).wrapping_sub(src as usize) >= n {
        // `dest` is below `src` or past the end of it: a forward copy reads each byte before
        // it is overwritten.
        // SAFETY: as for `memcpy`; the caller vouches for both ranges.
        return unsafe { memcpy(dest, src, n) };
    }
    // `dest` starts inside `src`: copy backwards, from the last byte, with the direction flag
    // set and cleared again.
    // SAFETY: `rep movsb` with the direction flag set copies `rcx` bytes backward from `rsi` to
    // `rdi`, both pointing at the last byte; the caller vouches for both ranges.
    unsafe {
        asm!("std", "rep movsb", "cld", inout("rcx") n => _,
             inout("rdi") dest.wrapping_add(n).wrapping_sub(1) => _,
             inout("rsi") src.wrapping_add(n).wrapping_sub(1) => _, options(nostack));
    }
    dest
}

/// Sets `n` bytes at `dest` to the low byte of `value`; returns `dest`.
///
/// # Safety
/// `dest` is writable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dest: *mut u8, value: i32, n: usize) -> *mut u8 {
    // SAFETY: `rep stosb` stores `al` into `rcx` bytes forward from `rdi` (direction flag
    // clear); the caller vouches for the range.
    unsafe {
        asm!("rep stosb", inout("rcx") n => _, inout("rdi") dest => _, in("al") value as u8,
             options(nostack, preserves_flags));
    }
    dest
}
