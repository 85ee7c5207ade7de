//! The rules of mptcpize-rs, as pure code: what each mode means, how the environment becomes a
//! configuration, which `socket()` calls are rewritten, how a refusal of MPTCP is classified, and
//! the names of the errno values our messages print.
//!
//! Where it runs: everywhere. The preload (`libmptcpize_rs.so`, inside other people's processes)
//! and our own programs (the launcher, the seccomp supervisor) all decide by these same
//! definitions, so a mode or a variable can never mean one thing to one and another to the other.
//! That is why it is `no_std`, has no FFI and no `unsafe`, and allocates nothing: whatever the
//! preload may not do, this crate cannot do either. Its unit tests (tables, and property tests of
//! the parsers) run once, here.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod advisory;
pub mod behaviour;
pub mod config;
pub mod errno;
pub mod fallback;
pub mod mode;
pub mod options;
pub mod policy;
pub mod program;
