//! The FFI the library needs, each `unsafe` block with the reason it is sound.
//!
//! Everything here is called from inside a host program: the next `socket` in the symbol chain is
//! resolved lazily (never at load time) with `dlsym(RTLD_NEXT)` and cached in an atomic, so the hot
//! path is one atomic load and an indirect call. A missing symbol yields `-1`/`ENOSYS`, never an
//! abort. Internal results are `Result<fd, errno>`; they become `-1`/errno only at the boundary.

use libc::{c_int, c_void, socklen_t};
use std::ffi::CStr;
use std::sync::atomic::{AtomicUsize, Ordering};

/// An errno value, read right after the call that failed.
pub type Errno = c_int;

/// The signatures of the libc functions we interpose.
type SocketFn = unsafe extern "C" fn(c_int, c_int, c_int) -> c_int;
type SetsockoptFn = unsafe extern "C" fn(c_int, c_int, c_int, *const c_void, socklen_t) -> c_int;
type ListenFn = unsafe extern "C" fn(c_int, c_int) -> c_int;

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
static NEXT_SETSOCKOPT: NextSymbol = NextSymbol::new(c"setsockopt");
static NEXT_LISTEN: NextSymbol = NextSymbol::new(c"listen");

/// Turns a C return value into a `Result`, reading errno right away.
fn check(rc: c_int) -> Result<c_int, Errno> {
    if rc < 0 { Err(errno()) } else { Ok(rc) }
}

/// Calls the next `socket()` in the chain (never a raw syscall, so other preloads keep working).
/// Returns the descriptor, or the errno it set (`ENOSYS` when there is no next `socket`).
pub fn next_socket(domain: c_int, ty: c_int, protocol: c_int) -> Result<c_int, Errno> {
    let Some(address) = NEXT_SOCKET.address() else {
        return Err(libc::ENOSYS);
    };
    // SAFETY: `address` came from dlsym for the symbol `socket`, whose C signature is SocketFn.
    let socket: SocketFn = unsafe { std::mem::transmute::<usize, SocketFn>(address) };
    // SAFETY: socket() takes three integers and touches no memory of ours.
    check(unsafe { socket(domain, ty, protocol) })
}

/// Calls the next `setsockopt()` in the chain with the caller's own arguments.
///
/// # Safety
/// `value` and `len` must be what `setsockopt(2)` accepts: `len` readable bytes at `value`.
pub unsafe fn next_setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: socklen_t,
) -> Result<(), Errno> {
    let Some(address) = NEXT_SETSOCKOPT.address() else {
        return Err(libc::ENOSYS);
    };
    // SAFETY: `address` came from dlsym for `setsockopt`, whose C signature is SetsockoptFn.
    let setsockopt: SetsockoptFn = unsafe { std::mem::transmute::<usize, SetsockoptFn>(address) };
    // SAFETY: the caller guarantees `value`/`len`.
    check(unsafe { setsockopt(fd, level, name, value, len) }).map(drop)
}

/// `setsockopt()` with a value of ours, through the next function in the chain (never our hook).
pub fn set_option(fd: c_int, level: c_int, name: c_int, value: &[u8]) -> Result<(), Errno> {
    // SAFETY: `value` is a live slice of exactly `value.len()` bytes.
    unsafe {
        next_setsockopt(
            fd,
            level,
            name,
            value.as_ptr().cast(),
            value.len() as socklen_t,
        )
    }
}

/// Calls the next `listen()` in the chain.
pub fn next_listen(fd: c_int, backlog: c_int) -> Result<(), Errno> {
    let Some(address) = NEXT_LISTEN.address() else {
        return Err(libc::ENOSYS);
    };
    // SAFETY: `address` came from dlsym for `listen`, whose C signature is ListenFn.
    let listen: ListenFn = unsafe { std::mem::transmute::<usize, ListenFn>(address) };
    // SAFETY: listen() takes two integers.
    check(unsafe { listen(fd, backlog) }).map(drop)
}

/// `getsockopt()` into `buffer`; returns how many bytes the kernel wrote.
pub fn get_option(fd: c_int, level: c_int, name: c_int, buffer: &mut [u8]) -> Result<usize, Errno> {
    let mut len = buffer.len() as socklen_t;
    // SAFETY: buffer/len describe writable memory of `len` bytes, as getsockopt requires.
    check(unsafe { libc::getsockopt(fd, level, name, buffer.as_mut_ptr().cast(), &mut len) })?;
    Ok((len as usize).min(buffer.len()))
}

/// An integer socket option.
pub fn get_int_option(fd: c_int, level: c_int, name: c_int) -> Result<c_int, Errno> {
    let mut bytes = [0u8; size_of::<c_int>()];
    get_option(fd, level, name, &mut bytes)?;
    Ok(c_int::from_ne_bytes(bytes))
}

/// Sets an integer socket option (through the next `setsockopt`, never our hook).
pub fn set_int_option(fd: c_int, level: c_int, name: c_int, value: c_int) -> Result<(), Errno> {
    set_option(fd, level, name, &value.to_ne_bytes())
}

/// `fcntl(fd, cmd)` for the flag-reading commands (`F_GETFL`, `F_GETFD`).
pub fn fcntl_get(fd: c_int, cmd: c_int) -> Result<c_int, Errno> {
    // SAFETY: F_GETFL/F_GETFD take no third argument.
    check(unsafe { libc::fcntl(fd, cmd) })
}

/// `fcntl(fd, F_SETFL, flags)`.
pub fn set_status_flags(fd: c_int, flags: c_int) -> Result<(), Errno> {
    // SAFETY: F_SETFL takes an integer argument.
    check(unsafe { libc::fcntl(fd, libc::F_SETFL, flags) }).map(drop)
}

/// The socket's local address, and its length (`getsockname`).
pub fn local_address(fd: c_int) -> Result<(libc::sockaddr_storage, socklen_t), Errno> {
    // SAFETY: sockaddr_storage is plain data for which all-zero bytes are valid.
    let mut address: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as socklen_t;
    // SAFETY: address/len describe a writable sockaddr_storage.
    check(unsafe { libc::getsockname(fd, (&raw mut address).cast(), &mut len) })?;
    Ok((address, len))
}

/// `bind(fd, address)`.
pub fn bind(fd: c_int, address: &libc::sockaddr_storage, len: socklen_t) -> Result<(), Errno> {
    // SAFETY: `address` is a valid sockaddr of `len` bytes, as getsockname returned it.
    check(unsafe { libc::bind(fd, (address as *const libc::sockaddr_storage).cast(), len) })
        .map(drop)
}

/// `dup3(from, to, flags)`: atomically makes `to` refer to `from`'s socket.
pub fn dup3(from: c_int, to: c_int, flags: c_int) -> Result<(), Errno> {
    // SAFETY: dup3 takes integers; both descriptors are ours to use.
    check(unsafe { libc::dup3(from, to, flags) }).map(drop)
}

/// A descriptor we opened for our own use, closed when dropped (errno kept).
pub struct OwnedFd(pub c_int);

impl Drop for OwnedFd {
    fn drop(&mut self) {
        // SAFETY: the descriptor is ours and closed exactly once, here.
        keeping_errno(|| unsafe { libc::close(self.0) });
    }
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
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EBADF => "EBADF",
        libc::ENOTSOCK => "ENOTSOCK",
        _ => "errno",
    }
}
