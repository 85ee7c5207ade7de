//! mptcpize-rs: Multipath TCP for programs that were never written for it.
//!
//! Loaded with `LD_PRELOAD`, this library interposes `socket()` and turns TCP stream sockets
//! (`AF_INET`/`AF_INET6`, `SOCK_STREAM`, protocol `0` or `IPPROTO_TCP`) into `IPPROTO_MPTCP`
//! sockets. When MPTCP cannot be had, the caller gets exactly the socket (and errno) it would have
//! had without us. The library runs inside other people's processes, which shapes every module:
//! nothing runs at load time, no code path can panic, the hot path takes no lock and allocates
//! nothing, errno is preserved, and nothing is ever written to stdout.
//!
//! `no_std` and without an allocator (core and libc only; the unit tests keep std), so that it
//! costs a host next to nothing to load. **Provably panic-free**: the shipped build has
//! `panic = "abort"` and the panic handler below calls a function that exists nowhere, while the
//! library links with `-Wl,--no-undefined` (build.rs): a panic that optimisation cannot remove
//! fails the link, so the library that links has none.
//!
//! Modules, one concern each:
//! - [`hooks`]: the exported C symbols, a few lines each;
//! - [`rewrite`]: what one `socket()` call does (decide, try MPTCP, fall back);
//! - [`setup`]: the configuration read once per process, the mode in one relaxed load;
//! - from `mptcpize-core` (crates/core, pure code shared with the launcher and the supervisor):
//!   [`policy`] (which calls to rewrite), [`config`] (environment → [`config::Config`]),
//!   [`mode`] (mode names and `GODEBUG` rules), [`fallback`] (errno classification and the
//!   per-family availability memory);
//! - [`sockopt`]: the socket-option fallback (an option MPTCP refuses → TCP socket);
//! - [`established`]: what a socket that can no longer be switched answers to refused options;
//! - [`direction`]: the `listen`/`connect` modes, decided at `listen()`;
//! - [`switch`]: replacing the socket behind a descriptor, only when nobody can tell;
//! - [`tracked`]: what is known of each descriptor number (ours, started, shared, carried);
//! - [`events`]: the descriptor events that keep [`tracked`] true (connect, close, dup, fork…);
//! - [`reach`]: programs started from here that only the seccomp supervisor reaches, handed to it;
//! - [`logging`]: our log lines, written by env_logger in a companion library loaded on demand;
//! - [`sys`]: the remaining FFI (the next `socket` in the chain, errno, clock, environment).

// no_std wherever panics abort (the shipped build); `cargo test` also builds the library as a
// dependency of its harnesses, which must unwind, and a no_std crate cannot: that build (and
// the unit tests) keeps std, with the same code.
#![cfg_attr(all(not(test), panic = "abort"), no_std)]

pub use mptcpize_core::{config, fallback, mode, policy};
pub mod advisory;
pub mod behaviour;
pub mod direction;
pub mod established;
pub mod events;
// The exported symbols stay out of this crate's own unit-test binary.
#[cfg(not(test))]
pub mod hooks;
pub mod logging;
pub mod reach;
pub mod rewrite;
pub mod setup;
pub mod sockopt;
pub mod switch;
pub mod sys;
pub mod tracked;

// libc itself: std links it for a std crate; a no_std one names it (the `libc` crate only
// declares the functions).
#[cfg(all(not(test), panic = "abort"))]
#[link(name = "c")]
unsafe extern "C" {}

// The personality routine that core's precompiled (unwinding) objects name in their unwind
// tables. Nothing of ours ever unwinds (panics abort and none is reachable); should a foreign
// unwind (a cancelled thread) cross such a frame, there is nothing to clean up there:
// `_URC_CONTINUE_UNWIND` (8). Defined in assembly so that it can be hidden: an exported
// `rust_eh_personality` would capture the unwinding of every Rust library linked to a shared
// libstd in the host.
#[cfg(all(not(test), panic = "abort", target_arch = "x86_64"))]
core::arch::global_asm!(
    ".globl rust_eh_personality",
    ".hidden rust_eh_personality",
    ".type rust_eh_personality, @function",
    "rust_eh_personality:",
    "mov eax, 8",
    "ret",
    ".size rust_eh_personality, . - rust_eh_personality",
);
#[cfg(all(not(test), panic = "abort", target_arch = "aarch64"))]
core::arch::global_asm!(
    ".globl rust_eh_personality",
    ".hidden rust_eh_personality",
    ".type rust_eh_personality, %function",
    "rust_eh_personality:",
    "mov w0, #8",
    "ret",
    ".size rust_eh_personality, . - rust_eh_personality",
);

// The handle that identifies this library to glibc (`pthread_atfork`, in libc_nonshared.a,
// registers our fork handlers under it so that they go away with the library). crtbegin.o
// defines it, and the release library links with `-nostartfiles` (build.rs), which leaves
// crtbegin out: lld would make one up, GNU ld (which rustc used before 1.90) fails the link.
// Weak, so that crtbegin's wins wherever it is linked; hidden, like crtbegin's. Only its address
// matters.
#[cfg(not(test))]
core::arch::global_asm!(
    ".pushsection .data.rel.ro.__dso_handle,\"aw\"",
    ".weak __dso_handle",
    ".hidden __dso_handle",
    ".p2align 3",
    "__dso_handle:",
    ".8byte 0",
    ".popsection",
);

/// The panic handler of the shipped library: a call to a function that no library defines.
/// Optimisation removes every panic it can prove unreachable; any that remains keeps this
/// handler alive, and `-Wl,--no-undefined` then fails the link. A build without the proof (the
/// unit tests, or `cargo test`'s unoptimised dependency build, which unwinds: see build.rs)
/// never reaches this.
#[cfg(all(not(test), panic = "abort"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    unsafe extern "C" {
        /// Deliberately undefined: see above.
        fn mptcpize_rs_a_panic_is_reachable_in_the_preload() -> !;
    }
    // SAFETY: never runs: the library links only when no call to this remains.
    unsafe { mptcpize_rs_a_panic_is_reachable_in_the_preload() }
}
