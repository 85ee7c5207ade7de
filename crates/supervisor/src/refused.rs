//! The options this kernel's MPTCP refuses on a socket that has not started, which the filter
//! then notifies in `setsockopt()` so that the supervisor can switch the socket to TCP first
//! ([`crate::switch`]). Measured when the filter is built, not listed: they differ by kernel
//! (docs/options/), and probing costs two sockets and a few dozen calls.
//!
//! The candidates are the options a switch can carry (mptcpize-core's `options::CARRIED`): each
//! is read from a fresh TCP socket and set, with that value, on a fresh MPTCP socket of the same
//! family; `EOPNOTSUPP` or `ENOPROTOOPT` means MPTCP refuses it. Where no MPTCP socket can be
//! made here the list is empty: nothing is notified, and every option meets the kernel.

use mptcpize_core::options::CARRIED;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Whether this kernel's MPTCP stalls transfers into a receive buffer the program set
/// (mptcpize-core's `behaviour`: from 6.13).
pub fn slow_receive_buffer() -> bool {
    std::fs::read("/proc/sys/kernel/osrelease")
        .ok()
        .and_then(|text| mptcpize_core::behaviour::release(&text))
        .is_some_and(mptcpize_core::behaviour::slow_receive_buffer)
}

/// `(level, name)` of each option whose `setsockopt()` the filter asks about: those MPTCP
/// refuses here, IPv4 and IPv6 together, and the receive buffers on a kernel that stalls with
/// them (an MPTCP socket that has not started becomes TCP first, as in the library).
pub fn this_kernel() -> Vec<(libc::c_int, libc::c_int)> {
    let mut refused = Vec::new();
    if slow_receive_buffer() {
        refused.push((libc::SOL_SOCKET, libc::SO_RCVBUF));
        refused.push((libc::SOL_SOCKET, libc::SO_RCVBUFFORCE));
    }
    for domain in [libc::AF_INET, libc::AF_INET6] {
        let (Some(tcp), Some(mptcp)) = (
            socket(domain, libc::IPPROTO_TCP),
            socket(domain, libc::IPPROTO_MPTCP),
        ) else {
            continue;
        };
        for option in CARRIED {
            let pair = (option.level, option.name);
            let other_family = if domain == libc::AF_INET {
                libc::IPPROTO_IPV6
            } else {
                libc::IPPROTO_IP
            };
            if option.level == other_family || refused.contains(&pair) {
                continue;
            }
            let mut value = [0u8; 64];
            let mut length = value.len() as libc::socklen_t;
            // SAFETY: a socket we hold; `value` is writable for `length` bytes.
            let read = unsafe {
                libc::getsockopt(
                    tcp.as_raw_fd(),
                    option.level,
                    option.name,
                    value.as_mut_ptr().cast(),
                    &mut length,
                )
            };
            if read != 0 {
                continue;
            }
            // SAFETY: a socket we hold; `value` holds `length` readable bytes.
            let set = unsafe {
                libc::setsockopt(
                    mptcp.as_raw_fd(),
                    option.level,
                    option.name,
                    value.as_ptr().cast(),
                    length,
                )
            };
            let errno = std::io::Error::last_os_error().raw_os_error();
            if set != 0 && matches!(errno, Some(libc::EOPNOTSUPP | libc::ENOPROTOOPT)) {
                refused.push(pair);
            }
        }
    }
    refused
}

fn socket(domain: libc::c_int, protocol: libc::c_int) -> Option<OwnedFd> {
    let fd = crate::sys::socket(domain, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, protocol);
    // SAFETY: a fresh descriptor, owned by nobody else.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hop_limits_are_refused_and_common_options_are_not() {
        let refused = this_kernel();
        if socket(libc::AF_INET, libc::IPPROTO_MPTCP).is_none() {
            assert!(refused.is_empty());
            return;
        }
        // Refused by every kernel this project knows (docs/options/).
        assert!(
            refused.contains(&(libc::IPPROTO_IP, libc::IP_TTL)),
            "{refused:?}"
        );
        assert!(
            refused.contains(&(libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS)),
            "{refused:?}"
        );
        for common in [
            (libc::SOL_SOCKET, libc::SO_REUSEADDR),
            (libc::SOL_SOCKET, libc::SO_KEEPALIVE),
            (libc::IPPROTO_TCP, libc::TCP_NODELAY),
        ] {
            assert!(!refused.contains(&common), "{common:?} in {refused:?}");
        }
    }
}
