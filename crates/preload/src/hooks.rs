//! The symbols we export into the host process, and nothing else.
//!
//! Each hook is a few lines: it calls safe code and turns its `Result` into `-1`/errno. Nothing
//! is caught here: the library is linked so that no panic can exist in it (see lib.rs).
//! `socket`, `setsockopt`, `getsockopt` and `listen` do the work; the others only keep
//! [`crate::tracked`] true (which numbers hold a socket we may still switch): each adds one
//! relaxed load to the call when the number is not one of ours (the process-creating ones walk
//! the table once). `chroot` only sets the library up before the filesystem goes.

use crate::{direction, events, reach, rewrite, setup, sockopt, sys};
use libc::{c_int, c_uint, c_ulong, c_void, size_t, socklen_t, ssize_t};

/// `socket(2)`, with TCP stream sockets turned into MPTCP ones where the kernel allows.
///
/// # Safety
/// Called by C code with integer arguments only; it has no pointer preconditions.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    rewrite::socket(domain, ty, protocol)
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
    let result = unsafe { sockopt::setsockopt(fd, level, name, value, len) };
    sys::to_c(result.map(|()| 0))
}

/// `listen(2)`, with the socket first switched to the protocol the direction mode wants.
///
/// # Safety
/// Called by C code with integer arguments only.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn listen(fd: c_int, backlog: c_int) -> c_int {
    sys::to_c(direction::listen(fd, backlog).map(|()| 0))
}

/// `connect(2)`: the socket has started and may never be switched.
///
/// # Safety
/// The caller's contract of `connect(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn connect(
    fd: c_int,
    address: *const libc::sockaddr,
    len: socklen_t,
) -> c_int {
    // SAFETY: the caller's own arguments, passed on unchanged.
    let call = || unsafe { sys::raw_connect(fd, address, len) };
    events::connect(fd, call)
}

/// `accept(2)`: a connection accepted on our listener is ours too (never switched; it answers
/// refused options as [`crate::established`] says).
///
/// # Safety
/// The caller's contract of `accept(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accept(
    fd: c_int,
    address: *mut libc::sockaddr,
    len: *mut socklen_t,
) -> c_int {
    // SAFETY: the caller's own arguments, passed on unchanged.
    let accepted = unsafe { sys::raw_accept(fd, address, len) };
    events::accepted(fd, accepted);
    accepted
}

/// `accept4(2)`: as `accept`.
///
/// # Safety
/// The caller's contract of `accept4(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accept4(
    fd: c_int,
    address: *mut libc::sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    // SAFETY: the caller's own arguments, passed on unchanged.
    let accepted = unsafe { sys::raw_accept4(fd, address, len, flags) };
    events::accepted(fd, accepted);
    accepted
}

/// `close(2)`: the number no longer holds our socket.
///
/// # Safety
/// The caller's contract of `close(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    events::closed(fd);
    // SAFETY: the caller's own argument.
    unsafe { sys::raw_close(fd) }
}

/// `close_range(2)`: none of these numbers holds our socket any more.
///
/// # Safety
/// The caller's contract of `close_range(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int {
    events::closed_range(first, last, flags);
    // SAFETY: the caller's own arguments.
    unsafe { sys::raw_close_range(first, last, flags) }
}

/// `closefrom(3)`: none of these numbers holds our socket any more.
///
/// # Safety
/// The caller's contract of `closefrom(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn closefrom(first: c_int) {
    events::closed_range(first.max(0) as c_uint, c_uint::MAX, 0);
    sys::next_closefrom(first);
}

/// `dup(2)`: the new number holds the same socket.
///
/// # Safety
/// The caller's contract of `dup(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup(old: c_int) -> c_int {
    // SAFETY: the caller's own argument.
    let new = unsafe { sys::raw_dup(old) };
    events::duplicated(old, new);
    new
}

/// `fcntl(2)`: with `F_DUPFD`/`F_DUPFD_CLOEXEC` (Python's `os.dup()` and `socket.dup()`) the new
/// number holds the same socket, as after `dup()`; every other command passes straight through.
/// Defined with three fixed arguments: on the Linux ABIs we build for, a variadic integer or
/// pointer argument arrives where a fixed one does (a command without one leaves a value there
/// that the C library does not read either).
///
/// # Safety
/// The caller's contract of `fcntl(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
    // SAFETY: the caller's own arguments.
    unsafe { fcntl_seen(fd, cmd, arg, false) }
}

/// `fcntl64`: the same (the name programs built with 64-bit file offsets call, glibc ≥ 2.28).
///
/// # Safety
/// The caller's contract of `fcntl(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fcntl64(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
    // SAFETY: the caller's own arguments.
    unsafe { fcntl_seen(fd, cmd, arg, true) }
}

/// The next `fcntl` (`fcntl64` when `large`), a duplicate it made recorded as `dup()`'s is.
///
/// # Safety
/// The caller's contract of `fcntl(2)`.
#[inline(always)]
unsafe fn fcntl_seen(fd: c_int, cmd: c_int, arg: c_ulong, large: bool) -> c_int {
    // SAFETY: the caller's own arguments.
    let result = unsafe { sys::raw_fcntl(fd, cmd, arg, large) };
    if cmd == libc::F_DUPFD || cmd == libc::F_DUPFD_CLOEXEC {
        events::duplicated(fd, result);
    }
    result
}

/// `dup2(2)`: `new` now holds `old`'s socket.
///
/// # Safety
/// The caller's contract of `dup2(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    // SAFETY: the caller's own arguments.
    let result = unsafe { sys::raw_dup2(old, new) };
    events::duplicated(old, result);
    result
}

/// `dup3(2)`: `new` now holds `old`'s socket.
///
/// # Safety
/// The caller's contract of `dup3(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    // SAFETY: the caller's own arguments.
    let result = unsafe { sys::raw_dup3(old, new, flags) };
    events::duplicated(old, result);
    result
}

/// `sendmsg(2)`: `MSG_FASTOPEN` starts a connection; `SCM_RIGHTS` gives sockets away.
///
/// # Safety
/// The caller's contract of `sendmsg(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sendmsg(fd: c_int, message: *const libc::msghdr, flags: c_int) -> ssize_t {
    events::sending(fd, flags);
    // SAFETY: the caller's message, about to be read by the kernel.
    unsafe { events::sending_descriptors(fd, message) };
    // SAFETY: the caller's own arguments.
    let sent = unsafe { sys::raw_sendmsg(fd, message, flags) };
    if sent >= 0 {
        // SAFETY: the kernel has just read the whole message without EFAULT.
        unsafe { events::sent_descriptors(message) };
    }
    sent
}

/// `sendmmsg(2)`: like `sendmsg`, for each message the kernel sent.
///
/// # Safety
/// The caller's contract of `sendmmsg(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sendmmsg(
    fd: c_int,
    messages: *mut libc::mmsghdr,
    count: c_uint,
    flags: c_int,
) -> c_int {
    events::sending(fd, flags);
    if !messages.is_null() {
        for i in 0..usize::try_from(count).unwrap_or(0) {
            // SAFETY: the caller's `count` messages, about to be read by the kernel.
            unsafe { events::sending_descriptors(fd, &raw const (*messages.add(i)).msg_hdr) };
        }
    }
    // SAFETY: the caller's own arguments.
    let sent = unsafe { sys::raw_sendmmsg(fd, messages, count, flags) };
    for i in 0..usize::try_from(sent).unwrap_or(0) {
        // SAFETY: the kernel has just read the first `sent` messages in full.
        unsafe { events::sent_descriptors(&raw const (*messages.add(i)).msg_hdr) };
    }
    sent
}

/// `shutdown(2)`: a shut-down socket has a state a switch would lose.
///
/// # Safety
/// The caller's contract of `shutdown(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shutdown(fd: c_int, how: c_int) -> c_int {
    events::shutting_down(fd);
    // SAFETY: the caller's own arguments.
    unsafe { sys::raw_shutdown(fd, how) }
}

/// `getsockopt(2)`: an option MPTCP will not read on a socket we made MPTCP reads as a TCP
/// socket's (the only values such a socket can have: see [`sockopt::getsockopt`]).
///
/// # Safety
/// The caller's contract of `getsockopt(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn getsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *mut c_void,
    len: *mut socklen_t,
) -> c_int {
    // SAFETY: the caller's own arguments, passed on unchanged.
    unsafe { sockopt::getsockopt(fd, level, name, value, len) }
}

/// `chroot(2)`: the set-up runs first, while the log companion and a log file can still be
/// found by their paths (a chrooted worker's first socket comes after it).
///
/// # Safety
/// The caller's contract of `chroot(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chroot(path: *const libc::c_char) -> c_int {
    setup::mode();
    // SAFETY: the caller's own argument.
    unsafe { sys::raw_chroot(path) }
}

/// `execve(3)`: sockets of ours the new program keeps become TCP first if they never started.
///
/// # Safety
/// The caller's contract of `execve`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn execve(
    path: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
) -> c_int {
    events::executing();
    let mut over = reach::HandOver::default();
    // SAFETY: the caller's own arguments.
    if unsafe { reach::hand_over(path, argv, envp, &mut over) }.is_some() {
        // SAFETY: the helper's path and vector, built above; the caller's environment.
        unsafe { sys::raw_execve(over.helper(), over.argv(), envp) };
    }
    // SAFETY: the caller's own arguments.
    unsafe { sys::raw_execve(path, argv, envp) }
}

/// `execv(3)`: sockets of ours the new program keeps become TCP first if they never started.
///
/// # Safety
/// The caller's contract of `execv`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn execv(
    path: *const libc::c_char,
    argv: *const *const libc::c_char,
) -> c_int {
    events::executing();
    let mut over = reach::HandOver::default();
    // SAFETY: the caller's own arguments; this process's environment.
    if unsafe { reach::hand_over(path, argv, core::ptr::null(), &mut over) }.is_some() {
        // SAFETY: the helper's path and vector, built above.
        unsafe { sys::raw_execv(over.helper(), over.argv()) };
    }
    // SAFETY: the caller's own arguments.
    unsafe { sys::raw_execv(path, argv) }
}

/// `execvp(3)`: sockets of ours the new program keeps become TCP first if they never started.
///
/// # Safety
/// The caller's contract of `execvp`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn execvp(
    file: *const libc::c_char,
    argv: *const *const libc::c_char,
) -> c_int {
    events::executing();
    let (mut searched, mut over) = (reach::Searched::default(), reach::HandOver::default());
    // SAFETY: the caller's own arguments; this process's environment.
    let path = unsafe { searched.find(file) };
    // SAFETY: the path found (or null), the caller's vector; this process's environment.
    if unsafe { reach::hand_over(path, argv, core::ptr::null(), &mut over) }.is_some() {
        // SAFETY: the helper's path and vector, built above.
        unsafe { sys::raw_execv(over.helper(), over.argv()) };
    }
    // SAFETY: the caller's own arguments.
    unsafe { sys::raw_execvp(file, argv) }
}

/// `execvpe(3)`: sockets of ours the new program keeps become TCP first if they never started.
///
/// # Safety
/// The caller's contract of `execvpe`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn execvpe(
    file: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
) -> c_int {
    events::executing();
    let (mut searched, mut over) = (reach::Searched::default(), reach::HandOver::default());
    // SAFETY: the caller's own arguments.
    let path = unsafe { searched.find(file) };
    // SAFETY: the path found (or null), the caller's vector and environment.
    if unsafe { reach::hand_over(path, argv, envp, &mut over) }.is_some() {
        // SAFETY: the helper's path and vector, built above; the caller's environment.
        unsafe { sys::raw_execve(over.helper(), over.argv(), envp) };
    }
    // SAFETY: the caller's own arguments.
    unsafe { sys::raw_execvpe(file, argv, envp) }
}

/// `fexecve(3)`: sockets of ours the new program keeps become TCP first if they never started.
///
/// # Safety
/// The caller's contract of `fexecve`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fexecve(
    fd: c_int,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
) -> c_int {
    events::executing();
    // SAFETY: the caller's own arguments.
    unsafe { sys::raw_fexecve(fd, argv, envp) }
}

/// `system(3)`: the child inherits every inheritable socket.
///
/// # Safety
/// The caller's contract of `system(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn system(command: *const libc::c_char) -> c_int {
    events::spawning();
    // SAFETY: the caller's own argument.
    unsafe { sys::raw_system(command) }
}

/// `popen(3)`: the child inherits every inheritable socket.
///
/// # Safety
/// The caller's contract of `popen(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn popen(
    command: *const libc::c_char,
    mode: *const libc::c_char,
) -> *mut libc::FILE {
    events::spawning();
    // SAFETY: the caller's own arguments.
    unsafe { sys::raw_popen(command, mode) }
}

/// `posix_spawn(3)`: the child inherits every inheritable socket.
///
/// # Safety
/// The caller's contract of `posix_spawn(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn posix_spawn(
    pid: *mut libc::pid_t,
    path: *const libc::c_char,
    actions: *const libc::posix_spawn_file_actions_t,
    attributes: *const libc::posix_spawnattr_t,
    argv: *const *mut libc::c_char,
    envp: *const *mut libc::c_char,
) -> c_int {
    events::spawning();
    // SAFETY: the caller's own arguments.
    if let Some(error) = unsafe { spawn_handed_over(pid, path, actions, attributes, argv, envp) } {
        return error;
    }
    // SAFETY: the caller's own arguments.
    unsafe { sys::raw_posix_spawn(pid, path, actions, attributes, argv, envp) }
}

/// `posix_spawnp(3)`: the child inherits every inheritable socket.
///
/// # Safety
/// The caller's contract of `posix_spawnp(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn posix_spawnp(
    pid: *mut libc::pid_t,
    file: *const libc::c_char,
    actions: *const libc::posix_spawn_file_actions_t,
    attributes: *const libc::posix_spawnattr_t,
    argv: *const *mut libc::c_char,
    envp: *const *mut libc::c_char,
) -> c_int {
    events::spawning();
    let mut searched = reach::Searched::default();
    // SAFETY: the caller's own arguments.
    let path = unsafe { searched.find(file) };
    // SAFETY: the caller's own arguments.
    if let Some(error) = unsafe { spawn_handed_over(pid, path, actions, attributes, argv, envp) } {
        return error;
    }
    // SAFETY: the caller's own arguments.
    unsafe { sys::raw_posix_spawnp(pid, file, actions, attributes, argv, envp) }
}

/// `posix_spawn()` of the helper instead of `path` when [`reach`] hands it over; `None` when it
/// does not, or when that spawn failed (the caller's own call runs then).
///
/// # Safety
/// The caller's contract of `posix_spawn(3)`.
unsafe fn spawn_handed_over(
    pid: *mut libc::pid_t,
    path: *const libc::c_char,
    actions: *const libc::posix_spawn_file_actions_t,
    attributes: *const libc::posix_spawnattr_t,
    argv: *const *mut libc::c_char,
    envp: *const *mut libc::c_char,
) -> Option<c_int> {
    let mut over = reach::HandOver::default();
    // SAFETY: the caller's own arguments (posix_spawn's envp is never null).
    unsafe { reach::hand_over(path, argv.cast(), envp.cast(), &mut over) }?;
    // SAFETY: the helper's path and vector, built above; the caller's other arguments.
    let error = unsafe {
        sys::raw_posix_spawn(
            pid,
            over.helper(),
            actions,
            attributes,
            over.argv().cast(),
            envp,
        )
    };
    (error == 0).then_some(0)
}

/// `sendto(2)`: `MSG_FASTOPEN` starts a connection.
///
/// # Safety
/// The caller's contract of `sendto(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buffer: *const c_void,
    len: size_t,
    flags: c_int,
    address: *const libc::sockaddr,
    address_len: socklen_t,
) -> ssize_t {
    events::sending(fd, flags);
    // SAFETY: the caller's own arguments.
    unsafe { sys::raw_sendto(fd, buffer, len, flags, address, address_len) }
}
