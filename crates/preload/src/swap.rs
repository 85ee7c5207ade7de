//! Replace the socket behind a descriptor with one of the other protocol (MPTCP ↔ TCP), only when
//! the program cannot tell.
//!
//! Used by the socket-option fallback ([`crate::sockopt`]) and the direction modes
//! ([`crate::direction`]). A switch puts a new open file description behind the program's
//! numbers (`dup3()`), so everything that lives on the old description would silently be gone.
//! **The rule: a switch happens only when it is invisible.** Each item below is checked, in this
//! order, by the code of [`switch`]; if any fails there is no switch, the descriptor is untouched
//! and the caller gets the kernel's own answer (the reason is returned for one warning):
//!
//! 1. **Ours, unchanged.** The number came from a `socket()` call we rewrote and still holds that
//!    socket ([`crate::tracked`]: cleared when a number is closed or reused, every number a
//!    process can have), and no switch of it is under way.
//! 2. **Never started.** It never began to connect or listen (a state the hooks record, not
//!    `TCP_CLOSE` alone, which also means "connection over"), and the kernel agrees (`TCP_CLOSE`).
//! 3. **Every reference known.** Every number of this socket in the process is found
//!    (`/proc/self/fd`) and switched with it; each must itself be known to us. If a reference may
//!    exist elsewhere (it was inherited by a fork, sent with `SCM_RIGHTS`, or is inheritable while
//!    this process has children), or the process has an io_uring (whose registered files we
//!    cannot see), no switch.
//! 4. **Everything carried.** Readable options of socket(7), tcp(7), and ip(7) or ipv6(7) by the
//!    socket's family ([`CARRIED`]), each read back from the new socket to prove it took; owner
//!    and signal (`F_GETOWN_EX`, `F_GETSIG`); file status flags and each number's `FD_CLOEXEC`;
//!    the bound address and port; this process's epoll registrations with their events and data
//!    (`/proc/self/fdinfo`), re-added on the new socket. Options that cannot be read back
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

use crate::sys::{self, Errno, OwnedFd};
use crate::tracked::{self, INET6, OURS, SWITCHING, UNCARRIED};
use core::ffi::CStr;
use libc::c_int;

/// The state of a socket that never connected, or whose connection is over.
const TCP_CLOSE: u8 = 7;

/// Why a socket was not switched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
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
impl core::fmt::Display for Refusal {
    fn fmt(&self, out: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        out.write_str(match *self {
            Refusal::NotOurs => "it is not a socket we made MPTCP",
            Refusal::Started => {
                "it has connected, listened or been shut down, has two descriptors, or another \
                 process may hold it"
            }
            Refusal::Busy => "another thread is switching it",
            Refusal::Uncarried => "an option set on it cannot be carried",
            Refusal::Shared => "another descriptor or process may hold it",
            Refusal::IoUring => "the process uses io_uring",
            Refusal::Context => "it was made in another network namespace or by another user",
            Refusal::Epoll => "its epoll registration cannot be moved",
            Refusal::Option(name) => return write!(out, "{name} cannot be carried"),
            Refusal::Kernel(errno) => {
                return write!(out, "a step failed ({})", sys::errno_name(errno));
            }
        })
    }
}

impl From<Errno> for Refusal {
    fn from(errno: Errno) -> Self {
        Refusal::Kernel(errno)
    }
}

/// How an option's value reads back.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Value {
    /// Reads back as set.
    Plain,
    /// `SO_RCVBUF`/`SO_SNDBUF`: the kernel doubles what it is given.
    Doubled,
}

/// An option to carry: level, name, its name for messages, how its value reads back.
pub struct Carried(c_int, c_int, Label, Value);

/// The longest option name.
const LABEL_BYTES: usize = 24;

/// An option's name for messages, held inline (ASCII, NUL-padded): a table of them needs no
/// pointer, so no relocation for the loader to apply when the library is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label([u8; LABEL_BYTES]);

impl Label {
    /// The name's leading ASCII characters, at most [`LABEL_BYTES`] of them.
    pub const fn new(text: &str) -> Label {
        let bytes = text.as_bytes();
        let mut label = [0u8; LABEL_BYTES];
        let mut i = 0;
        while i < bytes.len() && i < LABEL_BYTES && bytes[i].is_ascii() && bytes[i] != 0 {
            label[i] = bytes[i];
            i += 1;
        }
        Label(label)
    }

    fn as_str(&self) -> &str {
        let len = self
            .0
            .iter()
            .position(|&byte| byte == 0)
            .unwrap_or(LABEL_BYTES);
        let ascii = self.0.get(..len).unwrap_or_default();
        // SAFETY: `new` stores ASCII bytes only (then NULs), and ASCII is UTF-8.
        unsafe { core::str::from_utf8_unchecked(ascii) }
    }
}

impl core::fmt::Display for Label {
    fn fmt(&self, out: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        out.write_str(self.as_str())
    }
}

/// A [`CARRIED`] entry (a `const fn`, so the names become inline [`Label`]s).
const fn c(level: c_int, name: c_int, label: &str, value: Value) -> Carried {
    Carried(level, name, Label::new(label), value)
}

use Value::{Doubled, Plain};
use libc::{IPPROTO_IP, IPPROTO_IPV6, IPPROTO_TCP, SOL_SOCKET};

/// The options carried across a switch, in the order they are applied (`IPV6_V6ONLY`, device and
/// reuse options before the address is bound). Numbers are Linux's (asm-generic, in.h, in6.h,
/// tcp.h), named for messages. Options a socket cannot read are skipped: the kernel refuses to
/// read what it also refuses to set, and an option the program did set but we cannot read back
/// was marked by our `setsockopt()` hook, which rules the switch out.
pub const CARRIED: &[Carried] = &[
    c(IPPROTO_IPV6, 26, "IPV6_V6ONLY", Plain),
    c(SOL_SOCKET, 25, "SO_BINDTODEVICE", Plain),
    c(SOL_SOCKET, 62, "SO_BINDTOIFINDEX", Plain),
    c(SOL_SOCKET, 2, "SO_REUSEADDR", Plain),
    c(SOL_SOCKET, 15, "SO_REUSEPORT", Plain),
    c(SOL_SOCKET, 36, "SO_MARK", Plain),
    c(IPPROTO_IP, 15, "IP_FREEBIND", Plain),
    c(IPPROTO_IP, 19, "IP_TRANSPARENT", Plain),
    c(IPPROTO_IP, 24, "IP_BIND_ADDRESS_NO_PORT", Plain),
    c(IPPROTO_IP, 51, "IP_LOCAL_PORT_RANGE", Plain),
    c(IPPROTO_IPV6, 78, "IPV6_FREEBIND", Plain),
    c(IPPROTO_IPV6, 75, "IPV6_TRANSPARENT", Plain),
    c(IPPROTO_IPV6, 72, "IPV6_ADDR_PREFERENCES", Plain),
    c(SOL_SOCKET, 1, "SO_DEBUG", Plain),
    c(SOL_SOCKET, 9, "SO_KEEPALIVE", Plain),
    c(SOL_SOCKET, 10, "SO_OOBINLINE", Plain),
    c(SOL_SOCKET, 12, "SO_PRIORITY", Plain),
    c(SOL_SOCKET, 13, "SO_LINGER", Plain),
    c(SOL_SOCKET, 16, "SO_PASSCRED", Plain),
    c(SOL_SOCKET, 8, "SO_RCVBUF", Doubled),
    c(SOL_SOCKET, 7, "SO_SNDBUF", Doubled),
    c(SOL_SOCKET, 72, "SO_BUF_LOCK", Plain),
    c(SOL_SOCKET, 18, "SO_RCVLOWAT", Plain),
    c(SOL_SOCKET, 20, "SO_RCVTIMEO", Plain),
    c(SOL_SOCKET, 21, "SO_SNDTIMEO", Plain),
    c(SOL_SOCKET, 29, "SO_TIMESTAMP", Plain),
    c(SOL_SOCKET, 35, "SO_TIMESTAMPNS", Plain),
    c(SOL_SOCKET, 37, "SO_TIMESTAMPING", Plain),
    c(SOL_SOCKET, 63, "SO_TIMESTAMP_NEW", Plain),
    c(SOL_SOCKET, 64, "SO_TIMESTAMPNS_NEW", Plain),
    c(SOL_SOCKET, 65, "SO_TIMESTAMPING_NEW", Plain),
    c(SOL_SOCKET, 34, "SO_PASSSEC", Plain),
    c(SOL_SOCKET, 46, "SO_BUSY_POLL", Plain),
    c(SOL_SOCKET, 47, "SO_MAX_PACING_RATE", Plain),
    c(SOL_SOCKET, 49, "SO_INCOMING_CPU", Plain),
    c(SOL_SOCKET, 60, "SO_ZEROCOPY", Plain),
    c(SOL_SOCKET, 61, "SO_TXTIME", Plain),
    c(SOL_SOCKET, 69, "SO_PREFER_BUSY_POLL", Plain),
    c(SOL_SOCKET, 70, "SO_BUSY_POLL_BUDGET", Plain),
    c(SOL_SOCKET, 73, "SO_RESERVE_MEM", Plain),
    c(SOL_SOCKET, 74, "SO_TXREHASH", Plain),
    c(SOL_SOCKET, 75, "SO_RCVMARK", Plain),
    c(IPPROTO_IP, 1, "IP_TOS", Plain),
    c(IPPROTO_IP, 2, "IP_TTL", Plain),
    c(IPPROTO_IP, 4, "IP_OPTIONS", Plain),
    c(IPPROTO_IP, 6, "IP_RECVOPTS", Plain),
    c(IPPROTO_IP, 7, "IP_RETOPTS", Plain),
    c(IPPROTO_IP, 8, "IP_PKTINFO", Plain),
    c(IPPROTO_IP, 10, "IP_MTU_DISCOVER", Plain),
    c(IPPROTO_IP, 11, "IP_RECVERR", Plain),
    c(IPPROTO_IP, 12, "IP_RECVTTL", Plain),
    c(IPPROTO_IP, 13, "IP_RECVTOS", Plain),
    c(IPPROTO_IP, 18, "IP_PASSSEC", Plain),
    c(IPPROTO_IP, 20, "IP_RECVORIGDSTADDR", Plain),
    c(IPPROTO_IP, 21, "IP_MINTTL", Plain),
    c(IPPROTO_IP, 22, "IP_NODEFRAG", Plain),
    c(IPPROTO_IP, 25, "IP_RECVFRAGSIZE", Plain),
    c(IPPROTO_IP, 26, "IP_RECVERR_RFC4884", Plain),
    c(IPPROTO_IPV6, 11, "IPV6_FLOWINFO", Plain),
    c(IPPROTO_IPV6, 16, "IPV6_UNICAST_HOPS", Plain),
    c(IPPROTO_IPV6, 23, "IPV6_MTU_DISCOVER", Plain),
    c(IPPROTO_IPV6, 25, "IPV6_RECVERR", Plain),
    c(IPPROTO_IPV6, 31, "IPV6_RECVERR_RFC4884", Plain),
    c(IPPROTO_IPV6, 33, "IPV6_FLOWINFO_SEND", Plain),
    c(IPPROTO_IPV6, 49, "IPV6_RECVPKTINFO", Plain),
    c(IPPROTO_IPV6, 51, "IPV6_RECVHOPLIMIT", Plain),
    c(IPPROTO_IPV6, 62, "IPV6_DONTFRAG", Plain),
    c(IPPROTO_IPV6, 66, "IPV6_RECVTCLASS", Plain),
    c(IPPROTO_IPV6, 67, "IPV6_TCLASS", Plain),
    c(IPPROTO_IPV6, 70, "IPV6_AUTOFLOWLABEL", Plain),
    c(IPPROTO_IPV6, 73, "IPV6_MINHOPCOUNT", Plain),
    c(IPPROTO_IPV6, 74, "IPV6_RECVORIGDSTADDR", Plain),
    c(IPPROTO_IPV6, 77, "IPV6_RECVFRAGSIZE", Plain),
    c(IPPROTO_TCP, 1, "TCP_NODELAY", Plain),
    c(IPPROTO_TCP, 2, "TCP_MAXSEG", Plain),
    c(IPPROTO_TCP, 3, "TCP_CORK", Plain),
    c(IPPROTO_TCP, 4, "TCP_KEEPIDLE", Plain),
    c(IPPROTO_TCP, 5, "TCP_KEEPINTVL", Plain),
    c(IPPROTO_TCP, 6, "TCP_KEEPCNT", Plain),
    c(IPPROTO_TCP, 7, "TCP_SYNCNT", Plain),
    c(IPPROTO_TCP, 8, "TCP_LINGER2", Plain),
    c(IPPROTO_TCP, 9, "TCP_DEFER_ACCEPT", Plain),
    c(IPPROTO_TCP, 10, "TCP_WINDOW_CLAMP", Plain),
    c(IPPROTO_TCP, 12, "TCP_QUICKACK", Plain),
    c(IPPROTO_TCP, 13, "TCP_CONGESTION", Plain),
    c(IPPROTO_TCP, 16, "TCP_THIN_LINEAR_TIMEOUTS", Plain),
    c(IPPROTO_TCP, 17, "TCP_THIN_DUPACK", Plain),
    c(IPPROTO_TCP, 18, "TCP_USER_TIMEOUT", Plain),
    c(IPPROTO_TCP, 23, "TCP_FASTOPEN", Plain),
    c(IPPROTO_TCP, 25, "TCP_NOTSENT_LOWAT", Plain),
    c(IPPROTO_TCP, 27, "TCP_SAVE_SYN", Plain),
    c(IPPROTO_TCP, 30, "TCP_FASTOPEN_CONNECT", Plain),
    c(IPPROTO_TCP, 34, "TCP_FASTOPEN_NO_COOKIE", Plain),
    c(IPPROTO_TCP, 36, "TCP_INQ", Plain),
    c(IPPROTO_TCP, 37, "TCP_TX_DELAY", Plain),
];

/// Boolean options MPTCP takes (applying them to its subflows) but reads back as 0 (kernel 6.18):
/// our `setsockopt()` hook remembers them per descriptor ([`tracked::remember`]) and the switch
/// sets them from that memory instead of reading them.
pub const REMEMBERED: &[(c_int, &str)] = &[
    (5, "SO_DONTROUTE"),
    (6, "SO_BROADCAST"),
    (11, "SO_NO_CHECK"),
    (40, "SO_RXQ_OVFL"),
    (41, "SO_WIFI_STATUS"),
    (43, "SO_NOFCS"),
    (45, "SO_SELECT_ERR_QUEUE"),
];

/// The bit that remembers option `(level, name)`, if it is one of [`REMEMBERED`].
pub fn remembered_bit(level: c_int, name: c_int) -> Option<tracked::Flags> {
    if level != SOL_SOCKET {
        return None;
    }
    let index = REMEMBERED.iter().position(|&(number, _)| number == name)?;
    Some(1 << (tracked::REMEMBERED_SHIFT + index as u32))
}

/// Whether a level exists for a socket of this family: `IPPROTO_IPV6` options for `AF_INET6`
/// only (an IPv4 socket answers some `IPV6_*` reads, which an IPv4 TCP socket would then refuse
/// to take); `IPPROTO_IP` for both (an IPv6 socket has them for IPv4-mapped traffic).
fn level_applies(inet6: bool, level: c_int) -> bool {
    level != IPPROTO_IPV6 || inet6
}

/// The carried option `(level, name)` for a socket of this family, if any.
pub fn carried(inet6: bool, level: c_int, name: c_int) -> Option<&'static Carried> {
    CARRIED
        .iter()
        .find(|option| option.0 == level && option.1 == name)
        .filter(|_| level_applies(inet6, level))
}

/// The name of an option for messages: `TCP_USER_TIMEOUT`, or `level 6 option 99`.
pub fn option_name(level: c_int, name: c_int) -> OptionName {
    OptionName(level, name)
}

/// An option, named where it is written (nothing is allocated).
pub struct OptionName(c_int, c_int);

impl core::fmt::Display for OptionName {
    fn fmt(&self, out: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let OptionName(level, name) = *self;
        if let Some(index) = remembered_bit(level, name).map(|bit| bit.trailing_zeros())
            && let Some(option) =
                REMEMBERED.get(index.wrapping_sub(tracked::REMEMBERED_SHIFT) as usize)
        {
            return out.write_str(option.1);
        }
        match CARRIED.iter().find(|o| o.0 == level && o.1 == name) {
            Some(option) => write!(out, "{}", option.2),
            None if (level, name) == (IPPROTO_TCP, libc::TCP_MD5SIG) => out.write_str("TCP_MD5SIG"),
            None => write!(out, "level {level} option {name}"),
        }
    }
}

/// `SO_NETNS_COOKIE` (Linux ≥ 5.14; not in `libc`): the socket's network namespace.
const SO_NETNS_COOKIE: c_int = 71;

/// The bytes of a local address, for comparing two reads of it.
fn address_bytes(address: &libc::sockaddr_storage, len: libc::socklen_t) -> [u8; 28] {
    let mut bytes = [0u8; 28];
    // SAFETY: sockaddr_storage is plain data at least 28 bytes long.
    let all = unsafe {
        core::slice::from_raw_parts((address as *const libc::sockaddr_storage).cast::<u8>(), 28)
    };
    let used = (len as usize).min(28);
    bytes[..used].copy_from_slice(&all[..used]);
    bytes
}

/// Whether this process has an io_uring mapped (its ring descriptor may be closed, as liburing
/// does, while registered files stay registered): `[io_uring]` in `/proc/self/maps`.
fn uses_io_uring() -> Result<bool, Refusal> {
    let maps = sys::open_read(c"/proc/self/maps", 0)?;
    let needle = b"[io_uring]";
    let mut buffer = [0u8; 8192];
    let mut kept = 0;
    loop {
        let read = sys::read(maps.0, buffer.get_mut(kept..).unwrap_or_default())?;
        let filled = (kept + read).min(buffer.len());
        let seen = buffer.get(..filled).unwrap_or_default();
        if seen.windows(needle.len()).any(|w| w == needle) {
            return Ok(true);
        }
        if read == 0 {
            return Ok(false);
        }
        // Keep the tail, in case the word straddles two reads.
        let tail = filled.min(needle.len() - 1);
        kept = move_to_start(&mut buffer, filled - tail, filled);
    }
}

/// The largest option value carried (`TCP_CONGESTION` and `SO_BINDTODEVICE` are 16 bytes,
/// `IP_OPTIONS` 40).
const VALUE_BYTES: usize = 64;
/// The most numbers one socket may have, epoll instances a process may have, and registrations
/// of one socket we move; beyond that, no switch.
const MAX_NUMBERS: usize = 16;
const MAX_EPOLLS: usize = 1024;
const MAX_REGISTRATIONS: usize = 32;

/// Puts a socket of `protocol` behind `fd` (and every other number of the same socket) when the
/// program cannot tell; otherwise `fd` is untouched and the reason is returned.
pub fn switch(fd: c_int, protocol: c_int) -> Result<(), Refusal> {
    // Rule 1 (and 5: one switch at a time).
    if !tracked::begin_switch(fd) {
        return Err(refusal_from_flags(tracked::flags(fd)));
    }
    let _switching = Switching(fd);
    let inet6 = tracked::flags(fd) & INET6 != 0;
    let domain = sys::get_int_option(fd, SOL_SOCKET, libc::SO_DOMAIN)?;
    let ty = sys::get_int_option(fd, SOL_SOCKET, libc::SO_TYPE)?;
    let old_protocol = sys::get_int_option(fd, SOL_SOCKET, libc::SO_PROTOCOL)?;
    if old_protocol == protocol {
        return Ok(());
    }
    if inet6 != (domain == libc::AF_INET6) || ty != libc::SOCK_STREAM {
        return Err(Refusal::NotOurs);
    }
    // Rule 2: the kernel agrees that it never started.
    if sys::tcp_state(fd)? != TCP_CLOSE {
        return Err(Refusal::Started);
    }
    // Rule 3: every reference known.
    let inode = sys::stat(fd)?.st_ino;
    let references = References::find(inode)?;
    if !references.numbers().contains(&fd) {
        return Err(Refusal::NotOurs);
    }
    if uses_io_uring()? {
        return Err(Refusal::IoUring);
    }
    let mut inheritable = false;
    for &number in references.numbers() {
        if number != fd && !tracked::is_rewritable(number) {
            return Err(Refusal::Shared);
        }
        inheritable |= sys::fcntl_get(number, libc::F_GETFD)? & libc::FD_CLOEXEC == 0;
    }
    if inheritable && sys::has_children() {
        return Err(Refusal::Shared);
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
        return Err(Refusal::Started);
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
        return Err(Refusal::Started);
    }
    Ok(())
}

/// Why [`tracked::begin_switch`] said no.
fn refusal_from_flags(flags: tracked::Flags) -> Refusal {
    if flags & OURS == 0 {
        Refusal::NotOurs
    } else if flags & SWITCHING != 0 {
        Refusal::Busy
    } else if flags & UNCARRIED != 0 {
        Refusal::Uncarried
    } else {
        Refusal::Started
    }
}

/// Ends the switch of a descriptor when dropped, whatever the outcome.
struct Switching(c_int);

impl Drop for Switching {
    fn drop(&mut self) {
        tracked::end_switch(self.0);
    }
}

/// The new socket: every changed option, owner and signal, bound address, status flags.
fn build(
    fd: c_int,
    domain: c_int,
    ty: c_int,
    old_protocol: c_int,
    protocol: c_int,
    inet6: bool,
) -> Result<OwnedFd, Refusal> {
    let status_flags = sys::fcntl_get(fd, libc::F_GETFL)?;
    // A fresh socket like the old one tells which options the program changed.
    let reference = OwnedFd(sys::next_socket(
        domain,
        ty | libc::SOCK_CLOEXEC,
        old_protocol,
    )?);
    // It is made here and now: in this network namespace, by this user. The old one must have
    // been too, or the new socket would route, match firewall rules and be owned differently.
    let owner = |fd| sys::stat(fd).map(|stat| (stat.st_uid, stat.st_gid));
    let (old_owner, fresh_owner) = (owner(fd)?, owner(reference.0)?);
    let mut old_netns = [0u8; 8];
    let mut fresh_netns = [0u8; 8];
    let same_netns = match (
        sys::get_option(fd, SOL_SOCKET, SO_NETNS_COOKIE, &mut old_netns),
        sys::get_option(reference.0, SOL_SOCKET, SO_NETNS_COOKIE, &mut fresh_netns),
    ) {
        (Ok(_), Ok(_)) => old_netns == fresh_netns,
        _ => false, // kernel < 5.14: cannot tell
    };
    if old_owner != fresh_owner || !same_netns {
        return Err(Refusal::Context);
    }
    let new = OwnedFd(sys::next_socket(domain, ty | libc::SOCK_CLOEXEC, protocol)?);
    for option in CARRIED.iter().filter(|o| level_applies(inet6, o.0)) {
        carry(option, fd, reference.0, new.0)?;
    }
    let flags = tracked::flags(fd);
    for (index, &(name, label)) in REMEMBERED.iter().enumerate() {
        if flags & (1 << (tracked::REMEMBERED_SHIFT + index as u32)) != 0 {
            let taken = sys::set_int_option(new.0, SOL_SOCKET, name, 1)
                .and_then(|()| sys::get_int_option(new.0, SOL_SOCKET, name));
            // MPTCP reads these back as 0 even when it took them.
            if !(taken == Ok(1) || (protocol == libc::IPPROTO_MPTCP && taken.is_ok())) {
                return Err(Refusal::Option(Label::new(label)));
            }
        }
    }
    let owner = sys::owner(fd)?;
    if owner != sys::owner(reference.0)? {
        sys::set_owner(new.0, &owner)?;
    }
    let signal = sys::fcntl_get(fd, sys::F_GETSIG)?;
    if signal != 0 {
        sys::fcntl_set(new.0, sys::F_SETSIG, signal)?;
    }
    rebind(fd, new.0)?;
    sys::set_status_flags(new.0, status_flags)?;
    Ok(new)
}

/// Copies one option from `old` to `new` when the program changed it (it differs from
/// `reference`, a fresh socket of the old kind), and proves it took by reading it back.
fn carry(option: &Carried, old: c_int, reference: c_int, new: c_int) -> Result<(), Refusal> {
    let &Carried(level, name, label, value_kind) = option;
    let mut value = [0u8; VALUE_BYTES];
    let mut default = [0u8; VALUE_BYTES];
    let Ok(len) = sys::get_option(old, level, name, &mut value) else {
        return Ok(()); // unreadable here: never set (our hook marks what it cannot read back)
    };
    let value = value.get(..len).unwrap_or_default();
    if let Ok(default_len) = sys::get_option(reference, level, name, &mut default)
        && Some(value) == default.get(..default_len)
    {
        return Ok(());
    }
    let set = if value_kind == Doubled
        && let Ok(bytes) = <[u8; size_of::<c_int>()]>::try_from(value)
    {
        let halved = c_int::from_ne_bytes(bytes) / 2;
        sys::set_int_option(new, level, name, halved).and_then(|()| {
            // Above the sysctl maximum the program used SO_*BUFFORCE (and may again).
            let forced = if name == libc::SO_RCVBUF {
                libc::SO_RCVBUFFORCE
            } else {
                libc::SO_SNDBUFFORCE
            };
            match sys::get_int_option(new, level, name) {
                Ok(taken) if taken.to_ne_bytes() != bytes => {
                    sys::set_int_option(new, level, forced, halved)
                }
                _ => Ok(()),
            }
        })
    } else if (level, name) == (IPPROTO_TCP, libc::TCP_CONGESTION) {
        let name_only = value.split(|&b| b == 0).next().unwrap_or_default();
        sys::set_option(new, level, name, name_only)
    } else {
        sys::set_option(new, level, name, value)
    };
    let mut taken = [0u8; VALUE_BYTES];
    match (set, sys::get_option(new, level, name, &mut taken)) {
        (Ok(()), Ok(taken_len)) if taken.get(..taken_len) == Some(value) => Ok(()),
        _ => Err(Refusal::Option(label)),
    }
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
    // Put the program's socket back as it was (it matters when the switch fails).
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

/// Puts `new` behind every number of the socket, each keeping its own `FD_CLOEXEC`; returns how
/// many were moved. On a failure, those already moved go back to `old`.
fn move_numbers(references: &References, new: c_int, old: c_int) -> Result<usize, Refusal> {
    for (moved, &number) in references.numbers().iter().enumerate() {
        let result = sys::fcntl_get(number, libc::F_GETFD).and_then(|fd_flags| {
            let cloexec = if fd_flags & libc::FD_CLOEXEC != 0 {
                libc::O_CLOEXEC
            } else {
                0
            };
            sys::dup3(new, number, cloexec)
        });
        if let Err(errno) = result {
            move_back(references, moved, old);
            return Err(Refusal::Kernel(errno));
        }
    }
    Ok(references.numbers().len())
}

/// Undoes [`move_numbers`] for the first `moved` numbers. The old socket's epoll registrations
/// were never removed (the kernel keeps them while the old file lives), so they hold again.
fn move_back(references: &References, moved: usize, old: c_int) {
    for &number in references.numbers().iter().take(moved) {
        let cloexec = match sys::fcntl_get(number, libc::F_GETFD) {
            Ok(fd_flags) if fd_flags & libc::FD_CLOEXEC != 0 => libc::O_CLOEXEC,
            _ => 0,
        };
        let _ = sys::dup3(old, number, cloexec);
    }
}

/// Adds the socket's epoll registrations again, now on the new socket.
fn register_again(references: &References) -> Result<(), Refusal> {
    for registration in references.registrations() {
        sys::epoll_add(
            registration.epoll,
            registration.number,
            registration.events,
            registration.data,
        )
        .map_err(|_| Refusal::Epoll)?;
    }
    Ok(())
}

/// The flags of an epoll registration that are not events (`EPOLLWAKEUP`, `EPOLLONESHOT`,
/// `EPOLLET`, `EPOLLEXCLUSIVE`): a registration with nothing else has fired and is disarmed.
const EPOLL_PRIVATE_BITS: u32 =
    (libc::EPOLLWAKEUP | libc::EPOLLONESHOT | libc::EPOLLET | libc::EPOLLEXCLUSIVE) as u32;

/// One epoll registration of the socket: the instance, the number it was added with, its events
/// (flags included) and the program's data.
#[derive(Clone, Copy, Default)]
struct Registration {
    epoll: c_int,
    number: c_int,
    events: u32,
    data: u64,
}

/// Every reference to one socket in this process: its numbers and epoll registrations.
struct References {
    numbers: [c_int; MAX_NUMBERS],
    number_count: usize,
    registrations: [Registration; MAX_REGISTRATIONS],
    registration_count: usize,
}

impl References {
    fn numbers(&self) -> &[c_int] {
        self.numbers.get(..self.number_count).unwrap_or_default()
    }

    fn registrations(&self) -> &[Registration] {
        self.registrations
            .get(..self.registration_count)
            .unwrap_or_default()
    }

    /// Reads `/proc/self/fd` (and the fdinfo of each epoll instance) for socket `inode`.
    fn find(inode: u64) -> Result<References, Refusal> {
        let mut found = References {
            numbers: [0; MAX_NUMBERS],
            number_count: 0,
            registrations: [Registration::default(); MAX_REGISTRATIONS],
            registration_count: 0,
        };
        let mut epolls = [0 as c_int; MAX_EPOLLS];
        let mut epoll_count = 0;
        let mut wanted = [0u8; 32];
        let wanted = socket_link(inode, &mut wanted);
        let directory = sys::open_read(c"/proc/self/fd", libc::O_DIRECTORY)?;
        let mut entries = [0u8; 4096];
        loop {
            let len = sys::directory_entries(directory.0, &mut entries)?;
            if len == 0 {
                break;
            }
            let mut offset = 0;
            while offset + 19 < len {
                // struct linux_dirent64: u64 ino, i64 off, u16 reclen, u8 type, name (NUL-ended).
                let (Some(&low), Some(&high)) =
                    (entries.get(offset + 16), entries.get(offset + 17))
                else {
                    break;
                };
                let record_len = usize::from(u16::from_ne_bytes([low, high]));
                let record = entries
                    .get(offset..(offset + record_len).min(len))
                    .unwrap_or_default();
                offset += record_len.max(1);
                let Some(name) = record
                    .get(19..)
                    .and_then(|n| CStr::from_bytes_until_nul(n).ok())
                else {
                    continue;
                };
                let Some(number) = parse_decimal(name.to_bytes()) else {
                    continue; // "." and ".."
                };
                if number == directory.0 {
                    continue;
                }
                let mut link = [0u8; 64];
                let Ok(target) = sys::read_link_at(directory.0, name, &mut link) else {
                    continue; // closed meanwhile
                };
                if target == wanted {
                    *found
                        .numbers
                        .get_mut(found.number_count)
                        .ok_or(Refusal::Shared)? = number;
                    found.number_count += 1;
                } else if target == b"anon_inode:[eventpoll]" {
                    *epolls.get_mut(epoll_count).ok_or(Refusal::Epoll)? = number;
                    epoll_count += 1;
                } else if target == b"anon_inode:[io_uring]" {
                    return Err(Refusal::IoUring);
                }
            }
        }
        for &epoll in epolls.iter().take(epoll_count) {
            found.read_registrations(epoll, inode)?;
        }
        Ok(found)
    }

    /// Adds the registrations of socket `inode` in epoll instance `epoll`, from its fdinfo lines
    /// `tfd: N events: HEX data: HEX pos:N ino:HEX sdev:HEX`.
    fn read_registrations(&mut self, epoll: c_int, inode: u64) -> Result<(), Refusal> {
        let mut path = [0u8; 40];
        let path = fdinfo_path(epoll, &mut path);
        let Ok(file) = sys::open_read(path, 0) else {
            return Ok(()); // closed meanwhile
        };
        let mut buffer = [0u8; 4096];
        let mut filled = 0;
        loop {
            let read = sys::read(file.0, buffer.get_mut(filled..).unwrap_or_default())?;
            filled = (filled + read).min(buffer.len());
            let mut start = 0;
            while let Some(rest) = buffer.get(start..filled)
                && let Some(end) = rest.iter().position(|&b| b == b'\n')
            {
                let line = rest.get(..end).unwrap_or_default();
                start += end + 1;
                if let Some(line) = parse_registration(line)
                    && line.1 == inode
                {
                    let mut registration = line.0;
                    if registration.events & !EPOLL_PRIVATE_BITS == 0 {
                        // A fired EPOLLONESHOT registration: re-adding it would arm it again.
                        return Err(Refusal::Epoll);
                    }
                    if !self.numbers().contains(&registration.number) {
                        return Err(Refusal::Epoll); // added through a number since closed
                    }
                    registration.epoll = epoll;
                    *self
                        .registrations
                        .get_mut(self.registration_count)
                        .ok_or(Refusal::Epoll)? = registration;
                    self.registration_count += 1;
                }
            }
            filled = move_to_start(&mut buffer, start, filled);
            if read == 0 {
                return Ok(());
            }
            if filled == buffer.len() {
                return Err(Refusal::Epoll); // a line longer than any the kernel writes
            }
        }
    }
}

/// Moves `buffer[start..end]` to the start of `buffer`; its length (a byte loop without
/// panicking paths: cold code, a few bytes).
fn move_to_start(buffer: &mut [u8], start: usize, end: usize) -> usize {
    let mut moved = 0;
    while start + moved < end
        && let Some(&byte) = buffer.get(start + moved)
        && let Some(slot) = buffer.get_mut(moved)
    {
        *slot = byte;
        moved += 1;
    }
    moved
}

/// `socket:[INODE]`, the `/proc/self/fd` link of a socket, written into `buffer`.
fn socket_link(inode: u64, buffer: &mut [u8; 32]) -> &[u8] {
    let prefix = b"socket:[";
    let (head, digits) = buffer.split_at_mut(prefix.len());
    head.copy_from_slice(prefix);
    let len = prefix.len() + write_decimal(inode, digits);
    if let Some(end) = buffer.get_mut(len) {
        *end = b']';
    }
    buffer.get(..=len).unwrap_or_default()
}

/// `/proc/self/fdinfo/N`, NUL-terminated, written into `buffer`.
fn fdinfo_path(fd: c_int, buffer: &mut [u8; 40]) -> &CStr {
    let prefix = b"/proc/self/fdinfo/";
    let (head, digits) = buffer.split_at_mut(prefix.len());
    head.copy_from_slice(prefix);
    let len = prefix.len() + write_decimal(fd.unsigned_abs().into(), digits);
    if let Some(end) = buffer.get_mut(len) {
        *end = 0;
    }
    buffer
        .get(..=len)
        .and_then(|path| CStr::from_bytes_with_nul(path).ok())
        .unwrap_or(c"/proc/self/fdinfo/")
}

/// Writes `value` in decimal at the start of `out` (which holds at least 20 bytes: a shorter
/// one gets the leading digits); its length.
fn write_decimal(mut value: u64, out: &mut [u8]) -> usize {
    let mut digits = [0u8; 20];
    let mut count = 0;
    for slot in digits.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        count += 1;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    let digits = digits.get(digits.len() - count..).unwrap_or_default();
    for (to, from) in out.iter_mut().zip(digits) {
        *to = *from;
    }
    digits.len().min(out.len())
}

/// A non-negative decimal number (a descriptor), digits only.
fn parse_decimal(text: &[u8]) -> Option<c_int> {
    let value = parse_digits(text, 10)?;
    c_int::try_from(value).ok()
}

/// A hexadecimal number, digits only (as in `/proc/self/fdinfo`).
fn parse_hex(text: &[u8]) -> Option<u64> {
    parse_digits(text, 16)
}

/// Digits of `radix` (no sign, no prefix, at least one) as a number, `None` on overflow.
fn parse_digits(text: &[u8], radix: u32) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    text.iter().try_fold(0u64, |value, &byte| {
        let digit = char::from(byte).to_digit(radix)?;
        value
            .checked_mul(u64::from(radix))?
            .checked_add(u64::from(digit))
    })
}

/// One `tfd:` line of an epoll fdinfo: the registration (without its instance) and the inode.
fn parse_registration(line: &[u8]) -> Option<(Registration, u64)> {
    let mut words = line
        .split(u8::is_ascii_whitespace)
        .filter(|w| !w.is_empty());
    if words.next()? != b"tfd:" {
        return None;
    }
    let number = parse_decimal(words.next()?)?;
    let mut registration = Registration {
        number,
        ..Registration::default()
    };
    let mut inode = None;
    while let Some(word) = words.next() {
        match word {
            b"events:" => registration.events = u32::try_from(parse_hex(words.next()?)?).ok()?,
            b"data:" => registration.data = parse_hex(words.next()?)?,
            _ => {
                if let Some(hex) = word.strip_prefix(b"ino:") {
                    inode = Some(parse_hex(hex)?);
                }
            }
        }
    }
    Some((registration, inode?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoll_fdinfo_lines_parse() {
        let line = b"tfd:        3 events: 80000019 data:                7  pos:0 ino:200f sdev:9";
        let (registration, inode) = parse_registration(line).unwrap();
        assert_eq!(registration.number, 3);
        assert_eq!(registration.events, 0x8000_0019);
        assert_eq!(registration.data, 7);
        assert_eq!(inode, 0x200f);
        assert!(parse_registration(b"pos:\t0").is_none());
        assert!(parse_registration(b"tfd: x events: 1").is_none());
        assert_eq!(parse_decimal(b"1048575"), Some(1_048_575));
        assert_eq!(parse_decimal(b"."), None);
        assert_eq!(parse_decimal(b""), None);
        assert_eq!(parse_decimal(b"99999999999"), None);
        assert_eq!(parse_hex(b"80000019"), Some(0x8000_0019));
        assert_eq!(parse_hex(b"ffffffffffffffffff"), None);
    }

    #[test]
    fn links_and_paths_are_written_without_allocating() {
        let mut buffer = [0u8; 32];
        assert_eq!(socket_link(8207, &mut buffer), b"socket:[8207]");
        assert_eq!(
            socket_link(u64::MAX, &mut buffer),
            b"socket:[18446744073709551615]"
        );
        let mut path = [0u8; 40];
        assert_eq!(
            fdinfo_path(1_048_575, &mut path),
            c"/proc/self/fdinfo/1048575"
        );
    }

    #[test]
    fn levels_follow_the_family() {
        assert!(carried(false, IPPROTO_IP, libc::IP_FREEBIND).is_some());
        assert!(carried(false, IPPROTO_IPV6, libc::IPV6_FREEBIND).is_none());
        assert!(carried(true, IPPROTO_IPV6, libc::IPV6_FREEBIND).is_some());
        assert!(carried(true, IPPROTO_IP, libc::IP_TOS).is_some());
        assert!(carried(true, IPPROTO_TCP, libc::TCP_MD5SIG).is_none());
        assert_eq!(option_name(IPPROTO_TCP, 18).to_string(), "TCP_USER_TIMEOUT");
        assert_eq!(
            option_name(SOL_SOCKET, libc::SO_DONTROUTE).to_string(),
            "SO_DONTROUTE"
        );
        assert!(remembered_bit(SOL_SOCKET, libc::SO_SELECT_ERR_QUEUE).is_some());
        assert!(remembered_bit(IPPROTO_TCP, libc::SO_DONTROUTE).is_none());
    }
}
