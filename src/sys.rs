//! The FFI the library needs, each `unsafe` block with the reason it is sound.
//!
//! Everything here is called from inside a host program: the next `socket` in the symbol chain is
//! resolved lazily (never at load time) with `dlsym(RTLD_NEXT)` and cached in an atomic, so the hot
//! path is one atomic load and an indirect call. A missing symbol yields `-1`/`ENOSYS`, never an
//! abort. Internal results are `Result<fd, errno>`; they become `-1`/errno only at the boundary.

use libc::c_int;
use std::ffi::CStr;
use std::sync::atomic::{AtomicUsize, Ordering};

/// An errno value, read right after the call that failed.
pub type Errno = c_int;

/// The signature of libc's `socket()`.
type SocketFn = unsafe extern "C" fn(c_int, c_int, c_int) -> c_int;

/// A symbol of the next object in the lookup chain (libc, or another preload after us).
struct NextSymbol {
    name: &'static CStr,
    /// 0: not looked up yet; [`MISSING`]: looked up and absent; otherwise the address.
    address: AtomicUsize,
}

/// Marks a symbol that `dlsym` could not find, so we do not look it up again.
const MISSING: usize = 1;

impl NextSymbol {
    const fn new(name: &'static CStr) -> Self {
        NextSymbol {
            name,
            address: AtomicUsize::new(0),
        }
    }

    /// The symbol's address, resolving it on first use. Two threads racing here both call `dlsym`
    /// and store the same value: harmless, and cheaper than a lock.
    fn address(&self) -> Option<usize> {
        let mut address = self.address.load(Ordering::Acquire);
        if address == 0 {
            // SAFETY: RTLD_NEXT with a NUL-terminated name is dlsym's documented use; it returns
            // null or the address of the next definition and has no other effect.
            let found = unsafe { libc::dlsym(libc::RTLD_NEXT, self.name.as_ptr()) };
            address = if found.is_null() {
                MISSING
            } else {
                found as usize
            };
            self.address.store(address, Ordering::Release);
        }
        (address != MISSING).then_some(address)
    }
}

static NEXT_SOCKET: NextSymbol = NextSymbol::new(c"socket");

/// Calls the next `socket()` in the chain (never a raw syscall, so other preloads keep working).
/// Returns the descriptor, or the errno it set (`ENOSYS` when there is no next `socket`).
pub fn next_socket(domain: c_int, ty: c_int, protocol: c_int) -> Result<c_int, Errno> {
    let Some(address) = NEXT_SOCKET.address() else {
        return Err(libc::ENOSYS);
    };
    // SAFETY: `address` came from dlsym for the symbol `socket`, whose C signature is SocketFn.
    let socket: SocketFn = unsafe { std::mem::transmute::<usize, SocketFn>(address) };
    // SAFETY: socket() takes three integers and touches no memory of ours.
    let fd = unsafe { socket(domain, ty, protocol) };
    if fd < 0 { Err(errno()) } else { Ok(fd) }
}

/// The calling thread's errno.
pub fn errno() -> Errno {
    // SAFETY: __errno_location always returns a valid pointer to this thread's errno.
    unsafe { *libc::__errno_location() }
}

/// Sets the calling thread's errno.
pub fn set_errno(value: Errno) {
    // SAFETY: as in `errno()`; the pointer is valid and thread-local.
    unsafe { *libc::__errno_location() = value }
}

/// Turns an internal result into what a C caller expects: the fd, or `-1` with errno set.
pub fn to_c(result: Result<c_int, Errno>) -> c_int {
    match result {
        Ok(fd) => fd,
        Err(errno) => {
            set_errno(errno);
            -1
        }
    }
}

/// Runs `f` and restores errno afterwards, so logging never changes what the caller sees.
pub fn keeping_errno<T>(f: impl FnOnce() -> T) -> T {
    let saved = errno();
    let result = f();
    set_errno(saved);
    result
}

/// A copy of the environment variable `name`, if set. Reads libc's environment directly (no
/// lock, no UTF-8 requirement); called only while the configuration is built, once per process.
pub fn getenv(name: &CStr) -> Option<Vec<u8>> {
    // SAFETY: `name` is NUL-terminated; getenv returns null or a NUL-terminated string that we
    // copy at once.
    let value = unsafe { libc::getenv(name.as_ptr()) };
    if value.is_null() {
        return None;
    }
    // SAFETY: non-null pointers from getenv point to a NUL-terminated string.
    Some(unsafe { CStr::from_ptr(value) }.to_bytes().to_vec())
}

/// Whether the process runs in secure-execution mode (setuid/setgid/capabilities), where the
/// loader honours only trusted preloads and we must not act on the environment's file paths.
pub fn secure_execution() -> bool {
    // SAFETY: getauxval has no preconditions; it returns 0 for an absent entry.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

/// Milliseconds of a coarse monotonic clock (a vDSO read, no syscall), for the fallback memory.
pub fn monotonic_ms() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; CLOCK_MONOTONIC_COARSE exists on every Linux
    // that has MPTCP. On the impossible failure `now` stays zero, which only means "try MPTCP".
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut now) };
    (now.tv_sec as u64).saturating_mul(1000) + (now.tv_nsec as u64) / 1_000_000
}

/// The process id, for the log prefix (read per line: a forked child logs its own).
pub fn pid() -> i32 {
    // SAFETY: getpid cannot fail and has no preconditions.
    unsafe { libc::getpid() }
}

/// The symbolic name of the errno values we meet, for log lines.
pub fn errno_name(errno: Errno) -> &'static str {
    match errno {
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::ENOPROTOOPT => "ENOPROTOOPT",
        libc::EINVAL => "EINVAL",
        libc::EPERM => "EPERM",
        libc::EACCES => "EACCES",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EMFILE => "EMFILE",
        libc::ENFILE => "ENFILE",
        libc::ENOBUFS => "ENOBUFS",
        libc::ENOMEM => "ENOMEM",
        libc::ENOSYS => "ENOSYS",
        libc::ESOCKTNOSUPPORT => "ESOCKTNOSUPPORT",
        libc::EPROTOTYPE => "EPROTOTYPE",
        _ => "errno",
    }
}
