//! `mptcpize-rs`: the launcher. Runs a program with Multipath TCP, prints the environment for a
//! systemd unit, installs and removes drop-ins, diagnoses the host and shows a process's MPTCP
//! state (see `src/cli/`).
//!
//! It shares the mode and `GODEBUG` rules with the library through `mptcpize-core` (one
//! definition), but never links the library crate: the library exports `socket`,
//! `setsockopt`, `listen`… as C symbols, and a binary containing them would interpose its own
//! calls. `tests/launcher.rs` checks the built binary defines none of them.

// The unit tests of src/cli/ keep the test harness's own main.
#![cfg_attr(not(test), no_main)]

// The rules (mptcpize-core) and the seccomp supervisor (mptcpize-supervisor) are crates of
// their own; the library crate is never linked, its exported hooks would interpose our calls.
use mptcpize_core::{config, mode};
use mptcpize_supervisor as seccomp;

mod cli;

/// The C entry point (`#![no_main]`): Rust's own start-up would open `/dev/null` on a closed
/// stdin, stdout or stderr and ignore `SIGPIPE`, and the program we `exec` must get the
/// descriptor table and signal dispositions it was given. Arguments and environment still reach
/// `std::env` (glibc hands them over before `main`).
#[cfg_attr(not(test), unsafe(no_mangle))]
pub extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    let status = cli::main();
    let _ = std::io::Write::flush(&mut std::io::stdout());
    status
}
