//! What we know about each descriptor number: did it come from a `socket()` call we may rewrite,
//! has anything happened to it since that rules out a switch, is a switch under way.
//!
//! The switch ([`crate::switch`]) may only replace a socket the program asked to be plain TCP, that
//! never started to connect or listen, whose every setting we can carry. The kernel cannot tell us
//! all of that, so our hooks record it here: eight bytes per descriptor number in a fixed static
//! table of atomics (8 MiB of zero pages, touched only where descriptors live): no lock, no
//! allocation, every number a process can have (`fs.nr_open` is at most [`TRACKED_FDS`] unless
//! raised by hand; a socket above it is never rewritten, see [`crate::rewrite`]).
//!
//! Who writes what:
//! - `socket()` sets [`OURS`] (and [`INET6`]) for the number it returns when it asked for plain
//!   TCP, and clears the flags otherwise; `accept()` on one of ours sets [`OURS`] and [`PINNED`]
//!   for the connection, with the listener's family and answered options ([`accepted`]);
//! - `connect()` and `listen()` set [`INSIDE`] for the length of the call; a switch sets
//!   [`SWITCHING`], then [`COMMITTED`] in one atomic step that fails if anything started it
//!   meanwhile ([`commit_switch`]);
//! - our `setsockopt()` sets the bits that remember booleans MPTCP takes but reads back as 0,
//!   those of options answered for a socket MPTCP keeps ([`ANSWERED_SHIFT`]), and those of
//!   advisory options whose value [`crate::advisory`] holds ([`ADVISORY_SHIFT`]);
//! - `connect()`, `listen()`, `sendto`/`sendmsg` with `MSG_FASTOPEN` set [`PINNED`]: the socket
//!   has started, whatever the outcome ([`started`]); so do `shutdown()`, and `SCM_RIGHTS`
//!   (`sendmsg`, `sendmmsg`) for the sockets sent: another process may hold them;
//! - `close()`, `close_range()`, `closefrom()`, and `dup2()`/`dup3()` onto a number clear its
//!   flags: a reused number starts unknown; `dup()`/`dup2()`/`dup3()` and `fcntl()`'s
//!   `F_DUPFD`/`F_DUPFD_CLOEXEC` (Python's `socket.dup()`) pin the socket under both
//!   numbers (two numbers could each carry settings the other does not know of);
//! - `system()`, `popen()`, `posix_spawn()`, `posix_spawnp()` and `fork()` set [`FORKED`] on
//!   every socket that had not started: a child may inherit them (only a socket on its way out of
//!   the process, with proof that no child holds it, is switched then);
//! - `setsockopt()` of an option the switch cannot carry sets [`UNCARRIED`]; any option set
//!   while a switch is under way sets [`CHANGED`].
//!
//! What the hooks cannot see: a descriptor closed behind our back (a raw `syscall()`, a
//! libc-internal close such as `fclose()` of an `fdopen()`ed socket) whose number the program
//! then fills with its own unconnected MPTCP socket through an unhooked call (`recvmsg()`):
//! that socket looks like ours. docs/limitations.md says so.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use libc::c_int;

/// The flags of one descriptor number.
pub type Flags = u64;

/// How many descriptor numbers are tracked: `fs.nr_open`'s default and usual ceiling.
pub const TRACKED_FDS: usize = 1 << 20;

/// The socket came from a `socket()` call that asked for plain TCP: we made it MPTCP (or, in
/// `listen` mode, left it TCP until `listen()`).
pub const OURS: Flags = 1;
/// It started to connect or listen, or another process may hold it: never switched.
pub const PINNED: Flags = 2;
/// An option was set on it that a switch could not carry (write-only, or not on our list).
pub const UNCARRIED: Flags = 4;
/// A switch of this socket is under way (see [`crate::switch`]).
pub const SWITCHING: Flags = 8;
/// It is an `AF_INET6` socket (which options exist depends on the family).
pub const INET6: Flags = 16;
/// The program changed it (an option, through our hook) while a switch was under way: the
/// switch must not keep a socket that misses the change.
pub const CHANGED: Flags = 32;
/// The first of the bits that remember boolean options MPTCP takes but cannot read back
/// (see [`mptcpize_core::options::REMEMBERED`]): bit `REMEMBERED_SHIFT + i` for entry `i`.
pub const REMEMBERED_SHIFT: u32 = 8;
/// Every remembered-option bit (see [`mptcpize_core::options::REMEMBERED`], at most 8).
pub const REMEMBERED_BITS: Flags = 0xff << REMEMBERED_SHIFT;
/// A thread is inside `connect()` or `listen()` on it right now (set by the hook before the call,
/// cleared after): an option set meanwhile overlaps that call, see [`crate::sockopt`].
pub const INSIDE: Flags = 64;
/// A switch of it passed its last check and is moving the new socket in: nothing may undo it.
pub const COMMITTED: Flags = 128;
/// The first of the bits that hold options answered for an established socket that MPTCP
/// refused (see [`crate::established::ANSWERED`]): bit `ANSWERED_SHIFT + i` for entry `i`.
pub const ANSWERED_SHIFT: u32 = 16;
/// Every answered bit (at most 32 options).
pub const ANSWERED_BITS: Flags = 0xffff_ffff << ANSWERED_SHIFT;
/// The first of the bits that say an int option's value is kept for the socket in
/// [`crate::advisory`]'s table: bit `ADVISORY_SHIFT + i` for its row `i` (the rows of
/// [`mptcpize_core::advisory::ADVISORY`], then [`crate::advisory::OTHER_ROWS`]).
pub const ADVISORY_SHIFT: u32 = 48;
/// Every bit of a kept value (at most 14 rows).
pub const ADVISORY_BITS: Flags = 0x3fff << ADVISORY_SHIFT;
/// What an accepted socket inherits from its listener, as TCP passes a listener's options on.
pub const INHERITED_BITS: Flags = ANSWERED_BITS | ADVISORY_BITS;
/// The program set a receive buffer this kernel's MPTCP is slow with (see
/// [`crate::behaviour`]): in `listen` mode, `listen()` leaves the socket TCP.
pub const SLOW_BUFFER: Flags = 1 << 62;
/// The process forked (or spawned) while the socket was ours and had not started: a child may
/// hold it. Never switched, except on its way out of the process (`SCM_RIGHTS`) when no
/// descendant holds it ([`leaving_rewritable`]).
pub const FORKED: Flags = 1 << 63;

static STATE: [AtomicU64; TRACKED_FDS] = [const { AtomicU64::new(0) }; TRACKED_FDS];
/// One above the highest number ever recorded: bounds [`forget_all`] and [`closed_range`].
static HIGH_WATER: AtomicUsize = AtomicUsize::new(0);

#[inline(always)]
fn cell(fd: c_int) -> Option<&'static AtomicU64> {
    STATE.get(usize::try_from(fd).ok()?)
}

/// Whether `fd` can be tracked at all.
#[inline(always)]
pub fn in_range(fd: c_int) -> bool {
    cell(fd).is_some()
}

/// `accept()` on `listener` returned `fd`: a connection of ours when the listener is, which has
/// started (never switched) and inherits the listener's family and answered options, as a TCP
/// socket inherits its listener's options. Returns the inherited answered and advisory bits. One relaxed load
/// when the listener is not ours.
#[inline(always)]
pub fn accepted(listener: c_int, fd: c_int) -> Flags {
    let inherited = match cell(listener) {
        Some(state) => state.load(Ordering::Relaxed),
        None => 0,
    };
    if let Some(state) = cell(fd) {
        if inherited & OURS != 0 {
            raise_high_water(fd);
            let kept = inherited & (OURS | INET6 | INHERITED_BITS);
            state.store(kept | PINNED, Ordering::Release);
            return kept & INHERITED_BITS;
        } else if state.load(Ordering::Relaxed) != 0 {
            state.store(0, Ordering::Release);
        }
    }
    0
}

/// A thread enters `connect()`/`listen()` on `fd`: it has started ([`PINNED`]) and a call is
/// inside ([`INSIDE`]). Returns the flags it had (0 when not ours). One relaxed load when it is
/// not ours.
#[inline(always)]
pub fn entering(fd: c_int) -> Flags {
    match cell(fd) {
        Some(state) if state.load(Ordering::Relaxed) & OURS != 0 => {
            state.fetch_or(PINNED | INSIDE, Ordering::SeqCst)
        }
        _ => 0,
    }
}

/// The `connect()`/`listen()` call on `fd` returned.
pub fn inside(fd: c_int, entering: bool) {
    if let Some(state) = cell(fd) {
        if entering {
            state.fetch_or(INSIDE, Ordering::SeqCst);
        } else if state.load(Ordering::Relaxed) & INSIDE != 0 {
            state.fetch_and(!INSIDE, Ordering::SeqCst);
        }
    }
}

/// The switch of `fd` commits: true when nothing started it meanwhile (no `connect()`, `listen()`,
/// option change, duplicate or fork since [`begin_switch`]); from then on it is not undone.
pub fn commit_switch(fd: c_int) -> bool {
    let Some(state) = cell(fd) else {
        return false;
    };
    let mut current = state.load(Ordering::SeqCst);
    loop {
        if current & (PINNED | CHANGED | UNCARRIED) != 0 || current & SWITCHING == 0 {
            return false;
        }
        match state.compare_exchange(
            current,
            current | COMMITTED,
            Ordering::SeqCst,
            Ordering::SeqCst,
        ) {
            Ok(_) => return true,
            Err(now) => current = now,
        }
    }
}

/// A `socket()` call returned `fd`; `ours` when it asked for plain TCP.
#[inline(always)]
pub fn opened(fd: c_int, ours: bool, inet6: bool) {
    if let Some(state) = cell(fd) {
        if ours {
            raise_high_water(fd);
            state.store(if inet6 { OURS | INET6 } else { OURS }, Ordering::Release);
        } else if state.load(Ordering::Relaxed) != 0 {
            state.store(0, Ordering::Release);
        }
    }
}

#[inline(always)]
fn raise_high_water(fd: c_int) {
    let above = fd as usize + 1;
    if HIGH_WATER.load(Ordering::Relaxed) < above {
        HIGH_WATER.fetch_max(above, Ordering::Relaxed);
    }
}

/// The recorded flags of `fd`.
pub fn flags(fd: c_int) -> Flags {
    cell(fd).map_or(0, |state| state.load(Ordering::SeqCst))
}

/// Whether flags allow a switch: ours, never started or shared, every setting carried.
pub fn rewritable(flags: Flags) -> bool {
    flags & (OURS | PINNED | UNCARRIED | FORKED) == OURS
}

/// Whether flags allow a switch of a socket about to leave the process: as [`rewritable`], but
/// one a child may hold too (the switch then proves that none does).
pub fn leaving_rewritable(flags: Flags) -> bool {
    flags & (OURS | PINNED | UNCARRIED) == OURS
}

/// Whether `fd` may still be switched, as far as the hooks know.
pub fn is_rewritable(fd: c_int) -> bool {
    rewritable(flags(fd))
}

/// `fd` starts to connect or listen: it may never be switched again. Returns the flags it had, so
/// a caller can tell that a switch was under way ([`SWITCHING`]). One relaxed load when untracked.
pub fn started(fd: c_int) -> Flags {
    match cell(fd) {
        Some(state) if state.load(Ordering::Relaxed) & (OURS | PINNED) == OURS => {
            state.fetch_or(PINNED, Ordering::SeqCst)
        }
        _ => 0,
    }
}

/// The program changed `fd` while a switch may be under way (cheap when it is not).
pub fn changed(fd: c_int) {
    if let Some(state) = cell(fd)
        && state.load(Ordering::Relaxed) & SWITCHING != 0
    {
        state.fetch_or(CHANGED, Ordering::SeqCst);
    }
}

/// An option the switch cannot carry was set on `fd`.
pub fn uncarried(fd: c_int) {
    if let Some(state) = cell(fd) {
        state.fetch_or(UNCARRIED, Ordering::SeqCst);
    }
}

/// Sets or clears the remembered-option bits `bits` of `fd`.
pub fn remember(fd: c_int, bits: Flags, on: bool) {
    if let Some(state) = cell(fd) {
        if on {
            state.fetch_or(bits, Ordering::SeqCst);
        } else {
            state.fetch_and(!bits, Ordering::SeqCst);
        }
    }
}

/// `fd` was closed (or is about to be replaced by `dup2`/`dup3`): its number starts unknown.
#[inline(always)]
pub fn closed(fd: c_int) {
    if let Some(state) = cell(fd)
        && state.load(Ordering::Relaxed) != 0
    {
        state.store(0, Ordering::Release);
    }
}

/// `close_range(first, last)`: every number in the range starts unknown.
pub fn closed_range(first: u32, last: u32) {
    let end = (last as usize)
        .saturating_add(1)
        .min(HIGH_WATER.load(Ordering::Relaxed));
    for state in STATE.get(first as usize..end).unwrap_or_default() {
        if state.load(Ordering::Relaxed) != 0 {
            state.store(0, Ordering::Release);
        }
    }
}

/// `new` became a duplicate of `old`: the same socket under two numbers, each of which could
/// carry settings (an MD5 key, a remembered option) the other does not know of, and two
/// switches could race through them: neither may ever be switched.
pub fn duplicated(old: c_int, new: c_int) {
    started(old);
    let copied = flags(old) & !SWITCHING;
    if let Some(state) = cell(new) {
        if copied != 0 {
            raise_high_water(new);
            state.store(copied, Ordering::Release);
        } else if state.load(Ordering::Relaxed) != 0 {
            state.store(0, Ordering::Release);
        }
    }
}

/// Another process may now hold every socket we know of (`fork()`): none may be switched. A
/// switch under way sees the change and does not commit.
pub fn forget_all() {
    let end = HIGH_WATER.load(Ordering::Relaxed).min(TRACKED_FDS);
    for state in &STATE[..end] {
        let flags = state.load(Ordering::Relaxed);
        if flags & (OURS | PINNED) == OURS {
            let switching = if flags & SWITCHING != 0 { CHANGED } else { 0 };
            state.fetch_or(FORKED | switching, Ordering::SeqCst);
        }
    }
}

/// Calls `each` with every number whose socket may still leave the process as TCP
/// ([`leaving_rewritable`]).
pub fn each_leaving(mut each: impl FnMut(c_int)) {
    let end = HIGH_WATER.load(Ordering::Relaxed).min(TRACKED_FDS);
    for (fd, state) in STATE[..end].iter().enumerate() {
        if leaving_rewritable(state.load(Ordering::Relaxed)) {
            each(fd as c_int);
        }
    }
}

/// Another process may now hold `fd` (sent with `SCM_RIGHTS`): it may not be switched.
pub fn shared(fd: c_int) {
    started(fd);
}

/// Marks `fd` as being switched; false when it may not be (by `allowed`) or a switch is already
/// under way.
pub fn begin_switch(fd: c_int, allowed: fn(Flags) -> bool) -> bool {
    let Some(state) = cell(fd) else {
        return false;
    };
    let before = state.fetch_or(SWITCHING, Ordering::SeqCst);
    if before & SWITCHING != 0 {
        return false;
    }
    if !allowed(before) {
        state.fetch_and(!SWITCHING, Ordering::SeqCst);
        return false;
    }
    true
}

/// Ends a switch begun with [`begin_switch`].
pub fn end_switch(fd: c_int) {
    if let Some(state) = cell(fd) {
        state.fetch_and(!(SWITCHING | CHANGED | COMMITTED), Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test function: the table is process-wide and the test harness runs tests in threads.
    #[test]
    fn the_flags_per_descriptor_follow_the_hooks() {
        for fd in [0, 1, 63, 64, 70_000, (TRACKED_FDS - 1) as c_int] {
            assert!(!is_rewritable(fd));
            opened(fd, true, false);
            assert!(is_rewritable(fd), "{fd}");
            assert!(!is_rewritable(fd + 1), "{fd}");
            opened(fd, false, false);
            assert!(!is_rewritable(fd), "{fd}");
        }
        for fd in [-1, TRACKED_FDS as c_int, c_int::MAX] {
            opened(fd, true, false);
            assert!(!is_rewritable(fd), "{fd}");
            assert!(!in_range(fd));
        }
        // Started: never again, still ours, and the caller learns of a switch under way.
        opened(5, true, true);
        assert_eq!(flags(5), OURS | INET6);
        assert!(begin_switch(5, rewritable));
        assert!(!begin_switch(5, rewritable), "one switch at a time");
        assert_eq!(started(5), OURS | INET6 | SWITCHING);
        end_switch(5);
        assert_eq!(flags(5), OURS | INET6 | PINNED);
        assert!(!begin_switch(5, rewritable));
        // Duplicates pin both numbers; close and close_range forget what is known.
        opened(6, true, false);
        duplicated(6, 9);
        assert_eq!((flags(6), flags(9)), (OURS | PINNED, OURS | PINNED));
        closed(6);
        assert_eq!(flags(6), 0);
        closed_range(7, u32::MAX);
        assert_eq!(flags(9), 0);
        // A change during a switch is noticed, and forgotten with the switch.
        opened(12, true, false);
        changed(12);
        assert_eq!(flags(12), OURS);
        assert!(begin_switch(12, rewritable));
        changed(12);
        assert_ne!(flags(12) & CHANGED, 0);
        end_switch(12);
        assert_eq!(flags(12), OURS);
        // An uncarried option rules a switch out.
        opened(10, true, false);
        uncarried(10);
        assert!(!begin_switch(10, rewritable));
        // fork: nothing known may be switched, but on its way out with proof (FORKED); a switch
        // under way sees the fork.
        opened(11, true, false);
        opened(70_001, true, false);
        opened(13, true, false);
        assert!(begin_switch(13, rewritable));
        forget_all();
        assert!(!is_rewritable(11) && !is_rewritable(70_001));
        assert_eq!(flags(11), OURS | FORKED);
        assert!(leaving_rewritable(flags(11)));
        assert!(!commit_switch(13));
        end_switch(13);
        // accept(): a connection on our listener is ours, started, with the listener's family
        // and answered bits; on another listener the number starts unknown.
        let answered = 1 << ANSWERED_SHIFT;
        opened(20, true, true);
        remember(20, answered, true);
        assert_eq!(accepted(20, 21), answered);
        assert_eq!(flags(21), OURS | INET6 | PINNED | answered);
        opened(22, false, false);
        assert_eq!(accepted(22, 21), 0);
        assert_eq!(flags(21), 0);
        // connect()/listen(): inside for the length of the call; a switch that had not committed
        // when one began never commits, one that had is not undone by it.
        opened(23, true, false);
        assert!(begin_switch(23, rewritable));
        assert_eq!(entering(23) & (SWITCHING | COMMITTED), SWITCHING);
        assert!(!commit_switch(23), "a connect() began: no commit");
        inside(23, false);
        assert_eq!(flags(23) & INSIDE, 0);
        end_switch(23);
        opened(24, true, false);
        assert!(begin_switch(24, rewritable));
        assert!(commit_switch(24));
        assert_ne!(entering(24) & COMMITTED, 0);
        end_switch(24);
        assert_eq!(flags(24) & (SWITCHING | COMMITTED), 0);
        assert_eq!(entering(25), 0, "not ours: untouched");
        assert_eq!(flags(25), 0);
    }
}
