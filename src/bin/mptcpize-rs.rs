//! `mptcpize-rs`: the launcher. Runs a program with Multipath TCP, prints the environment for a
//! systemd unit, installs and removes drop-ins, diagnoses the host and shows a process's MPTCP
//! state (see `src/cli/`).
//!
//! It shares the mode and `GODEBUG` rules with the library by compiling `src/mode.rs` itself
//! (one definition), but never links the library crate: the library exports `socket`,
//! `setsockopt`, `listen`… as C symbols, and a binary containing them would interpose its own
//! calls. `tests/launcher.rs` checks the built binary defines none of them.

#[path = "../mode.rs"]
mod mode;

#[path = "../cli/mod.rs"]
mod cli;

fn main() {
    std::process::exit(cli::main());
}
