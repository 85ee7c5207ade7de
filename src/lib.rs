//! mptcpize-rs: Multipath TCP for programs that were never written for it.
//!
//! Loaded with `LD_PRELOAD`, this library interposes `socket()` and turns TCP stream sockets
//! (`AF_INET`/`AF_INET6`, `SOCK_STREAM`, protocol `0` or `IPPROTO_TCP`) into `IPPROTO_MPTCP`
//! sockets. When MPTCP cannot be had, the caller gets exactly the socket (and errno) it would have
//! had without us. The library runs inside other people's processes, which shapes every module:
//! nothing runs at load time, no panic crosses the C boundary, the hot path takes no lock and
//! allocates nothing, errno is preserved, and nothing is ever written to stdout.
//!
//! Modules, one concern each:
//! - [`hooks`]: the exported C symbols, a few lines each;
//! - [`rewrite`]: what one `socket()` call does (decide, try MPTCP, fall back);
//! - [`policy`]: the pure decision of which calls to rewrite;
//! - [`config`]: environment → [`config::Config`], read once per process;
//! - [`mode`]: mode names and `GODEBUG` rules, shared with the launcher (pure code);
//! - [`fallback`]: errno classification and the per-family availability memory;
//! - [`sockopt`]: the socket-option fallback (an option MPTCP refuses → TCP socket);
//! - [`direction`]: the `listen`/`connect` modes, decided at `listen()`;
//! - [`swap`]: replacing the socket behind a descriptor, only when nobody can tell;
//! - [`tracked`]: what is known of each descriptor number (ours, started, shared, carried);
//! - [`events`]: the descriptor events that keep [`tracked`] true (connect, close, dup, fork…);
//! - [`logging`]: our own quiet logger (`MPTCPIZE_LOG`, `MPTCPIZE_LOG_FILE`);
//! - [`sys`]: the remaining FFI (the next `socket` in the chain, errno, clock, environment).

pub mod config;
pub mod direction;
pub mod events;
pub mod fallback;
// The exported symbols stay out of this crate's own unit-test binary.
#[cfg(not(test))]
pub mod hooks;
pub mod logging;
pub mod mode;
pub mod policy;
pub mod rewrite;
pub mod sockopt;
pub mod swap;
pub mod sys;
pub mod tracked;
