//! The new socket of a switch: made in the same place by the same user, with every option the
//! program changed (read back to prove it took), owner and signal, status flags and bound address.

use super::NotSwitched;
use crate::sys::{self, Errno, OwnedFd};
use crate::tracked;
use libc::{IPPROTO_TCP, SOL_SOCKET, c_int};
use mptcpize_core::options::{CARRIED, Carried, Label, REMEMBERED, Value, level_applies};

/// `SO_NETNS_COOKIE` (Linux ≥ 5.14; not in `libc`): the socket's network namespace.
const SO_NETNS_COOKIE: c_int = 71;

/// The bytes of a local address, for comparing two reads of it.
pub(super) fn address_bytes(address: &libc::sockaddr_storage, len: libc::socklen_t) -> [u8; 28] {
    let mut bytes = [0u8; 28];
    // SAFETY: sockaddr_storage is plain data at least 28 bytes long.
    let all = unsafe {
        core::slice::from_raw_parts((address as *const libc::sockaddr_storage).cast::<u8>(), 28)
    };
    let used = (len as usize).min(28);
    bytes[..used].copy_from_slice(&all[..used]);
    bytes
}

/// The largest option value carried (`TCP_CONGESTION` and `SO_BINDTODEVICE` are 16 bytes,
/// `IP_OPTIONS` 40).
const VALUE_BYTES: usize = 64;

/// The new socket: every changed option, owner and signal, bound address, status flags.
pub(super) fn build(
    fd: c_int,
    domain: c_int,
    ty: c_int,
    old_protocol: c_int,
    protocol: c_int,
    inet6: bool,
) -> Result<OwnedFd, NotSwitched> {
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
        return Err(NotSwitched::Context);
    }
    let new = OwnedFd(sys::next_socket(domain, ty | libc::SOCK_CLOEXEC, protocol)?);
    for option in CARRIED.iter().filter(|o| level_applies(inet6, o.level)) {
        match carry(option, fd, reference.0, new.0) {
            Err(NotSwitched::Option(_))
                if protocol == libc::IPPROTO_MPTCP && kept_as_advisory(option, fd, reference.0) => {
            }
            carried => carried?,
        }
    }
    let flags = tracked::flags(fd);
    for (index, &(name, label)) in REMEMBERED.iter().enumerate() {
        if flags & (1 << (tracked::REMEMBERED_SHIFT + index as u32)) != 0 {
            let taken = sys::set_int_option(new.0, SOL_SOCKET, name, 1)
                .and_then(|()| sys::get_int_option(new.0, SOL_SOCKET, name));
            // MPTCP reads these back as 0 even when it took them.
            if !(taken == Ok(1) || (protocol == libc::IPPROTO_MPTCP && taken.is_ok())) {
                return Err(NotSwitched::Option(Label::new(label)));
            }
        }
    }
    // Advisory options MPTCP kept from the program (`+advisory`): the values it was answered,
    // set for real on a TCP socket.
    let mut advisory_carried = Ok(());
    let to_tcp = protocol == libc::IPPROTO_TCP;
    crate::advisory::each_kept(fd, |level, name, value| {
        if !to_tcp {
            return;
        }
        let taken = sys::set_int_option(new.0, level, name, value)
            .and_then(|()| sys::get_int_option(new.0, level, name));
        if advisory_carried.is_ok() && taken != Ok(value) {
            let label = CARRIED
                .iter()
                .find(|option| option.level == level && option.name == name)
                .map_or(Label::new("an advisory option"), |option| option.label);
            advisory_carried = Err(NotSwitched::Option(label));
        }
    });
    advisory_carried?;
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

/// An option of the TCP socket `old` that its MPTCP replacement refused: under the advisory
/// policy (`+advisory`), when it is one the policy covers with this value, it is kept for
/// `getsockopt()` instead ([`crate::advisory`]) and the socket becomes MPTCP all the same (a
/// `listen`-mode server that sets `TCP_USER_TIMEOUT` on its listener).
fn kept_as_advisory(option: &Carried, old: c_int, reference: c_int) -> bool {
    let Some((index, row)) = mptcpize_core::advisory::find(option.level, option.name) else {
        return false;
    };
    let Ok(value) = sys::get_int_option(old, option.level, option.name) else {
        return false;
    };
    let default = sys::get_int_option(reference, option.level, option.name).ok();
    crate::setup::advisory()
        && row.covers(value, default)
        && crate::advisory::keep(old, index, value)
}

/// Copies one option from `old` to `new` when the program changed it (it differs from
/// `reference`, a fresh socket of the old kind), and proves it took by reading it back.
fn carry(option: &Carried, old: c_int, reference: c_int, new: c_int) -> Result<(), NotSwitched> {
    let &Carried {
        level,
        name,
        label,
        value: value_kind,
    } = option;
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
    let set = if value_kind == Value::Doubled
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
        _ => Err(NotSwitched::Option(label)),
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
