//! The symbols we export into the host process, and nothing else.
//!
//! Each hook is a few lines: it calls safe code and turns its `Result` into `-1`/errno. A panic
//! (a bug of ours) is caught here and degrades to the plain call, so it never crosses the C
//! boundary.

use crate::{direction, rewrite, sockopt, sys};
use libc::{c_int, c_void, socklen_t};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// `socket(2)`, with TCP stream sockets turned into MPTCP ones where the kernel allows.
///
/// # Safety
/// Called by C code with integer arguments only; it has no pointer preconditions.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    let result = catch_unwind(AssertUnwindSafe(|| rewrite::socket(domain, ty, protocol)))
        .unwrap_or_else(|_| sys::next_socket(domain, ty, protocol));
    sys::to_c(result)
}

/// `setsockopt(2)`, retried on a TCP socket when MPTCP refuses an option on a socket we made MPTCP.
///
/// # Safety
/// The caller's contract of `setsockopt(2)`: `len` readable bytes at `value`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: socklen_t,
) -> c_int {
    // SAFETY: the caller's own arguments, passed on unchanged.
    let attempt = || unsafe { sockopt::setsockopt(fd, level, name, value, len) };
    // SAFETY: as above, for the plain call after a caught panic.
    let plain = || unsafe { sys::next_setsockopt(fd, level, name, value, len) };
    let result = catch_unwind(AssertUnwindSafe(attempt)).unwrap_or_else(|_| plain());
    sys::to_c(result.map(|()| 0))
}

/// `listen(2)`, with the socket first switched to the protocol the direction mode wants.
///
/// # Safety
/// Called by C code with integer arguments only.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn listen(fd: c_int, backlog: c_int) -> c_int {
    let result = catch_unwind(AssertUnwindSafe(|| direction::listen(fd, backlog)))
        .unwrap_or_else(|_| sys::next_listen(fd, backlog));
    sys::to_c(result.map(|()| 0))
}
