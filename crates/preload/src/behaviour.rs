//! Avoids what the kernel's MPTCP does unlike TCP, where the program announces it
//! ([`mptcpize_core::behaviour`] says which kernels, and why).
//!
//! A receive buffer set by the program on an affected kernel stalls MPTCP transfers into it.
//! A socket of ours that may still be switched becomes TCP at once under [`crate::switch`]'s
//! rules (in `on` and `connect` modes, where it is MPTCP; the buffer then applies as the program
//! asked), and in `listen` mode it is marked so that `listen()` leaves it TCP
//! ([`tracked::SLOW_BUFFER`]). An MPTCP socket of ours that has started (connected, accepted,
//! listening: asyncio's servers set the buffer after `listen()`) cannot become TCP, and does not
//! get a buffer smaller than the one it has: the call answers as TCP answers, the kernel
//! keeps sizing the buffer itself (no stall), and the value TCP would read back is kept for
//! `getsockopt()` and inherited by accepted sockets ([`crate::advisory`], row `SO_RCVBUF`). What
//! the program loses there: the cap on the buffer (more memory per connection, a peer sends
//! more before it blocks) — the lesser difference than transfers 100 times slower. A larger
//! buffer than the socket has goes on (a program may rely on the room: one that writes all it
//! has before it reads deadlocks in less), with the kernel's rarer, shorter stalls with large
//! buffers (docs/limitations.md). `force`, the
//! kernel's MPTCP as it is, keeps its sockets (which are not ours) and their stall.
//!
//! Only `setsockopt(SO_RCVBUF | SO_RCVBUFFORCE)` pays anything: the release is read once
//! (`uname`) and kept in one atomic.

use crate::config::Mode;
use crate::logging::info;
use crate::sys::{Errno, OwnedFd};
use crate::{advisory, setup, switch, sys, tracked};
use core::sync::atomic::{AtomicU32, Ordering};
use libc::{IPPROTO_MPTCP, IPPROTO_TCP, SOL_SOCKET, c_int};
use mptcpize_core::behaviour;

/// The release, once read: `major << 16 | minor`, plus [`READ`]; 0 before.
static RELEASE: AtomicU32 = AtomicU32::new(0);
const READ: u32 = 1 << 31;

/// The running kernel's release (read once; an unreadable one counts as unaffected: `(0, 0)`).
fn release() -> behaviour::Release {
    let mut known = RELEASE.load(Ordering::Relaxed);
    if known == 0 {
        let (major, minor) = sys::keeping_errno(sys::kernel_release).unwrap_or((0, 0));
        known = READ | (major.min(0x7fff) << 16) | minor.min(0xffff);
        RELEASE.store(known, Ordering::Relaxed);
    }
    ((known & !READ) >> 16, known & 0xffff)
}

/// After a successful `setsockopt()` of `(level, name)` on `fd`: a receive buffer
/// this kernel's MPTCP is slow with keeps the socket on TCP, when that cannot be noticed.
pub fn option_set(fd: c_int, level: c_int, name: c_int) {
    if level != SOL_SOCKET || !(name == libc::SO_RCVBUF || name == libc::SO_RCVBUFFORCE) {
        return;
    }
    let flags = tracked::flags(fd);
    if flags & tracked::OURS == 0 || setup::mode() == Mode::Force {
        return;
    }
    if !tracked::rewritable(flags) {
        return;
    }
    let slow = behaviour::slow_receive_buffer(release());
    tracked::remember(fd, tracked::SLOW_BUFFER, slow);
    if !slow || sys::get_int_option(fd, SOL_SOCKET, libc::SO_PROTOCOL) != Ok(IPPROTO_MPTCP) {
        return;
    }
    let errno = sys::errno();
    match switch::to(fd, IPPROTO_TCP) {
        Ok(()) => info!(
            "setsockopt(fd {fd}, SO_RCVBUF): this kernel's MPTCP stalls transfers into a receive \
             buffer the program set: fd {fd} is now TCP"
        ),
        Err(reason) => info!(
            "setsockopt(fd {fd}, SO_RCVBUF): this kernel's MPTCP stalls transfers into a receive \
             buffer the program set, but fd {fd} stays MPTCP ({reason})"
        ),
    }
    sys::set_errno(errno);
}

/// `setsockopt(SO_RCVBUF | SO_RCVBUFFORCE)` on a started MPTCP socket of ours, on a kernel that
/// stalls with it: the answer TCP gives,
/// with the value kept instead of passed on. `None` when the call goes to the kernel as it is.
///
/// # Safety
/// `value`/`len` are the caller's: `len` readable bytes at `value`.
pub unsafe fn kept_receive_buffer(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const libc::c_void,
    len: libc::socklen_t,
) -> Option<Result<(), Errno>> {
    if level != SOL_SOCKET || !(name == libc::SO_RCVBUF || name == libc::SO_RCVBUFFORCE) {
        return None;
    }
    let flags = tracked::flags(fd);
    if flags & tracked::OURS == 0
        || tracked::rewritable(flags)
        || !behaviour::slow_receive_buffer(release())
    {
        return None;
    }
    let errno = sys::errno();
    let answer = sys::keeping_errno(|| {
        if sys::get_int_option(fd, SOL_SOCKET, libc::SO_PROTOCOL) != Ok(IPPROTO_MPTCP) {
            return None;
        }
        let row = advisory::row(SOL_SOCKET, libc::SO_RCVBUF)?;
        let domain = sys::get_int_option(fd, SOL_SOCKET, libc::SO_DOMAIN).ok()?;
        let probe = sys::next_socket(domain, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, IPPROTO_TCP);
        let probe = OwnedFd(probe.ok()?);
        // SAFETY: the caller's own value and length, tried on a throw-away TCP socket: TCP's
        // own errors (a short length, SO_RCVBUFFORCE without the capability) are the answer.
        if let Err(tcp_errno) = unsafe { sys::next_setsockopt(probe.0, level, name, value, len) } {
            return Some(Err(tcp_errno));
        }
        let reads = sys::get_int_option(probe.0, SOL_SOCKET, libc::SO_RCVBUF).ok()?;
        // A buffer larger than the one the kernel has now goes on: a program may need the room
        // (one that writes all before it reads would deadlock in less), and stalls are rarer.
        let has = sys::get_int_option(fd, SOL_SOCKET, libc::SO_RCVBUF).ok()?;
        if reads > has {
            advisory::forget(fd, row);
            return None;
        }
        if !advisory::keep(fd, row, reads) {
            return None;
        }
        info!(
            "setsockopt(fd {fd}, SO_RCVBUF): this kernel's MPTCP stalls transfers into a receive \
             buffer the program set, and fd {fd} stays MPTCP: the kernel keeps sizing it, \
             getsockopt reads {reads}"
        );
        Some(Ok(()))
    });
    if let Some(Err(tcp_errno)) = answer {
        sys::set_errno(tcp_errno);
    } else {
        sys::set_errno(errno);
    }
    answer
}

/// Whether `listen()` must leave `fd` on TCP in `listen` mode: the program set a receive buffer
/// this kernel's MPTCP is slow with.
pub fn keeps_tcp(fd: c_int) -> bool {
    tracked::flags(fd) & tracked::SLOW_BUFFER != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_release_is_read_once_and_kept() {
        let first = release();
        assert_eq!(release(), first);
        assert_ne!(RELEASE.load(Ordering::Relaxed), 0);
    }
}
