//! The first of the library's answers on a socket that cannot be switched
//! (crates/preload/src/established.rs), kept by the supervisor: an option MPTCP refuses, set to a
//! value that changes nothing — what the socket reports, or what a fresh TCP socket reports
//! (`IP_TTL` 64 after `connect()`, a runtime copying a listener's options onto each accepted
//! connection) — succeeds, as over TCP. Any other value keeps the kernel's error.
//!
//! The value is read from the caller's memory (`process_vm_readv`: the same permission as
//! `pidfd_getfd`), at most [`VALUE_BYTES`], and trusted only if the call still waits afterwards.

use super::listener::Listener;
use super::remote::Process;
use std::io;
use std::os::fd::OwnedFd;

/// The longest option value compared.
const VALUE_BYTES: usize = 64;

/// The caller's `setsockopt(fd, level, name, value, length)`.
pub struct Call {
    pub id: u64,
    pub tid: u32,
    pub fd: libc::c_int,
    pub level: libc::c_int,
    pub name: libc::c_int,
    pub value: u64,
    pub length: u32,
}

/// Whether the call sets an MPTCP socket's option to a value that changes nothing;
/// `tcp_default` makes a fresh TCP socket of the given family where the caller's would be.
pub fn changes_nothing(
    listener: &Listener,
    call: &Call,
    tcp_default: impl FnOnce(libc::c_int) -> io::Result<OwnedFd>,
) -> io::Result<bool> {
    let length = call.length as usize;
    if length == 0 || length > VALUE_BYTES {
        return Ok(false);
    }
    let process = Process::of_thread(call.tid)?;
    let socket = process.copy(call.fd)?;
    let mut given = [0u8; VALUE_BYTES];
    let local = libc::iovec {
        iov_base: given.as_mut_ptr().cast(),
        iov_len: length,
    };
    let remote = libc::iovec {
        iov_base: call.value as *mut libc::c_void,
        iov_len: length,
    };
    // SAFETY: one local iovec over `given` (writable for `length` ≤ its size), one remote
    // iovec naming the caller's buffer, which the kernel reads in the caller's address space.
    let read = unsafe { libc::process_vm_readv(call.tid as libc::pid_t, &local, 1, &remote, 1, 0) };
    if read != length as isize || !listener.still_valid(call.id) {
        return Ok(false);
    }
    let given = &given[..length];
    if option(&socket, libc::SOL_SOCKET, libc::SO_PROTOCOL)
        .is_none_or(|protocol| protocol != libc::IPPROTO_MPTCP.to_ne_bytes())
    {
        return Ok(false);
    }
    if option(&socket, call.level, call.name).is_some_and(|current| current == given) {
        return Ok(true);
    }
    let domain = option(&socket, libc::SOL_SOCKET, libc::SO_DOMAIN)
        .and_then(|bytes| <[u8; 4]>::try_from(bytes.as_slice()).ok());
    let Some(domain) = domain else {
        return Ok(false);
    };
    let fresh = tcp_default(i32::from_ne_bytes(domain))?;
    Ok(option(&fresh, call.level, call.name).is_some_and(|default| default == given))
}

/// An option's value, as many bytes as the kernel gives (`None` when it refuses to read it).
fn option(socket: &OwnedFd, level: libc::c_int, name: libc::c_int) -> Option<Vec<u8>> {
    let mut value = [0u8; VALUE_BYTES];
    let length = super::switch::get_option(socket, level, name, &mut value).ok()?;
    Some(value[..length].to_vec())
}
