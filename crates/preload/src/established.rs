//! What a program is answered when MPTCP refuses an option on a socket of ours that can no longer
//! be switched: it connected, listens, or was accepted from one of our listeners.
//!
//! Measured per state in `docs/options/<kernel>.txt` (`examples/optiontable.rs`). Without us, the
//! program would have had a TCP socket, and TCP takes every one of these options. The answers, in
//! the order [`crate::sockopt`] tries them:
//! 1. **Nothing to change.** A value equal to what the socket reports, or to what a fresh TCP
//!    socket reports, changes nothing: success. (A runtime that copies a listener's options onto
//!    each accepted socket sets, for most of them, the value that socket already has.)
//! 2. **Nothing MPTCP can do differently.** The options of [`ANSWERED`] only ask for something an
//!    MPTCP connection never does or TCP never delivers on a stream socket (urgent data, ancillary
//!    data that `recvmsg()` on TCP never returns): the value is remembered per descriptor (in
//!    [`crate::tracked`]), answered back by `getsockopt()`, inherited by accepted sockets, and
//!    the call succeeds.
//!    Int options of the same kind ([`ANSWERED_INTS`]: `IP_LOCAL_PORT_RANGE`, which acts only
//!    at `bind()`/`connect()`) are kept with their value.
//! 3. **The call overlapped a `connect()`/`listen()` in another thread** that made a switch
//!    impossible: the program gets what TCP would have answered (the option's result on a fresh
//!    TCP socket), since the order of the two calls was its own scheduler's choice.
//!
//! The refusals: ENOPROTOOPT or EOPNOTSUPP for options MPTCP never takes, EINVAL after the start
//! for those it passes to its first subflow only while unconnected or listening ([`BIND_TIME`]).
//! 4. **Anything else** keeps the kernel's error and one warning per process: success would be a
//!    lie (`IP_TTL`, `TCP_USER_TIMEOUT`, `SO_BINDTODEVICE` after connect… change what the
//!    connection does). docs/limitations.md lists them.

use crate::sys;
use crate::tracked::{ANSWERED_SHIFT, Flags};
use libc::{IPPROTO_IP, IPPROTO_IPV6, SOL_SOCKET, c_int};

/// The options answered from memory on a socket MPTCP keeps, each with its reason (Linux's
/// numbers: asm-generic/socket.h, in.h, in6.h). Booleans whose TCP default is off, so one bit
/// holds the value. At most 32 rows (the bits of [`crate::tracked::ANSWERED_BITS`]).
pub const ANSWERED: &[(c_int, c_int)] = &[
    // Used by bind() and connect(), both past for a connected socket; MPTCP takes them until then
    // (see BIND_TIME), and a listener's own setting, passed to its subflow, governs the ports of
    // the connections it accepts.
    (SOL_SOCKET, libc::SO_REUSEADDR),
    (SOL_SOCKET, libc::SO_REUSEPORT),
    (IPPROTO_IP, libc::IP_FREEBIND),
    (IPPROTO_IP, libc::IP_TRANSPARENT),
    (IPPROTO_IP, libc::IP_BIND_ADDRESS_NO_PORT),
    (IPPROTO_IPV6, libc::IPV6_FREEBIND),
    (IPPROTO_IPV6, libc::IPV6_TRANSPARENT),
    // Urgent data inline: MPTCP has no urgent data (RFC 8684 carries none), so the setting can
    // change nothing the program will see.
    (SOL_SOCKET, libc::SO_OOBINLINE),
    // Locks the socket's filter; MPTCP refuses every filter anyway.
    (SOL_SOCKET, libc::SO_LOCK_FILTER),
    // SO_MARK as ancillary data: TCP's recvmsg() never returns it.
    (SOL_SOCKET, 75),
    // IPv4 ancillary data that TCP's recvmsg() never returns (ip(7): "datagram sockets" only):
    (IPPROTO_IP, libc::IP_PKTINFO),
    (IPPROTO_IP, libc::IP_RECVTTL),
    (IPPROTO_IP, libc::IP_RECVTOS),
    (IPPROTO_IP, libc::IP_RECVOPTS),
    (IPPROTO_IP, libc::IP_RETOPTS),
    (IPPROTO_IP, libc::IP_RECVORIGDSTADDR),
    (IPPROTO_IP, libc::IP_PASSSEC),
    (IPPROTO_IP, libc::IP_CHECKSUM),
    // Extends IP_RECVERR's reports, which MPTCP refuses to enable.
    (IPPROTO_IP, 26),
    // IPv6 ancillary data: TCP's recvmsg() never returns it (only the obsolete
    // getsockopt(IPV6_2292PKTOPTIONS) reads what TCP saved, and MPTCP refuses that read).
    (IPPROTO_IPV6, libc::IPV6_RECVPKTINFO),
    (IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT),
    (IPPROTO_IPV6, libc::IPV6_RECVRTHDR),
    (IPPROTO_IPV6, libc::IPV6_RECVHOPOPTS),
    (IPPROTO_IPV6, libc::IPV6_RECVDSTOPTS),
    (IPPROTO_IPV6, libc::IPV6_RECVTCLASS),
    (IPPROTO_IPV6, libc::IPV6_RECVPATHMTU),
    (IPPROTO_IPV6, libc::IPV6_RECVORIGDSTADDR),
    (IPPROTO_IPV6, libc::IPV6_RECVFRAGSIZE),
    (IPPROTO_IPV6, libc::IPV6_FLOWINFO),
    // Extends IPV6_RECVERR's reports, which MPTCP refuses to enable.
    (IPPROTO_IPV6, 31),
];

/// Int options answered from memory on a socket MPTCP keeps: they act only when the socket binds
/// or connects, so once it has started TCP takes them and they change nothing; the value is kept
/// in [`crate::advisory`]'s table (a row each, in its `OTHER_ROWS`), read back and inherited like
/// [`ANSWERED`].
/// `IP_LOCAL_PORT_RANGE` (51, not in the libc crate): 6.1's MPTCP refuses it in every state
/// (ENOPROTOOPT), 6.12 and later with EINVAL after the start.
pub const ANSWERED_INTS: &[(c_int, c_int)] = &[(IPPROTO_IP, 51)];

/// The options MPTCP takes only while a socket is unconnected or listening (they go to its first
/// subflow): afterwards it refuses them with EINVAL where TCP takes them. Other EINVALs are TCP's
/// own (a bad value, or `IPV6_V6ONLY` and `TCP_FASTOPEN*` after connect, which TCP refuses too).
pub const BIND_TIME: &[(c_int, c_int)] = &[
    (SOL_SOCKET, libc::SO_REUSEADDR),
    (SOL_SOCKET, libc::SO_REUSEPORT),
    (SOL_SOCKET, libc::SO_BINDTODEVICE),
    (SOL_SOCKET, libc::SO_BINDTOIFINDEX),
    (IPPROTO_IP, libc::IP_FREEBIND),
    (IPPROTO_IP, libc::IP_TRANSPARENT),
    (IPPROTO_IP, libc::IP_BIND_ADDRESS_NO_PORT),
    (IPPROTO_IP, 51), // IP_LOCAL_PORT_RANGE
    (IPPROTO_IPV6, libc::IPV6_FREEBIND),
    (IPPROTO_IPV6, libc::IPV6_TRANSPARENT),
];

/// Whether MPTCP refused option `(level, name)` with `errno` as it refuses what TCP would take:
/// ENOPROTOOPT or EOPNOTSUPP (the errno depends on option and kernel), or EINVAL for the
/// [`BIND_TIME`] options.
pub fn refused_by_mptcp(errno: c_int, level: c_int, name: c_int) -> bool {
    errno == libc::ENOPROTOOPT
        || errno == libc::EOPNOTSUPP
        || (errno == libc::EINVAL && BIND_TIME.contains(&(level, name)))
}

/// The errno TCP gives for option `(level, name)` set to `value` on a socket that has started
/// (connected, accepted or listening), where a fresh TCP socket (the probe of
/// [`crate::sockopt`]) takes it: `TCP_WINDOW_CLAMP` 0 means "back to the default", which TCP
/// allows only while unconnected.
pub fn tcp_refuses_once_started(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: Option<c_int>,
) -> Option<c_int> {
    match (level, name) {
        (libc::IPPROTO_TCP, libc::TCP_WINDOW_CLAMP) if value == Some(0) => Some(libc::EINVAL),
        // TCP takes Fast Open settings on a listener or before it connects, never on a connection
        // (EINVAL); 6.1's MPTCP refuses them in every state with ENOPROTOOPT.
        (libc::IPPROTO_TCP, libc::TCP_FASTOPEN | libc::TCP_FASTOPEN_NO_COOKIE)
            if sys::get_int_option(fd, libc::SOL_SOCKET, libc::SO_ACCEPTCONN) == Ok(0)
                && sys::keeping_errno(|| sys::has_peer(fd)) =>
        {
            Some(libc::EINVAL)
        }
        _ => None,
    }
}

/// The bit that remembers option `(level, name)`, if it is one of [`ANSWERED`].
pub fn answered_bit(level: c_int, name: c_int) -> Option<Flags> {
    let index = ANSWERED
        .iter()
        .position(|&option| option == (level, name))?;
    Some(1 << (ANSWERED_SHIFT + index as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answered_option_has_its_own_bit() {
        assert!(ANSWERED.len() <= 32, "ANSWERED_BITS holds 32");
        let mut seen: Flags = 0;
        for &(level, name) in ANSWERED {
            let bit = answered_bit(level, name).unwrap();
            assert_eq!(seen & bit, 0, "{level}/{name} twice");
            seen |= bit;
        }
        assert!(answered_bit(SOL_SOCKET, libc::SO_OOBINLINE).is_some());
        assert_eq!(
            answered_bit(libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT),
            None
        );
        assert_eq!(answered_bit(IPPROTO_IP, libc::IP_TTL), None);
        assert!(refused_by_mptcp(
            libc::ENOPROTOOPT,
            libc::IPPROTO_TCP,
            libc::TCP_USER_TIMEOUT
        ));
        assert!(refused_by_mptcp(libc::EOPNOTSUPP, IPPROTO_IP, libc::IP_TTL));
        assert!(refused_by_mptcp(
            libc::EINVAL,
            SOL_SOCKET,
            libc::SO_REUSEADDR
        ));
        assert!(!refused_by_mptcp(
            libc::EINVAL,
            IPPROTO_IPV6,
            libc::IPV6_V6ONLY
        ));
        assert!(!refused_by_mptcp(
            libc::EINVAL,
            libc::IPPROTO_TCP,
            libc::TCP_FASTOPEN
        ));
        assert!(!refused_by_mptcp(
            libc::EPERM,
            SOL_SOCKET,
            libc::SO_REUSEADDR
        ));
    }
}
