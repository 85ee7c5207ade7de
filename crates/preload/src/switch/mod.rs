//! The switch: the socket behind a descriptor replaced by one of the other protocol (MPTCP ↔ TCP),
//! only when the program cannot tell.
//!
//! Used by the socket-option fallback ([`crate::sockopt`]) and the direction modes
//! ([`crate::direction`]). A switch puts a new open file description behind the program's
//! numbers (`dup3()`), so everything that lives on the old description would silently be gone.
//! **The rule: a switch happens only when it is invisible.** Each item below is checked, in this
//! order, by the code of [`to`]; if any fails there is no switch, the descriptor is untouched
//! and the caller gets the kernel's own answer (the reason is returned for one warning):
//!
//! 1. **Ours, unchanged.** The number came from a `socket()` call we rewrote and still holds that
//!    socket ([`crate::tracked`]: cleared when a number is closed or reused, every number a
//!    process can have), and no switch of it is under way.
//! 2. **Never started.** It never began to connect or listen (a state the hooks record, not
//!    `TCP_CLOSE` alone, which also means "connection over"), and the kernel agrees (`TCP_CLOSE`).
//! 3. **Every reference known.** Every number of this socket in the process is found
//!    (`/proc/self/fd`; without `/proc`, by asking every number below the descriptor limit, and
//!    then no epoll or io_uring descriptor may be open) and switched with it; each must itself
//!    be known to us. If a reference may exist elsewhere (it was inherited by a fork, sent with
//!    `SCM_RIGHTS`, or is inheritable while this process has children), or the process has an
//!    io_uring (whose registered files we cannot see), no switch. One exception, for a socket
//!    about to be sent to another process ([`to_before_leaving`]): one that existed at a fork may
//!    go if it is close-on-exec and no descendant holds it ([`descendants`]).
//! 4. **Everything carried** (by [`carry`]). Readable options of socket(7), tcp(7), and ip(7) or
//!    ipv6(7) by the socket's family (mptcpize-core's `options::CARRIED`), each read back from
//!    the new socket to prove it took; owner and signal (`F_GETOWN_EX`, `F_GETSIG`); file status
//!    flags and each number's `FD_CLOEXEC`; the bound address and port; this process's epoll
//!    registrations with their events and data (`/proc/self/fdinfo`), re-added on the new socket. Options that cannot be read back
//!    (`TCP_MD5SIG`, TCP-AO, attached filters, anything not on our list) are seen by our own
//!    `setsockopt()` hook, which then rules the switch out ([`crate::tracked::UNCARRIED`]).
//! 5. **No race.** Before any number moves, one atomic step commits the switch only if no other
//!    thread began a `connect()` or `listen()`, changed an option, duplicated the socket or forked
//!    since the switch began; otherwise there is no switch, and the option's caller gets what TCP
//!    would have answered ([`crate::sockopt`]). A call that begins after the commit sees it and
//!    goes to the new socket ([`crate::events::connect`]); the old socket is kept until the
//!    numbers have moved, and taken back if such a call reached it in that instant.
//!
//! Cold path only: it runs when MPTCP refuses an option or at `listen()` in a direction mode.
//! One concern per file: this one holds the rules and their order; [`carry`] builds the new
//! socket with everything carried; [`references`] finds every number and epoll registration of
//! the socket (`/proc/self`) and moves them; [`text`] writes and parses the few numbers and paths
//! that takes, without allocating.

mod carry;
mod descendants;
mod references;
mod text;

use crate::sys::{self, Errno};
use crate::tracked::{self, FORKED, INET6, OURS, SWITCHING, UNCARRIED};
use carry::{address_bytes, build};
use libc::{SOL_SOCKET, c_int};
use references::{References, Sight, move_back, move_numbers, register_again, uses_io_uring};

pub use mptcpize_core::options::{Label, carried, option_name};

/// The state of a socket that never connected, or whose connection is over.
const TCP_CLOSE: u8 = 7;

/// Why a socket was not switched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotSwitched {
    /// Not a socket from a `socket()` call we rewrote (the program's own MPTCP socket, say).
    NotOurs,
    /// It started to connect or listen.
    Started,
    /// Another thread is switching it.
    Busy,
    /// An option was set on it that cannot be carried.
    Uncarried,
    /// Another process may hold it (fork, `SCM_RIGHTS`, inherited by a child), or another number
    /// of it is not known to us.
    Shared,
    /// The process has an io_uring, whose registered files we cannot see.
    IoUring,
    /// `/proc` cannot be read and an epoll, io_uring or other anonymous-inode descriptor is open,
    /// which may hold the socket where we cannot look.
    Unseen,
    /// The socket was made in another network namespace or by another user than the one the
    /// new socket would be made in or by.
    Context,
    /// An epoll registration of it could not be found or moved.
    Epoll,
    /// An option could not be carried to the new socket.
    Option(Label),
    /// A step failed with this errno.
    Kernel(Errno),
}

/// A few words for the warning line.
impl core::fmt::Display for NotSwitched {
    fn fmt(&self, out: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        out.write_str(match *self {
            NotSwitched::NotOurs => "it is not a socket we made MPTCP",
            NotSwitched::Started => {
                "it has connected, listened or been shut down, has two descriptors, or another \
                 process may hold it"
            }
            NotSwitched::Busy => "another thread is switching it",
            NotSwitched::Uncarried => "an option set on it cannot be carried",
            NotSwitched::Shared => "another descriptor or process may hold it",
            NotSwitched::IoUring => "the process uses io_uring",
            NotSwitched::Unseen => {
                "/proc cannot be read and an epoll or io_uring descriptor may hold it"
            }
            NotSwitched::Context => "it was made in another network namespace or by another user",
            NotSwitched::Epoll => "its epoll registration cannot be moved",
            NotSwitched::Option(name) => return write!(out, "{name} cannot be carried"),
            NotSwitched::Kernel(errno) => {
                let name = sys::errno_name(errno);
                return if name.0 == "errno" {
                    write!(out, "a step failed (errno {errno})")
                } else {
                    write!(out, "a step failed ({name})")
                };
            }
        })
    }
}

impl From<Errno> for NotSwitched {
    fn from(errno: Errno) -> Self {
        NotSwitched::Kernel(errno)
    }
}

/// The bit that remembers option `(level, name)`, if it is one of mptcpize-core's
/// `options::REMEMBERED` (booleans MPTCP takes but reads back as 0).
pub fn remembered_bit(level: c_int, name: c_int) -> Option<tracked::Flags> {
    let index = mptcpize_core::options::remembered_index(level, name)?;
    Some(1 << (tracked::REMEMBERED_SHIFT + index as u32))
}

/// Puts a socket of `protocol` behind `fd` (and every other number of the same socket) when the
/// program cannot tell; otherwise `fd` is untouched and the reason is returned.
pub fn to(fd: c_int, protocol: c_int) -> Result<(), NotSwitched> {
    switch(fd, protocol, tracked::rewritable)
}

/// As [`to`], for a socket about to be sent to another process (`SCM_RIGHTS`): one that existed
/// at a `fork()` may be switched too, if it is close-on-exec under every number and no
/// descendant of this process holds it.
pub fn to_before_leaving(fd: c_int, protocol: c_int) -> Result<(), NotSwitched> {
    switch(fd, protocol, tracked::leaving_rewritable)
}

fn switch(
    fd: c_int,
    protocol: c_int,
    allowed: fn(tracked::Flags) -> bool,
) -> Result<(), NotSwitched> {
    // Rule 1 (and 5: one switch at a time).
    if !tracked::begin_switch(fd, allowed) {
        return Err(refusal_from_flags(tracked::flags(fd)));
    }
    let _switching = Switching(fd);
    let forked = tracked::flags(fd) & FORKED != 0;
    let inet6 = tracked::flags(fd) & INET6 != 0;
    let domain = sys::get_int_option(fd, SOL_SOCKET, libc::SO_DOMAIN)?;
    let ty = sys::get_int_option(fd, SOL_SOCKET, libc::SO_TYPE)?;
    let old_protocol = sys::get_int_option(fd, SOL_SOCKET, libc::SO_PROTOCOL)?;
    if old_protocol == protocol {
        return Ok(());
    }
    if inet6 != (domain == libc::AF_INET6) || ty != libc::SOCK_STREAM {
        return Err(NotSwitched::NotOurs);
    }
    // Rule 2: the kernel agrees that it never started.
    if sys::tcp_state(fd)? != TCP_CLOSE {
        return Err(NotSwitched::Started);
    }
    // Rule 3: every reference known.
    let (references, sight) = References::find(&sys::stat(fd)?)?;
    if !references.numbers().contains(&fd) {
        return Err(NotSwitched::NotOurs);
    }
    if sight == Sight::Proc && uses_io_uring()? {
        return Err(NotSwitched::IoUring);
    }
    let mut inheritable = false;
    for &number in references.numbers() {
        if number != fd && !tracked::is_rewritable(number) {
            return Err(NotSwitched::Shared);
        }
        inheritable |= sys::fcntl_get(number, libc::F_GETFD)? & libc::FD_CLOEXEC == 0;
    }
    if inheritable && sys::has_children() {
        return Err(NotSwitched::Shared);
    }
    // A socket that existed at a fork, on its way out: close-on-exec, and no descendant holds it.
    if forked && (inheritable || sight != Sight::Proc || !descendants::let_go(inode_of(fd)?)?) {
        return Err(NotSwitched::Shared);
    }
    // Rule 4: a new socket with everything carried.
    let status_flags = sys::fcntl_get(fd, libc::F_GETFL)?;
    let address = sys::local_address(fd).map(|(a, l)| address_bytes(&a, l))?;
    let new = build(fd, domain, ty, old_protocol, protocol, inet6)?;
    // Rule 5: no other thread started it meanwhile (connect, listen, an option, a dup, a fork):
    // checked atomically at the commit, before any number moves. A call that begins after the
    // commit finds the switch under way ([`crate::events::connect`]); the old socket is kept
    // until the numbers have moved, in case such a call reached it first.
    let old = sys::dup_cloexec(fd)?;
    if references
        .numbers()
        .iter()
        .any(|&number| number != fd && !tracked::is_rewritable(number))
        || !tracked::commit_switch(fd)
    {
        return Err(NotSwitched::Started);
    }
    let moved = move_numbers(&references, new.0, old.0)?;
    if let Err(refusal) = register_again(&references) {
        move_back(&references, moved, old.0);
        return Err(refusal);
    }
    let old_started = sys::tcp_state(old.0) != Ok(TCP_CLOSE)
        || sys::fcntl_get(old.0, libc::F_GETFL) != Ok(status_flags)
        || sys::local_address(old.0).map(|(a, l)| address_bytes(&a, l)) != Ok(address);
    if old_started && sys::tcp_state(new.0) == Ok(TCP_CLOSE) {
        // A call that began in the instant between the commit and the move reached the old
        // socket: it is the program's socket now.
        move_back(&references, moved, old.0);
        return Err(NotSwitched::Started);
    }
    Ok(())
}

/// The inode of the socket behind `fd`.
fn inode_of(fd: c_int) -> Result<u64, NotSwitched> {
    Ok(sys::stat(fd)?.st_ino)
}

/// Why [`tracked::begin_switch`] said no.
fn refusal_from_flags(flags: tracked::Flags) -> NotSwitched {
    if flags & OURS == 0 {
        NotSwitched::NotOurs
    } else if flags & FORKED != 0 && flags & tracked::PINNED == 0 {
        NotSwitched::Shared
    } else if flags & SWITCHING != 0 {
        NotSwitched::Busy
    } else if flags & UNCARRIED != 0 {
        NotSwitched::Uncarried
    } else {
        NotSwitched::Started
    }
}

/// Ends the switch of a descriptor when dropped, whatever the outcome.
struct Switching(c_int);

impl Drop for Switching {
    fn drop(&mut self) {
        tracked::end_switch(self.0);
    }
}
