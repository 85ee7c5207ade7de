//! One `socket()` call, start to finish: decide, try MPTCP, fall back to the caller's own call.
//!
//! errno hygiene: when MPTCP succeeds or the fallback succeeds, the caller's errno is as it was
//! before the call; when both attempts fail, the caller sees the plain call's errno (what it would
//! have seen without us); in `force` mode, the kernel's MPTCP errno. Logging never clobbers errno.
//! The hot path reads the configuration (one atomic load after start-up) and, when a refusal is
//! remembered, a coarse clock; it takes no lock and allocates nothing.

use crate::fallback::{self, AVAILABILITY};
use crate::logging::{self, DEBUG, debug, log_line};
use crate::policy::{self, Decision};
use crate::sys::{self, Errno};
use crate::{setup, tracked};
use core::fmt;
use libc::{IPPROTO_MPTCP, c_int};

/// Our `socket()`, as C sees it: the descriptor, or `-1` with errno set.
///
/// The two common cases when nothing is logged take the short way: a call we leave alone is the
/// next `socket()` (whose own errno the caller gets) and the tracking store; a call we rewrite is
/// one `socket(…, IPPROTO_MPTCP)` and the tracking store (errno is read first, needed only if
/// MPTCP is refused). Everything else (a refusal remembered, the other modes, any logging)
/// takes [`socket_in_full`].
#[inline(always)]
pub fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    let hot = setup::hot();
    if policy::is_tcp_stream(domain, ty, protocol) {
        if hot & setup::family_bit(domain) != 0 {
            return rewritten(domain, ty, protocol);
        }
        if hot & setup::HOT_TCP_PASSES != 0 {
            return passed(domain, ty, protocol);
        }
    } else if hot & setup::HOT_PASS != 0 {
        return passed(domain, ty, protocol);
    }
    let decision = policy::decide(setup::mode(), domain, ty, protocol);
    sys::to_c(socket_in_full(decision, domain, ty, protocol))
}

/// A call we leave alone, nothing logged: the caller's own call; the number is no longer ours.
#[inline(always)]
fn passed(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    // SAFETY: socket() takes three integers and touches no memory of ours.
    let fd = unsafe { sys::raw_socket(domain, ty, protocol) };
    if fd >= 0 {
        tracked::opened(fd, false, false);
    }
    fd
}

/// A TCP call made MPTCP, nothing logged and no refusal remembered: one `socket()` when the
/// kernel says yes.
#[inline(always)]
fn rewritten(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    let errno_before = sys::errno();
    // SAFETY: socket() takes three integers and touches no memory of ours.
    let fd = unsafe { sys::raw_socket(domain, ty, IPPROTO_MPTCP) };
    if tracked::in_range(fd) {
        tracked::opened(fd, true, domain == libc::AF_INET6);
        return fd;
    }
    not_rewritten(fd, errno_before, domain, ty, protocol)
}

/// [`rewritten`]'s rare ends: MPTCP refused (`fd` is `-1`), or a descriptor too high to track.
#[cold]
#[inline(never)]
fn not_rewritten(
    fd: c_int,
    errno_before: Errno,
    domain: c_int,
    ty: c_int,
    protocol: c_int,
) -> c_int {
    if fd >= 0 {
        drop(sys::OwnedFd(fd));
        return sys::to_c(socket_in_full(Decision::Rewrite, domain, ty, protocol));
    }
    let refused = sys::errno();
    sys::set_errno(errno_before);
    let result = refused_then_plain(domain, ty, protocol, refused);
    if let Ok(fd) = result {
        tracked::opened(fd, true, domain == libc::AF_INET6);
    }
    sys::to_c(result)
}

/// [`socket`], every case, with its log lines.
#[cold]
#[inline(never)]
fn socket_in_full(
    decision: Decision,
    domain: c_int,
    ty: c_int,
    protocol: c_int,
) -> Result<c_int, Errno> {
    let mut result = open(decision, domain, ty, protocol);
    let ours = matches!(decision, Decision::Rewrite | Decision::Defer);
    if let Ok(fd) = result {
        if ours && !tracked::in_range(fd) && decision == Decision::Rewrite {
            // Above every number we can track, the option fallback could never apply: such a
            // socket stays what the program asked for.
            drop(sys::OwnedFd(fd));
            result = logged_call(
                DEBUG,
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
        Decision::PassThrough(reason) => {
            logged(logging::TRACE, format_args!("{reason:?}"), protocol)
        }
        Decision::RewriteStrict => logged(DEBUG, format_args!("MPTCP (force)"), IPPROTO_MPTCP),
        Decision::Defer => logged(DEBUG, format_args!("TCP until listen()"), protocol),
        Decision::Rewrite => with_fallback(domain, ty, protocol),
    }
}

/// Makes one `socket()` call asking for protocol `asked`, logged at `level` with `note`
/// (lazily formatted: nothing is formatted unless the line is written; errno kept).
fn logged_call(
    level: u8,
    note: fmt::Arguments,
    domain: c_int,
    ty: c_int,
    protocol: c_int,
    asked: c_int,
) -> Result<c_int, Errno> {
    let result = sys::next_socket(domain, ty, asked);
    // The level test alone when nothing is logged (the line keeps errno itself).
    log_line!(
        level,
        "{} -> {note}: {}",
        Call(domain, ty, protocol),
        Outcome(result)
    );
    result
}

/// MPTCP if the kernel gives it, else exactly the caller's original call.
fn with_fallback(domain: c_int, ty: c_int, protocol: c_int) -> Result<c_int, Errno> {
    if !AVAILABILITY.should_try(domain, sys::monotonic_ms) {
        let note = format_args!("MPTCP known unavailable, TCP");
        return logged_call(DEBUG, note, domain, ty, protocol, protocol);
    }
    let errno_before = sys::errno();
    let refused = match sys::next_socket(domain, ty, IPPROTO_MPTCP) {
        Ok(fd) => {
            debug!("{} -> MPTCP fd {fd}", Call(domain, ty, protocol));
            setup::accepted(domain);
            return Ok(fd);
        }
        Err(errno) => errno,
    };
    sys::set_errno(errno_before);
    refused_then_plain(domain, ty, protocol, refused)
}

/// After the kernel refused MPTCP with `refused` (errno already put back): remember it, and make
/// the caller's own call.
#[cold]
#[inline(never)]
fn refused_then_plain(
    domain: c_int,
    ty: c_int,
    protocol: c_int,
    refused: Errno,
) -> Result<c_int, Errno> {
    let refusal = fallback::classify(refused);
    AVAILABILITY.record(domain, refusal, sys::keeping_errno(sys::monotonic_ms));
    if refusal != fallback::Refusal::Unrelated {
        setup::refused(domain);
    }
    let result = sys::next_socket(domain, ty, protocol);
    debug!(
        "{} -> MPTCP refused ({}): TCP {}",
        Call(domain, ty, protocol),
        sys::errno_name(refused),
        Outcome(result)
    );
    result
}

/// `socket(AF_INET6, SOCK_STREAM|SOCK_CLOEXEC, 0)`, for log lines.
struct Call(c_int, c_int, c_int);

impl fmt::Display for Call {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Call(domain, ty, protocol) = *self;
        write!(
            out,
            "socket({}, {}, {protocol})",
            policy::family_name(domain),
            policy::type_name(ty)
        )
    }
}

/// `fd 7` or `failed (EMFILE)`, for log lines.
struct Outcome(Result<c_int, Errno>);

impl fmt::Display for Outcome {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Ok(fd) => write!(out, "fd {fd}"),
            Err(errno) => write!(out, "failed ({})", sys::errno_name(errno)),
        }
    }
}
