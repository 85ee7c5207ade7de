//! The supervisor's switch: a socket it made for a caller becomes one of the other protocol
//! behind the same number, as the preload's switch does inside a process: MPTCP to TCP when the
//! caller sets an option this kernel's MPTCP refuses before the socket started (Go's
//! `Dialer.Control` setting `IP_TTL`), or at `listen()` in the direction modes (TCP to MPTCP in
//! `listen`, MPTCP to TCP in `connect`).
//!
//! The same rule: **a switch happens only when it is invisible**; if any check fails the socket
//! stays as it is and the caller's own call gets the kernel's answer. In order:
//! 1. **Ours**: the socket behind the number ([`crate::remote`]: a copy by `pidfd_getfd`) is one
//!    the supervisor made (its inode is remembered), still of the protocol it is switched from.
//! 2. **Never started**: `TCP_CLOSE`, not listening, no peer.
//! 3. **Held nowhere else** the supervisor can see: no other number of the process, no
//!    descendant, no epoll registration.
//! 4. **Everything carried**: each option of mptcpize-core's `options::CARRIED` that differs
//!    from a fresh socket's of the old protocol, set on the new one and read back (an option
//!    MPTCP refuses keeps a socket TCP); owner and signal; status
//!    flags; the bound address (both hold it for a moment, with `SO_REUSEADDR`, put back after).
//!    The new socket and the fresh one are made where the caller's would be (its network
//!    namespace, its credentials).
//! 5. **Still the same**: the number is read again just before the new socket replaces the old
//!    one (`SECCOMP_IOCTL_NOTIF_ADDFD` with `SECCOMP_ADDFD_FLAG_SETFD`, the number's
//!    close-on-exec flag kept). Then the caller's call runs on the new socket (`CONTINUE`).
//!
//! What it cannot see, unlike the preload: options MPTCP takes but reads back as 0
//! (`options::REMEMBERED`, such as `SO_BROADCAST`) are not carried; a socket passed to an
//! unrelated process with `SCM_RIGHTS` before it started; another thread of the caller that
//! closes or duplicates the number between the last check and the replacement.

use super::listener::Listener;
use super::remote::{self, Process};
use mptcpize_core::options::{CARRIED, Carried, Value, level_applies};
use std::collections::HashSet;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// `F_SETSIG`/`F_GETSIG` (fcntl.h; not in the libc crate).
const F_SETSIG: libc::c_int = 10;
const F_GETSIG: libc::c_int = 11;
/// The state of a socket that never connected.
const TCP_CLOSE: u8 = 7;
/// The largest option value carried (`IP_OPTIONS` is 40 bytes).
const VALUE_BYTES: usize = 64;
/// How many sockets the supervisor remembers having made (past it, it starts afresh: the
/// older ones are then never switched).
const REMEMBERED_SOCKETS: usize = 1 << 16;

/// Why a socket was not switched.
#[derive(Debug)]
pub enum NotSwitched {
    /// Not a socket the supervisor made, or not of the protocol switched from.
    NotOurs,
    /// It has connected, listens, or has a peer.
    Started,
    /// It is held somewhere else too.
    Shared(&'static str),
    /// An option could not be carried.
    Option(String),
    /// The number holds another socket now.
    Changed,
    /// A step failed.
    Failed(io::Error),
}

impl From<io::Error> for NotSwitched {
    fn from(error: io::Error) -> NotSwitched {
        NotSwitched::Failed(error)
    }
}

impl fmt::Display for NotSwitched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotSwitched::NotOurs => {
                f.write_str("not a socket the supervisor made, of the protocol switched from")
            }
            NotSwitched::Started => f.write_str("it has connected or listens"),
            NotSwitched::Shared(where_) => write!(f, "it is held elsewhere too ({where_})"),
            NotSwitched::Option(name) => write!(f, "{name} cannot be carried"),
            NotSwitched::Changed => f.write_str("its number holds another socket now"),
            NotSwitched::Failed(error) => write!(f, "a step failed ({error})"),
        }
    }
}

/// The sockets the supervisor made, by inode.
#[derive(Default)]
pub struct Made(HashSet<u64>);

impl Made {
    pub fn remember(&mut self, socket: &OwnedFd) {
        if let Ok(inode) = remote::inode(socket) {
            if self.0.len() >= REMEMBERED_SOCKETS {
                self.0.clear();
            }
            self.0.insert(inode);
        }
    }
}

/// Replaces the socket behind `fd` in the process of thread `tid` with one of `protocol` (TCP or
/// MPTCP; the old one must be of the other), while notification `id` (a call on that number)
/// waits. `make(domain, protocol)` makes a socket where the caller's own would be made. On `Ok`
/// the caller's call must be let run (`CONTINUE`).
pub fn to(
    protocol: libc::c_int,
    listener: &Listener,
    id: u64,
    tid: u32,
    fd: RawFd,
    made: &mut Made,
    mut make: impl FnMut(libc::c_int, libc::c_int) -> io::Result<OwnedFd>,
) -> Result<(), NotSwitched> {
    let from = if protocol == libc::IPPROTO_TCP {
        libc::IPPROTO_MPTCP
    } else {
        libc::IPPROTO_TCP
    };
    let process = Process::of_thread(tid)?;
    let old = process.copy(fd)?;
    // What was read belongs to the caller only while its call waits.
    if !listener.still_valid(id) {
        return Err(NotSwitched::Changed);
    }
    let inode = remote::inode(&old)?;
    if !made.0.contains(&inode) || int_option(&old, libc::SOL_SOCKET, libc::SO_PROTOCOL)? != from {
        return Err(NotSwitched::NotOurs);
    }
    if !never_started(&old)? {
        return Err(NotSwitched::Started);
    }
    if let Some(holder) = process.other_holder(fd, inode)? {
        return Err(NotSwitched::Shared(holder));
    }
    let domain = int_option(&old, libc::SOL_SOCKET, libc::SO_DOMAIN)?;
    let new = build(&old, domain, from, protocol, &mut make)?;
    let cloexec = process.close_on_exec(fd)?;
    // The number must still hold the socket checked above.
    let again = process.copy(fd)?;
    if remote::inode(&again)? != inode {
        return Err(NotSwitched::Changed);
    }
    drop(again);
    listener.replace_fd(id, new.as_raw_fd(), fd, cloexec)?;
    made.0.remove(&inode);
    made.remember(&new);
    Ok(())
}

/// `TCP_CLOSE`, not listening, and no peer: it never began to connect or listen.
fn never_started(socket: &OwnedFd) -> io::Result<bool> {
    let mut info = [0u8; 8];
    let state = get_option(socket, libc::IPPROTO_TCP, libc::TCP_INFO, &mut info)
        .ok()
        .and_then(|length| (length > 0).then_some(info[0]));
    if state != Some(TCP_CLOSE) || int_option(socket, libc::SOL_SOCKET, libc::SO_ACCEPTCONN)? != 0 {
        return Ok(false);
    }
    // SAFETY: a zeroed sockaddr_storage is valid and large enough for any address.
    let mut peer: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut length = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: a descriptor we hold, a writable address and its length.
    let connected =
        unsafe { libc::getpeername(socket.as_raw_fd(), (&raw mut peer).cast(), &mut length) } == 0;
    Ok(!connected)
}

/// The new socket of `protocol`, with everything of `old` (of protocol `from`) carried.
fn build(
    old: &OwnedFd,
    domain: libc::c_int,
    from: libc::c_int,
    protocol: libc::c_int,
    make: &mut impl FnMut(libc::c_int, libc::c_int) -> io::Result<OwnedFd>,
) -> Result<OwnedFd, NotSwitched> {
    let inet6 = domain == libc::AF_INET6;
    let reference = make(domain, from)?;
    // A receive buffer the program set keeps a socket TCP where MPTCP stalls with it.
    if protocol == libc::IPPROTO_MPTCP
        && super::refused::slow_receive_buffer()
        && int_option(old, libc::SOL_SOCKET, libc::SO_RCVBUF)?
            != int_option(&reference, libc::SOL_SOCKET, libc::SO_RCVBUF)?
    {
        return Err(NotSwitched::Option(
            "SO_RCVBUF (this kernel's MPTCP stalls with it)".into(),
        ));
    }
    let new = make(domain, protocol)?;
    for option in CARRIED.iter().filter(|o| level_applies(inet6, o.level)) {
        carry(option, old, &reference, &new)?;
    }
    // Owner and signal, status flags (O_NONBLOCK): the open file's, which the copy shares.
    // SAFETY: fcntl with integer arguments on descriptors we hold.
    unsafe {
        let owner = libc::fcntl(old.as_raw_fd(), libc::F_GETOWN);
        if owner != 0 {
            libc::fcntl(new.as_raw_fd(), libc::F_SETOWN, owner);
        }
        let signal = libc::fcntl(old.as_raw_fd(), F_GETSIG);
        if signal > 0 {
            libc::fcntl(new.as_raw_fd(), F_SETSIG, signal);
        }
        let status = libc::fcntl(old.as_raw_fd(), libc::F_GETFL);
        if status < 0 || libc::fcntl(new.as_raw_fd(), libc::F_SETFL, status) < 0 {
            return Err(io::Error::last_os_error().into());
        }
    }
    rebind(old, &new)?;
    Ok(new)
}

/// Copies one option from `old` when it differs from `reference` (a fresh socket of its kind),
/// and proves it took by reading it back from `new`.
fn carry(
    option: &Carried,
    old: &OwnedFd,
    reference: &OwnedFd,
    new: &OwnedFd,
) -> Result<(), NotSwitched> {
    let mut value = [0u8; VALUE_BYTES];
    let mut default = [0u8; VALUE_BYTES];
    let Ok(length) = get_option(old, option.level, option.name, &mut value) else {
        return Ok(()); // MPTCP cannot read it: it did not take it either
    };
    let value = &value[..length];
    if let Ok(default_length) = get_option(reference, option.level, option.name, &mut default)
        && value == &default[..default_length]
    {
        return Ok(());
    }
    let set = if option.value == Value::Doubled
        && let Ok(bytes) = <[u8; 4]>::try_from(value)
    {
        let halved = (i32::from_ne_bytes(bytes) / 2).to_ne_bytes();
        set_option(new, option.level, option.name, &halved)
    } else if (option.level, option.name) == (libc::IPPROTO_TCP, libc::TCP_CONGESTION) {
        let name = value.split(|&b| b == 0).next().unwrap_or_default();
        set_option(new, option.level, option.name, name)
    } else {
        set_option(new, option.level, option.name, value)
    };
    let mut taken = [0u8; VALUE_BYTES];
    match (set, get_option(new, option.level, option.name, &mut taken)) {
        (Ok(()), Ok(taken_length)) if &taken[..taken_length] == value => Ok(()),
        _ => Err(NotSwitched::Option(option.label.to_string())),
    }
}

/// Binds `new` to `old`'s local address when `old` is bound: both hold it for a moment, which
/// the kernel allows when both have `SO_REUSEADDR` and neither listens; put back after.
fn rebind(old: &OwnedFd, new: &OwnedFd) -> io::Result<()> {
    // SAFETY: a zeroed sockaddr_storage is valid and large enough for any address.
    let mut address: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut length = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: a descriptor we hold, a writable address and its length.
    if unsafe { libc::getsockname(old.as_raw_fd(), (&raw mut address).cast(), &mut length) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if !is_bound(&address) {
        return Ok(());
    }
    let reuse = libc::SO_REUSEADDR;
    let old_reuse = int_option(old, libc::SOL_SOCKET, reuse)?;
    let new_reuse = int_option(new, libc::SOL_SOCKET, reuse)?;
    set_option(old, libc::SOL_SOCKET, reuse, &1i32.to_ne_bytes())?;
    let bound = set_option(new, libc::SOL_SOCKET, reuse, &1i32.to_ne_bytes())
        .and_then(|()| {
            // SAFETY: the address getsockname wrote, with its length.
            let rc = unsafe { libc::bind(new.as_raw_fd(), (&raw const address).cast(), length) };
            if rc == 0 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            }
        })
        .and_then(|()| set_option(new, libc::SOL_SOCKET, reuse, &new_reuse.to_ne_bytes()));
    // The caller's socket as it was, whatever happened.
    let _ = set_option(old, libc::SOL_SOCKET, reuse, &old_reuse.to_ne_bytes());
    bound
}

/// Whether a local address is more than the unbound `0.0.0.0:0` / `[::]:0`.
fn is_bound(address: &libc::sockaddr_storage) -> bool {
    match libc::c_int::from(address.ss_family) {
        libc::AF_INET => {
            // SAFETY: ss_family says the storage holds a sockaddr_in.
            let v4 = unsafe { &*(&raw const *address).cast::<libc::sockaddr_in>() };
            v4.sin_port != 0 || v4.sin_addr.s_addr != 0
        }
        libc::AF_INET6 => {
            // SAFETY: ss_family says the storage holds a sockaddr_in6.
            let v6 = unsafe { &*(&raw const *address).cast::<libc::sockaddr_in6>() };
            v6.sin6_port != 0 || v6.sin6_addr.s6_addr != [0; 16]
        }
        _ => false,
    }
}

/// `getsockopt()` into `value`: how many bytes the kernel gave.
pub(crate) fn get_option(
    socket: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &mut [u8],
) -> io::Result<usize> {
    let mut length = value.len() as libc::socklen_t;
    // SAFETY: a descriptor we hold; `value` is writable for `length` bytes.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            level,
            name,
            value.as_mut_ptr().cast(),
            &mut length,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((length as usize).min(value.len()))
}

fn set_option(
    socket: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &[u8],
) -> io::Result<()> {
    // SAFETY: a descriptor we hold; `value` is readable for its length.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            value.as_ptr().cast(),
            value.len() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn int_option(socket: &OwnedFd, level: libc::c_int, name: libc::c_int) -> io::Result<libc::c_int> {
    let mut value = [0u8; 4];
    get_option(socket, level, name, &mut value)?;
    Ok(i32::from_ne_bytes(value))
}
