//! The few system calls our own programs (the supervisor, the launcher) share, each `unsafe`
//! block with the reason it is sound. Std code: these run in our processes, never in a host's
//! (the preload has its own, `no_std`, in crates/preload).

use std::ffi::CStr;
use std::io;
use std::os::fd::RawFd;

pub use mptcpize_core::errno::errno_name;

/// An environment variable's bytes, for [`mptcpize_core::config::Config::from_lookup`].
pub fn getenv(name: &CStr) -> Option<&'static [u8]> {
    // SAFETY: `name` is NUL-terminated; getenv returns null or a NUL-terminated string, which
    // lives as long as the environment is not changed (our programs never change theirs).
    let value = unsafe { libc::getenv(name.as_ptr()) };
    if value.is_null() {
        return None;
    }
    // SAFETY: a non-null pointer from getenv points to a NUL-terminated string (see above).
    Some(unsafe { CStr::from_ptr(value) }.to_bytes())
}

/// Whether the process runs in secure-execution mode (setuid/setgid/capabilities).
pub fn secure_execution() -> bool {
    // SAFETY: getauxval has no preconditions; it returns 0 for an absent entry.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

/// Milliseconds of a coarse monotonic clock, for the fallback memory.
pub fn monotonic_ms() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; on the impossible failure it stays zero,
    // which only means "try MPTCP".
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut now) };
    (now.tv_sec as u64).saturating_mul(1000) + (now.tv_nsec as u64) / 1_000_000
}

/// The process id, for log lines.
pub fn pid() -> i32 {
    // SAFETY: getpid cannot fail and has no preconditions.
    unsafe { libc::getpid() }
}

/// `socket(domain, ty, protocol)` by the system call itself: our processes may have the library
/// preloaded (the helper the library hands programs to inherits the program's `LD_PRELOAD`), and
/// libc's `socket()` would then be its hook, which makes a TCP socket MPTCP. Returns the new
/// descriptor or -1 with errno set, as `socket()` does.
pub fn socket(domain: libc::c_int, ty: libc::c_int, protocol: libc::c_int) -> RawFd {
    // SAFETY: the socket system call takes integers only.
    unsafe { libc::syscall(libc::SYS_socket, domain, ty, protocol) as RawFd }
}

/// Moves the calling thread into the network namespace behind `fd` (a `/proc/PID/ns/net` file
/// it holds open). Callers run single-threaded or mean this one thread.
pub fn enter_network_namespace(fd: RawFd) -> io::Result<()> {
    // SAFETY: setns on a descriptor the caller holds open; it changes only this thread's
    // network namespace.
    if unsafe { libc::setns(fd, libc::CLONE_NEWNET) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
