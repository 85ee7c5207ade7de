//! The direction modes: MPTCP for listeners only (`listen`, Go 1.24's default) or for outgoing
//! connections only (`connect`).
//!
//! `socket()` cannot know which a socket will be; `listen()` can. In `listen` mode sockets are
//! made TCP (outgoing connections pay nothing extra) and a listener is switched to MPTCP at
//! `listen()`; in `connect` mode sockets are made MPTCP and a listener is switched back to TCP.
//! Both switches go through [`crate::switch`] and its rules. `listen()` is the cold path. A switch
//! that cannot be made leaves the socket as it is: to MPTCP, it stays a working TCP listener (for
//! example when the program set an option MPTCP refuses, or an MD5 key); to TCP, it stays an
//! MPTCP listener, which still accepts plain TCP clients.

use crate::config::Mode;
use crate::fallback::AVAILABILITY;
use crate::logging::{debug, info};
use crate::setup;
use crate::sys::{self, Errno};
use crate::{behaviour, switch, tracked};
use libc::{IPPROTO_MPTCP, IPPROTO_TCP, SOL_SOCKET, c_int};

/// `listen()`, with the socket first switched to the protocol the mode wants for listeners.
pub fn listen(fd: c_int, backlog: c_int) -> Result<(), Errno> {
    let wanted = match setup::mode() {
        Mode::Listen => Some(IPPROTO_MPTCP),
        Mode::Connect => Some(IPPROTO_TCP),
        Mode::Off | Mode::On | Mode::Force => None,
    };
    if let Some(protocol) = wanted
        && tracked::is_rewritable(fd)
    {
        if protocol == IPPROTO_MPTCP && behaviour::keeps_tcp(fd) {
            info!(
                "listen(fd {fd}): stays TCP: its receive buffer is one this kernel's MPTCP \
                 stalls transfers into"
            );
        } else {
            sys::keeping_errno(|| switch(fd, protocol));
        }
    }
    let before = tracked::entering(fd);
    let result = sys::next_listen(fd, backlog);
    if before & tracked::OURS != 0 {
        sys::keeping_errno(|| tracked::inside(fd, false));
    }
    if before & tracked::COMMITTED != 0 && result.is_ok() {
        // Another thread was switching this socket: if our listen() reached the socket it then
        // kept aside, listen again on the one now behind the number.
        if sys::tcp_state(fd) != Ok(LISTEN) {
            return sys::next_listen(fd, backlog);
        }
    }
    result
}

/// The state of a listening socket.
const LISTEN: u8 = 10;

/// Puts a socket of `protocol` behind `fd` if it is not one already; never fails the caller.
fn switch(fd: c_int, protocol: c_int) {
    let Ok(current) = sys::get_int_option(fd, SOL_SOCKET, libc::SO_PROTOCOL) else {
        return;
    };
    if current == protocol {
        return;
    }
    let name = sys::Name(if protocol == IPPROTO_MPTCP {
        "MPTCP"
    } else {
        "TCP"
    });
    if protocol == IPPROTO_MPTCP {
        let domain = sys::get_int_option(fd, SOL_SOCKET, libc::SO_DOMAIN).unwrap_or(0);
        if !AVAILABILITY.should_try(domain, sys::monotonic_ms) {
            debug!("listen(fd {fd}): MPTCP known unavailable, stays TCP");
            return;
        }
    }
    match switch::to(fd, protocol) {
        Ok(()) => debug!("listen(fd {fd}): now {name}"),
        Err(reason) => info!(
            "listen(fd {fd}): not switched to {name} ({}); listening as it is",
            reason
        ),
    }
}
