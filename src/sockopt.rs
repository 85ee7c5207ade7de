//! The socket-option fallback: an option MPTCP refuses turns the socket back into TCP.
//!
//! On kernel 6.18 an MPTCP socket still refuses options such as `TCP_USER_TIMEOUT`,
//! `TCP_QUICKACK`, `TCP_SYNCNT`, `TCP_LINGER2`, `TCP_WINDOW_CLAMP`, `TCP_SAVE_SYN` (ENOPROTOOPT)
//! and `IP_TTL`, `IP_MINTTL`, `IP_RECVERR`, `IPV6_TCLASS`, `IPV6_UNICAST_HOPS` (EOPNOTSUPP); older
//! kernels refused more. Programs that insist on one (Traefik, Tailscale, `nc -M`) would fail
//! under MPTCP. When such a refusal hits a socket we made MPTCP, before it is connected or
//! listening, [`crate::swap`] puts a TCP socket behind the same descriptor and the option is
//! retried there. After connect/listen, on a socket the program asked MPTCP for itself, or in
//! `force` mode, the kernel's error is returned unchanged. A successful call costs nothing more.

use crate::config::{self, Mode};
use crate::sys::{Errno, OwnedFd};
use crate::{swap, sys, tracked};
use libc::{IPPROTO_MPTCP, IPPROTO_TCP, SOL_SOCKET, c_int, c_void, socklen_t};
use log::{debug, info};

/// `setsockopt()`, retried on a TCP socket when MPTCP refuses the option.
///
/// # Safety
/// `value`/`len` are the caller's, passed on unchanged: `len` readable bytes at `value`.
pub unsafe fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: socklen_t,
) -> Result<(), Errno> {
    let errno_before = sys::errno();
    // SAFETY: the caller's own arguments.
    let refused = match unsafe { sys::next_setsockopt(fd, level, name, value, len) } {
        Ok(()) => return Ok(()),
        Err(errno) => errno,
    };
    if !refused_by_mptcp(refused) || !tracked::is_rewritable(fd) {
        return Err(refused);
    }
    if config::mode() == Mode::Force
        || sys::get_int_option(fd, SOL_SOCKET, libc::SO_PROTOCOL) != Ok(IPPROTO_MPTCP)
    {
        return Err(refused);
    }
    // SAFETY: the caller's own arguments, tried on a throw-away TCP socket.
    if !unsafe { tcp_accepts(fd, level, name, value, len) } {
        return Err(refused); // TCP refuses it too (IPV6_V6ONLY on AF_INET, …): not MPTCP's doing
    }
    if !swap::is_replaceable(fd) {
        sys::keeping_errno(|| {
            debug!(
                "setsockopt(fd {fd}, {}) refused by MPTCP ({}) after connect/listen: kept",
                option_name(level, name),
                sys::errno_name(refused)
            )
        });
        return Err(refused);
    }
    if let Err(errno) = swap::replace(fd, IPPROTO_TCP) {
        sys::keeping_errno(|| {
            info!(
                "setsockopt(fd {fd}, {}) refused by MPTCP ({}); could not switch to TCP ({})",
                option_name(level, name),
                sys::errno_name(refused),
                sys::errno_name(errno)
            )
        });
        return Err(refused);
    }
    sys::set_errno(errno_before);
    // SAFETY: the caller's own arguments, as above.
    let retried = unsafe { sys::next_setsockopt(fd, level, name, value, len) };
    sys::keeping_errno(|| {
        info!(
            "setsockopt(fd {fd}, {}) refused by MPTCP ({}): fd {fd} is now TCP, option {}",
            option_name(level, name),
            sys::errno_name(refused),
            if retried.is_ok() {
                "set"
            } else {
                "still refused"
            }
        )
    });
    retried
}

/// Whether a fresh TCP socket like `fd` accepts the option.
///
/// # Safety
/// As for [`setsockopt`].
unsafe fn tcp_accepts(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: socklen_t,
) -> bool {
    let (Ok(domain), Ok(ty)) = (
        sys::get_int_option(fd, SOL_SOCKET, libc::SO_DOMAIN),
        sys::get_int_option(fd, SOL_SOCKET, libc::SO_TYPE),
    ) else {
        return false;
    };
    let Ok(probe) = sys::next_socket(domain, ty | libc::SOCK_CLOEXEC, IPPROTO_TCP) else {
        return false;
    };
    let probe = OwnedFd(probe);
    // SAFETY: the caller's own value and length.
    unsafe { sys::next_setsockopt(probe.0, level, name, value, len) }.is_ok()
}

/// The errnos with which MPTCP refuses an option TCP would take.
fn refused_by_mptcp(errno: Errno) -> bool {
    errno == libc::ENOPROTOOPT || errno == libc::EOPNOTSUPP
}

/// `TCP_USER_TIMEOUT` and the like, for log lines.
pub fn option_name(level: c_int, name: c_int) -> String {
    let known = match (level, name) {
        (IPPROTO_TCP, libc::TCP_USER_TIMEOUT) => "TCP_USER_TIMEOUT",
        (IPPROTO_TCP, libc::TCP_QUICKACK) => "TCP_QUICKACK",
        (IPPROTO_TCP, libc::TCP_SYNCNT) => "TCP_SYNCNT",
        (IPPROTO_TCP, libc::TCP_LINGER2) => "TCP_LINGER2",
        (IPPROTO_TCP, libc::TCP_WINDOW_CLAMP) => "TCP_WINDOW_CLAMP",
        (IPPROTO_TCP, libc::TCP_SAVE_SYN) => "TCP_SAVE_SYN",
        (IPPROTO_TCP, libc::TCP_MD5SIG) => "TCP_MD5SIG",
        (libc::IPPROTO_IP, libc::IP_TTL) => "IP_TTL",
        (libc::IPPROTO_IP, libc::IP_MINTTL) => "IP_MINTTL",
        (libc::IPPROTO_IP, libc::IP_RECVERR) => "IP_RECVERR",
        (libc::IPPROTO_IPV6, libc::IPV6_TCLASS) => "IPV6_TCLASS",
        (libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS) => "IPV6_UNICAST_HOPS",
        (libc::IPPROTO_IPV6, libc::IPV6_RECVERR) => "IPV6_RECVERR",
        (SOL_SOCKET, libc::SO_ZEROCOPY) => "SO_ZEROCOPY",
        (SOL_SOCKET, libc::SO_OOBINLINE) => "SO_OOBINLINE",
        (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY) => "IPV6_V6ONLY",
        _ => "",
    };
    if known.is_empty() {
        format!("level {level} option {name}")
    } else {
        known.to_string()
    }
}
