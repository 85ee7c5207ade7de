//! What happens to descriptors between `socket()` and a switch, kept in [`crate::tracked`].
//!
//! A switch must know that a number still holds the socket we made, that the socket never began
//! to connect or listen, and that no other process may hold it. The kernel does not say, so the
//! hooks of `connect`, `accept`, `accept4`, `shutdown`, `close`, `close_range`, `closefrom`,
//! `dup`, `dup2`, `dup3`, `fcntl(F_DUPFD…)`, `sendmsg`, `sendmmsg`, `sendto`, `system`, `popen` and
//! `posix_spawn(p)` report here, and `fork()` is watched with `pthread_atfork`. Each costs one
//! relaxed load when the number is not one of ours; nothing here allocates, locks or changes
//! errno. A connection accepted on our listener becomes ours too (never switched, but answering
//! refused options as [`crate::established`] says).

use crate::logging::info;
use crate::tracked::{self, COMMITTED, OURS};
use crate::{advisory, established, switch, sys};
use core::sync::atomic::{AtomicBool, Ordering};
use libc::{c_int, c_uint};

/// The state of a socket that never connected (or whose connection is over).
const TCP_CLOSE: u8 = 7;

/// `connect(fd)` through `call`: the socket has started, and a thread is inside `connect()` on
/// it until the call returns. A switch that had not committed when the call began never will
/// ([`tracked::commit_switch`]). In the rare case that one had, and the connection went to the
/// socket it kept aside, connect the one now behind the number instead.
pub fn connect(fd: c_int, call: impl Fn() -> c_int) -> c_int {
    let before = tracked::entering(fd);
    let result = call();
    if before & OURS != 0 {
        sys::keeping_errno(|| tracked::inside(fd, false));
    }
    if before & COMMITTED == 0 {
        return result;
    }
    let errno = sys::errno();
    let began = result == 0 || errno == libc::EINPROGRESS;
    if began && sys::keeping_errno(|| sys::tcp_state(fd)) == Ok(TCP_CLOSE) {
        return call();
    }
    sys::set_errno(errno);
    result
}

/// `accept(listener)` returned `fd` (or `-1`). A plain TCP connection (the peer did not speak
/// MPTCP) is given for real the options its listener only remembered, as TCP would have passed
/// them on.
#[inline(always)]
pub fn accepted(listener: c_int, fd: c_int) {
    if fd < 0 {
        return;
    }
    let inherited = tracked::accepted(listener, fd);
    if inherited != 0 {
        sys::keeping_errno(|| apply_inherited(listener, fd, inherited));
    }
}

/// The connection `fd` inherits the answered options and advisory values of `bits` from its
/// `listener`; on a plain TCP `fd` they are set for real (its MPTCP listener refused them).
#[cold]
fn apply_inherited(listener: c_int, fd: c_int, bits: tracked::Flags) {
    advisory::copy(listener, fd, bits);
    if sys::get_int_option(fd, libc::SOL_SOCKET, libc::SO_PROTOCOL) != Ok(libc::IPPROTO_TCP) {
        return;
    }
    for &(level, name) in established::ANSWERED {
        if established::answered_bit(level, name).is_some_and(|bit| bits & bit != 0) {
            let _ = sys::set_int_option(fd, level, name, 1);
        }
    }
    advisory::each_kept(fd, |level, name, value| {
        // A kept receive buffer is what TCP reads back: twice what it was given.
        let value = if (level, name) == (libc::SOL_SOCKET, libc::SO_RCVBUF) {
            value / 2
        } else {
            value
        };
        let _ = sys::set_int_option(fd, level, name, value);
    });
}

/// `shutdown(fd)`: the shut-down state lives on the socket and would not be carried.
pub fn shutting_down(fd: c_int) {
    tracked::started(fd);
}

/// `system`, `popen`, `posix_spawn(p)`: the child may inherit every socket (glibc runs no
/// `pthread_atfork` handler for them).
pub fn spawning() {
    tracked::forget_all();
}

/// `close(fd)`.
#[inline(always)]
pub fn closed(fd: c_int) {
    tracked::closed(fd);
}

/// `close_range(first, last, flags)` (only marking close-on-exec closes nothing).
pub fn closed_range(first: c_uint, last: c_uint, flags: c_int) {
    if flags & libc::CLOSE_RANGE_CLOEXEC as c_int == 0 {
        tracked::closed_range(first, last);
    }
}

/// `dup*(old)` returned `new` (or `-1`): the same socket under another number.
pub fn duplicated(old: c_int, new: c_int) {
    if new >= 0 && new != old {
        tracked::duplicated(old, new);
        let advisory_bits = tracked::flags(new) & tracked::ADVISORY_BITS;
        if advisory_bits != 0 {
            advisory::copy(old, new, advisory_bits);
        }
    }
}

/// `sendto`/`sendmsg` on `fd` with `flags`: `MSG_FASTOPEN` connects.
pub fn sending(fd: c_int, flags: c_int) {
    if flags & libc::MSG_FASTOPEN != 0 {
        tracked::started(fd);
    }
}

/// A message about to be sent: a socket of ours it carries (`SCM_RIGHTS`) that never connected
/// or listened becomes TCP first ([`leaving`]).
///
/// # Safety
/// `message` is the caller's `msghdr`, read here before the kernel reads it: a pointer the kernel
/// would refuse with `EFAULT` faults here instead (as with musl, whose `sendmsg` copies it too).
/// A null pointer is left to the kernel.
pub unsafe fn sending_descriptors(fd: c_int, message: *const libc::msghdr) {
    // SAFETY: the caller's message, see above.
    unsafe { each_sent_descriptor(message, |sent| leaving(sent, Way::Sent(fd))) };
}

/// `exec*()`: the new program keeps every socket that is not close-on-exec, but its copy of the
/// library never made them; each of ours that never connected or listened becomes TCP first
/// ([`leaving`]).
pub fn executing() {
    tracked::each_leaving(|fd| {
        let inherited = sys::keeping_errno(|| sys::fcntl_get(fd, libc::F_GETFD))
            .is_ok_and(|fd_flags| fd_flags & libc::FD_CLOEXEC == 0);
        if inherited {
            leaving(fd, Way::Exec);
        }
    });
}

/// How a socket leaves our sight.
#[derive(Clone, Copy)]
enum Way {
    /// Sent with `SCM_RIGHTS` over this descriptor.
    Sent(c_int),
    /// Kept across `exec`.
    Exec,
}

impl core::fmt::Display for Way {
    fn fmt(&self, out: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Way::Sent(over) => write!(out, "sendmsg(fd {over}) gives it to another process"),
            Way::Exec => out.write_str("exec keeps it for the new program"),
        }
    }
}

/// Socket `fd` leaves the process that made it (or this image of it) before it connected or
/// listened. Where it goes, it is not ours, so an option MPTCP refuses there could not be
/// answered by a switch (a privilege-separated daemon passes its listener to a chrooted worker,
/// which sets `IP_TTL`): an MPTCP socket of ours becomes TCP now, if that is invisible. MPTCP
/// lost is better than an error TCP would not give. The log says which happened.
fn leaving(fd: c_int, way: Way) {
    if !tracked::leaving_rewritable(tracked::flags(fd)) {
        return;
    }
    sys::keeping_errno(|| {
        if sys::get_int_option(fd, libc::SOL_SOCKET, libc::SO_PROTOCOL) != Ok(libc::IPPROTO_MPTCP) {
            return; // already TCP (the listen mode)
        }
        match switch::to_before_leaving(fd, libc::IPPROTO_TCP) {
            Ok(()) => info!(
                "fd {fd} had not connected or listened and {way}: it is now TCP, so that an \
                 option MPTCP refuses there works"
            ),
            Err(reason) => {
                info!("fd {fd} had not connected or listened and {way}; it stays MPTCP: {reason}")
            }
        }
    });
}

/// A message sent successfully: sockets it carried (`SCM_RIGHTS`) may be held by another process.
///
/// # Safety
/// `message` is a `msghdr` the kernel has just read in full (the call succeeded).
pub unsafe fn sent_descriptors(message: *const libc::msghdr) {
    // SAFETY: the caller says the message and its control data are readable.
    unsafe { each_sent_descriptor(message, tracked::shared) };
}

/// Calls `each` with every descriptor number of the `SCM_RIGHTS` messages in `message`'s control
/// data. A null `message` has none.
///
/// # Safety
/// `message`, if not null, and its control data are readable.
unsafe fn each_sent_descriptor(message: *const libc::msghdr, mut each: impl FnMut(c_int)) {
    if message.is_null() {
        return;
    }
    // SAFETY: the caller says the message is readable.
    let message = unsafe { &*message };
    if message.msg_control.is_null() || message.msg_controllen == 0 {
        return;
    }
    // SAFETY: the CMSG_* walk stays within msg_control/msg_controllen, which are readable.
    let mut header = unsafe { libc::CMSG_FIRSTHDR(message) };
    while !header.is_null() {
        // SAFETY: a non-null header from CMSG_FIRSTHDR/CMSG_NXTHDR lies within the control data.
        let cmsg = unsafe { &*header };
        if cmsg.cmsg_level == libc::SOL_SOCKET && cmsg.cmsg_type == libc::SCM_RIGHTS {
            // SAFETY: CMSG_LEN(0) is the header's size, a small constant.
            let data_len =
                (cmsg.cmsg_len as usize).saturating_sub(unsafe { libc::CMSG_LEN(0) } as usize);
            // SAFETY: the data of an SCM_RIGHTS message is an array of ints after the header.
            let data = unsafe { libc::CMSG_DATA(header) };
            for i in 0..data_len / size_of::<c_int>() {
                // SAFETY: i is within the data; it may be unaligned, so read it unaligned.
                each(unsafe { data.cast::<c_int>().add(i).read_unaligned() });
            }
        }
        // SAFETY: as above; returns null past the end.
        header = unsafe { libc::CMSG_NXTHDR(message, header) };
    }
}

/// Watches `fork()` from now on: parent and child then share every socket, so none may be
/// switched. Called once at set-up (before any socket is ours); later calls do nothing.
pub fn watch_forks() {
    static WATCHING: AtomicBool = AtomicBool::new(false);
    if WATCHING.swap(true, Ordering::Relaxed) {
        return;
    }
    extern "C" fn forking() {
        tracked::forget_all();
    }
    // SAFETY: the handlers are plain functions of this library, which is never unloaded (a
    // preload); they touch only atomics, as async-signal-safe code in a forked child must.
    unsafe { libc::pthread_atfork(Some(forking), Some(forking), Some(forking)) };
}
