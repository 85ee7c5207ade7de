//! One `socket()` call, start to finish: decide, try MPTCP, fall back to the caller's own call.
//!
//! errno hygiene: when MPTCP succeeds or the fallback succeeds, the caller's errno is as it was
//! before the call; when both attempts fail, the caller sees the plain call's errno (what it would
//! have seen without us); in `force` mode, the kernel's MPTCP errno. Logging never clobbers errno.
//! The hot path reads the configuration (one atomic load after start-up) and, when a refusal is
//! remembered, a coarse clock; it takes no lock and allocates nothing unless debug logging is on.

use crate::config;
use crate::fallback::{self, AVAILABILITY};
use crate::policy::{self, Decision};
use crate::sys::{self, Errno};
use crate::tracked;
use libc::{IPPROTO_MPTCP, c_int};
use log::{Level, debug, log};
use std::fmt;

/// What our `socket()` returns: a descriptor or the errno to report.
pub fn socket(domain: c_int, ty: c_int, protocol: c_int) -> Result<c_int, Errno> {
    let decision = policy::decide(config::mode(), domain, ty, protocol);
    let mut result = open(decision, domain, ty, protocol);
    let ours = matches!(decision, Decision::Rewrite | Decision::Defer);
    if let Ok(fd) = result {
        if ours && !tracked::in_range(fd) && decision == Decision::Rewrite {
            // Above every number we can track, the option fallback could never apply: such a
            // socket stays what the program asked for.
            drop(sys::OwnedFd(fd));
            result = logged_call(
                Level::Debug,
                format_args!("descriptor too high to track, TCP"),
                domain,
                ty,
                protocol,
                protocol,
            );
        }
        // Later setsockopt()/listen() may replace only sockets the program asked to be TCP.
        if let Ok(fd) = result {
            tracked::opened(fd, ours, domain == libc::AF_INET6);
        }
    }
    result
}

fn open(decision: Decision, domain: c_int, ty: c_int, protocol: c_int) -> Result<c_int, Errno> {
    let logged = |level, note, asked| logged_call(level, note, domain, ty, protocol, asked);
    match decision {
        Decision::PassThrough(reason) => logged(Level::Trace, format_args!("{reason:?}"), protocol),
        Decision::RewriteStrict => {
            logged(Level::Debug, format_args!("MPTCP (force)"), IPPROTO_MPTCP)
        }
        Decision::Defer => logged(Level::Debug, format_args!("TCP until listen()"), protocol),
        Decision::Rewrite => with_fallback(domain, ty, protocol),
    }
}

/// Makes one `socket()` call asking for protocol `asked`, logged at `level` with `note`
/// (lazily formatted: nothing is allocated unless the line is written; errno kept).
fn logged_call(
    level: Level,
    note: fmt::Arguments,
    domain: c_int,
    ty: c_int,
    protocol: c_int,
    asked: c_int,
) -> Result<c_int, Errno> {
    let result = sys::next_socket(domain, ty, asked);
    // Checked first, so a call we leave alone pays no errno save/restore when nothing is logged.
    if log::log_enabled!(level) {
        sys::keeping_errno(|| {
            log!(
                level,
                "{} -> {note}: {}",
                call(domain, ty, protocol),
                outcome(result)
            )
        });
    }
    result
}

/// MPTCP if the kernel gives it, else exactly the caller's original call.
fn with_fallback(domain: c_int, ty: c_int, protocol: c_int) -> Result<c_int, Errno> {
    if !AVAILABILITY.should_try(domain, sys::monotonic_ms) {
        let note = format_args!("MPTCP known unavailable, TCP");
        return logged_call(Level::Debug, note, domain, ty, protocol, protocol);
    }
    let errno_before = sys::errno();
    let refused = match sys::next_socket(domain, ty, IPPROTO_MPTCP) {
        Ok(fd) => {
            sys::keeping_errno(|| debug!("{} -> MPTCP fd {fd}", call(domain, ty, protocol)));
            return Ok(fd);
        }
        Err(errno) => errno,
    };
    AVAILABILITY.record(domain, fallback::classify(refused), sys::monotonic_ms());
    sys::set_errno(errno_before);
    let result = sys::next_socket(domain, ty, protocol);
    sys::keeping_errno(|| {
        debug!(
            "{} -> MPTCP refused ({}): TCP {}",
            call(domain, ty, protocol),
            sys::errno_name(refused),
            outcome(result)
        )
    });
    result
}

/// `socket(AF_INET6, SOCK_STREAM|SOCK_CLOEXEC, 0)`, for log lines.
fn call(domain: c_int, ty: c_int, protocol: c_int) -> String {
    format!(
        "socket({}, {}, {protocol})",
        policy::family_name(domain),
        policy::type_name(ty)
    )
}

/// `fd 7` or `failed (EMFILE)`, for log lines.
fn outcome(result: Result<c_int, Errno>) -> String {
    match result {
        Ok(fd) => format!("fd {fd}"),
        Err(errno) => format!("failed ({})", sys::errno_name(errno)),
    }
}
