//! Reaching the programs a preload cannot: static, musl and raw-syscall programs, through a
//! seccomp filter whose `socket()` calls a supervisor process answers.
//!
//! The filter ([`filter`]) turns exactly the calls the preload would rewrite into user
//! notifications; the supervisor ([`supervisor`]) makes the MPTCP socket in the caller's network
//! namespace and installs it in the caller ([`listener`]), or lets the caller's own call run when
//! MPTCP cannot be had or the caller's identity differs from its own ([`caller`]). The program
//! keeps the launcher's process; the supervisor is a detached helper that lives exactly as long
//! as some filtered process does ([`spawn`]). No root is needed: without `CAP_SYS_ADMIN` the
//! kernel requires `no_new_privs`, so setuid programs started under the filter gain nothing.
//!
//! Where it runs: in our own processes only (the launcher, `mptcpize-rs-seccomp`, the supervisor
//! they spawn), never in a host's; so it is std code, with the rules of mptcpize-core (`config`,
//! `policy`, `fallback`), the log lines of mptcpize-logger and its own few system calls
//! ([`sys`]). It never depends on the preload crate, whose exported `socket` hook would
//! interpose its calls. In the `listen` and `connect` modes the filter also notifies `listen()`,
//! where the supervisor switches the socket it made ([`switch`]), as the preload does.

pub mod caller;
pub mod filter;
pub mod listener;
pub mod refused;
pub mod remote;
pub mod spawn;
pub mod supervisor;
pub mod switch;
pub mod sys;
pub mod unchanged;
pub mod workers;

use mptcpize_core::{config, fallback, policy};
use mptcpize_logger as logging;

use config::{Config, Mode};
use std::fmt;
use std::io;

/// What one `socket()` call costs more under the supervisor than plain, as `scripts/bench.sh`
/// measured it on the development machine (for the launcher's "reached through seccomp" line).
pub const EXTRA_SOCKET_COST_US: u32 = 25;

/// The launcher's line for a program the preload cannot reach.
pub fn reach_note(command: &str) -> String {
    format!(
        "{command}: reached through seccomp (each socket() costs about {EXTRA_SOCKET_COST_US} µs more)"
    )
}

/// How the program is to be supervised.
#[derive(Debug, Clone)]
pub struct Options {
    pub mode: Mode,
    /// Log every decision (the library's `-d`): the supervisor keeps stderr for its lines.
    pub debug: bool,
}

/// Why a program cannot run under the supervisor in `mode`; say it and do not run.
pub fn unsupported(_mode: Mode) -> Option<&'static str> {
    if !filter::SUPPORTED {
        return Some("seccomp supervision is built for x86_64 and aarch64 only");
    }
    None
}

/// Why the program did not run.
#[derive(Debug)]
pub enum Failure {
    /// This mode or architecture cannot be supervised (nothing was started or changed).
    Unsupported(&'static str),
    /// The supervisor or the filter could not be set up, and this process is under the filter:
    /// the program was not started; report and exit, do not exec anything else.
    Supervisor(io::Error),
    /// The supervisor could not be set up, and nothing changed: the program may run without it
    /// (`EBUSY`: this process is supervised already).
    NotStarted(io::Error),
    /// The exec failed (`ENOENT`: no such command).
    Exec(io::Error),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Failure::Unsupported(reason) => f.write_str(reason),
            Failure::Supervisor(error) | Failure::NotStarted(error) => {
                write!(f, "cannot start the seccomp supervisor: {error}")
            }
            Failure::Exec(error) => error.fmt(f),
        }
    }
}

/// Runs `exec` (the caller's own exec of the program: path, `arg0`, arguments, environment,
/// signal mask as it wants them; it returns only the error of a failed exec) under the filter,
/// with a supervisor answering the program's `socket()` calls. Returns only on failure. A failed
/// exec (a missing command) leaves a supervisor that ends with this process. In mode `off` there
/// is no filter and no supervisor: `exec` alone. Call it from a single-threaded process (the
/// supervisor is forked from it and runs Rust code).
pub fn exec_supervised(options: &Options, exec: impl FnOnce() -> io::Error) -> Failure {
    if options.mode == Mode::Off {
        return Failure::Exec(exec());
    }
    if let Some(reason) = unsupported(options.mode) {
        return Failure::Unsupported(reason);
    }
    let mut log = Config::from_lookup(sys::getenv, sys::secure_execution());
    if options.debug {
        log.log_filter = Some(b"debug");
    }
    match spawn::start(options.mode, log) {
        Ok(started) => {
            // SAFETY: geteuid cannot fail.
            if started.no_new_privs && unsafe { libc::geteuid() } != 0 {
                eprintln!(
                    "mptcpize-rs: note: under the seccomp filter (no_new_privs), setuid and \
                     file-capability programs started by this program cannot gain privileges"
                );
            }
            Failure::Exec(exec())
        }
        Err(spawn::NotStarted {
            error,
            filtered: true,
        }) => Failure::Supervisor(error),
        Err(spawn::NotStarted { error, .. }) => Failure::NotStarted(error),
    }
}
