//! Replace the socket behind a descriptor with one of the other protocol (MPTCP ↔ TCP), carrying
//! what the program set up, so that the program never notices.
//!
//! Used by the socket-option fallback ([`crate::sockopt`]) and the direction modes
//! ([`crate::direction`]); only for an unconnected, non-listening stream socket (`TCP_CLOSE`).
//!
//! What is carried: file status flags (`O_NONBLOCK`…), `FD_CLOEXEC`, every option of [`CARRIED`]
//! whose value differs from a fresh socket's default, and the bound address (port included, so a
//! port the program read with `getsockname()` stays true). Options are read back from the kernel,
//! not recorded as the program sets them: no per-fd table, nothing on the hot path.
//!
//! Error story: any step that fails (the new socket cannot be made, an option the program changed
//! cannot be read or set on the new socket, the address cannot be bound) closes what we made and
//! returns the errno; the program's descriptor still holds its original socket, untouched. The
//! last step, `dup3()`, atomically swaps the descriptor: there is never a closed or half-made fd.
//! Incomplete list: an option outside [`CARRIED`] that the program changed is lost; the list
//! covers the options of socket(7), tcp(7), ip(7) and ipv6(7) that apply before connecting.
//! Threads: another thread using the descriptor during a swap sees the old socket until `dup3()`
//! and the new one after; an option it sets on the old socket in between is lost, as with any
//! `dup2()` race. Fork: the swap touches only this process's descriptor table.

use crate::sys::{self, Errno, OwnedFd};
use libc::c_int;

/// The state a socket must be in to be replaced: neither connected, connecting nor listening.
const TCP_CLOSE: u8 = 7;

/// How an option's value reads back.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Value {
    /// Reads back as set.
    Plain,
    /// `SO_RCVBUF`/`SO_SNDBUF`: the kernel doubles what it is given.
    Doubled,
}

/// An option to carry: level, name, how its value reads back.
struct Carried(c_int, c_int, Value);

/// `SO_BINDTOIFINDEX`, from asm-generic/socket.h (Linux ≥ 5.0; not in `libc`).
const SO_BINDTOIFINDEX: c_int = 62;
/// `IP_LOCAL_PORT_RANGE`, from linux/in.h (Linux ≥ 6.3; not in `libc`).
const IP_LOCAL_PORT_RANGE: c_int = 51;

use Value::{Doubled, Plain};
use libc::{IPPROTO_IP, IPPROTO_IPV6, IPPROTO_TCP, SOL_SOCKET};

/// The options carried across a swap, in the order they are applied (IPV6_V6ONLY and the
/// reuse/bind options before the address is bound). Options a socket cannot read are skipped:
/// the kernel refuses to read what it also refuses to set, except on the other protocol, where
/// the value then stays at its default.
const CARRIED: &[Carried] = &[
    Carried(IPPROTO_IPV6, libc::IPV6_V6ONLY, Plain),
    Carried(SOL_SOCKET, libc::SO_REUSEADDR, Plain),
    Carried(SOL_SOCKET, libc::SO_REUSEPORT, Plain),
    Carried(SOL_SOCKET, SO_BINDTOIFINDEX, Plain),
    Carried(SOL_SOCKET, libc::SO_MARK, Plain),
    Carried(IPPROTO_IP, libc::IP_FREEBIND, Plain),
    Carried(IPPROTO_IP, libc::IP_TRANSPARENT, Plain),
    Carried(IPPROTO_IP, libc::IP_BIND_ADDRESS_NO_PORT, Plain),
    Carried(IPPROTO_IP, IP_LOCAL_PORT_RANGE, Plain),
    Carried(IPPROTO_IPV6, libc::IPV6_FREEBIND, Plain),
    Carried(IPPROTO_IPV6, libc::IPV6_TRANSPARENT, Plain),
    Carried(SOL_SOCKET, libc::SO_KEEPALIVE, Plain),
    Carried(SOL_SOCKET, libc::SO_RCVBUF, Doubled),
    Carried(SOL_SOCKET, libc::SO_SNDBUF, Doubled),
    Carried(SOL_SOCKET, libc::SO_PRIORITY, Plain),
    Carried(SOL_SOCKET, libc::SO_LINGER, Plain),
    Carried(SOL_SOCKET, libc::SO_RCVLOWAT, Plain),
    Carried(SOL_SOCKET, libc::SO_RCVTIMEO, Plain),
    Carried(SOL_SOCKET, libc::SO_SNDTIMEO, Plain),
    Carried(SOL_SOCKET, libc::SO_OOBINLINE, Plain),
    Carried(SOL_SOCKET, libc::SO_ZEROCOPY, Plain),
    Carried(IPPROTO_IP, libc::IP_TOS, Plain),
    Carried(IPPROTO_IP, libc::IP_TTL, Plain),
    Carried(IPPROTO_IP, libc::IP_MINTTL, Plain),
    Carried(IPPROTO_IP, libc::IP_RECVERR, Plain),
    Carried(IPPROTO_IPV6, libc::IPV6_TCLASS, Plain),
    Carried(IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, Plain),
    Carried(IPPROTO_IPV6, libc::IPV6_RECVERR, Plain),
    Carried(IPPROTO_TCP, libc::TCP_NODELAY, Plain),
    Carried(IPPROTO_TCP, libc::TCP_CORK, Plain),
    Carried(IPPROTO_TCP, libc::TCP_MAXSEG, Plain),
    Carried(IPPROTO_TCP, libc::TCP_KEEPIDLE, Plain),
    Carried(IPPROTO_TCP, libc::TCP_KEEPINTVL, Plain),
    Carried(IPPROTO_TCP, libc::TCP_KEEPCNT, Plain),
    Carried(IPPROTO_TCP, libc::TCP_SYNCNT, Plain),
    Carried(IPPROTO_TCP, libc::TCP_LINGER2, Plain),
    Carried(IPPROTO_TCP, libc::TCP_DEFER_ACCEPT, Plain),
    Carried(IPPROTO_TCP, libc::TCP_WINDOW_CLAMP, Plain),
    Carried(IPPROTO_TCP, libc::TCP_QUICKACK, Plain),
    Carried(IPPROTO_TCP, libc::TCP_CONGESTION, Plain),
    Carried(IPPROTO_TCP, libc::TCP_USER_TIMEOUT, Plain),
    Carried(IPPROTO_TCP, libc::TCP_FASTOPEN, Plain),
    Carried(IPPROTO_TCP, libc::TCP_FASTOPEN_CONNECT, Plain),
    Carried(IPPROTO_TCP, libc::TCP_NOTSENT_LOWAT, Plain),
    Carried(IPPROTO_TCP, libc::TCP_SAVE_SYN, Plain),
];

/// The largest option value carried (`TCP_CONGESTION` is 16 bytes, `SO_LINGER` 8, timeouts 16).
const VALUE_BYTES: usize = 64;

/// Whether `fd` is a stream socket that may be replaced: not connected, connecting or listening.
pub fn is_replaceable(fd: c_int) -> bool {
    // struct tcp_info starts with the u8 tcpi_state; MPTCP sockets report their own state there.
    let mut info = [0u8; 8];
    matches!(sys::get_option(fd, IPPROTO_TCP, libc::TCP_INFO, &mut info), Ok(n) if n >= 1)
        && info[0] == TCP_CLOSE
}

/// Puts a socket of `protocol` behind `fd`, carrying the program's set-up; on failure `fd` is
/// untouched and the errno says why.
pub fn replace(fd: c_int, protocol: c_int) -> Result<(), Errno> {
    let domain = sys::get_int_option(fd, SOL_SOCKET, libc::SO_DOMAIN)?;
    let ty = sys::get_int_option(fd, SOL_SOCKET, libc::SO_TYPE)?;
    let old_protocol = sys::get_int_option(fd, SOL_SOCKET, libc::SO_PROTOCOL)?;
    let status_flags = sys::fcntl_get(fd, libc::F_GETFL)?;
    let fd_flags = sys::fcntl_get(fd, libc::F_GETFD)?;
    // A fresh socket like the old one tells which options the program changed.
    let reference = OwnedFd(sys::next_socket(
        domain,
        ty | libc::SOCK_CLOEXEC,
        old_protocol,
    )?);
    let new = OwnedFd(sys::next_socket(domain, ty | libc::SOCK_CLOEXEC, protocol)?);
    for option in CARRIED {
        carry(option, fd, reference.0, new.0)?;
    }
    rebind(fd, new.0)?;
    sys::set_status_flags(new.0, status_flags)?;
    let cloexec = if fd_flags & libc::FD_CLOEXEC != 0 {
        libc::O_CLOEXEC
    } else {
        0
    };
    sys::dup3(new.0, fd, cloexec)
}

/// Copies one option from `old` to `new` when the program changed it (it differs from
/// `reference`, a fresh socket of the old kind).
fn carry(option: &Carried, old: c_int, reference: c_int, new: c_int) -> Result<(), Errno> {
    let &Carried(level, name, value_kind) = option;
    let mut value = [0u8; VALUE_BYTES];
    let mut default = [0u8; VALUE_BYTES];
    let Ok(len) = sys::get_option(old, level, name, &mut value) else {
        return Ok(()); // unreadable here (another family, or refused by this protocol)
    };
    let Ok(default_len) = sys::get_option(reference, level, name, &mut default) else {
        return Ok(());
    };
    if value[..len] == default[..default_len] {
        return Ok(());
    }
    if value_kind == Doubled && len == size_of::<c_int>() {
        let halved = c_int::from_ne_bytes([value[0], value[1], value[2], value[3]]) / 2;
        return sys::set_int_option(new, level, name, halved);
    }
    let len = if name == libc::TCP_CONGESTION && level == IPPROTO_TCP {
        value[..len].iter().position(|&b| b == 0).unwrap_or(len)
    } else {
        len
    };
    sys::set_option(new, level, name, &value[..len])
}

/// Binds `new` to `old`'s local address when `old` is bound. Both sockets hold the address for
/// a moment, which the kernel allows when both have `SO_REUSEADDR` and neither listens: it is
/// set on both for the `bind()` and put back after.
fn rebind(old: c_int, new: c_int) -> Result<(), Errno> {
    let (address, len) = sys::local_address(old)?;
    if !is_bound(&address) {
        return Ok(());
    }
    let old_reuse = sys::get_int_option(old, SOL_SOCKET, libc::SO_REUSEADDR)?;
    let new_reuse = sys::get_int_option(new, SOL_SOCKET, libc::SO_REUSEADDR)?;
    sys::set_int_option(old, SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    let bound = sys::set_int_option(new, SOL_SOCKET, libc::SO_REUSEADDR, 1)
        .and_then(|()| sys::bind(new, &address, len))
        .and_then(|()| sys::set_int_option(new, SOL_SOCKET, libc::SO_REUSEADDR, new_reuse));
    // Put the program's socket back as it was (it matters when the swap fails).
    let _ = sys::set_int_option(old, SOL_SOCKET, libc::SO_REUSEADDR, old_reuse);
    bound
}

/// Whether a local address is more than the unbound `0.0.0.0:0` / `[::]:0`.
fn is_bound(address: &libc::sockaddr_storage) -> bool {
    match c_int::from(address.ss_family) {
        libc::AF_INET => {
            // SAFETY: ss_family says this storage holds a sockaddr_in.
            let v4 =
                unsafe { &*(address as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            v4.sin_port != 0 || v4.sin_addr.s_addr != 0
        }
        libc::AF_INET6 => {
            // SAFETY: ss_family says this storage holds a sockaddr_in6.
            let v6 = unsafe {
                &*(address as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            v6.sin6_port != 0 || v6.sin6_addr.s6_addr != [0; 16]
        }
        _ => false,
    }
}
