//! The FFI the library needs, each `unsafe` block with the reason it is sound.
//!
//! Everything here is called from inside a host program: the next `socket` in the symbol chain is
//! resolved lazily (never at load time) with `dlsym(RTLD_NEXT)` and cached in an atomic, so the hot
//! path is one atomic load and an indirect call. A missing symbol yields `-1`/`ENOSYS`, never an
//! abort. Internal results are `Result<fd, errno>`; they become `-1`/errno only at the boundary.

use core::ffi::CStr;
use core::sync::atomic::{AtomicUsize, Ordering};
use libc::{c_int, c_uint, c_void, size_t, socklen_t, ssize_t};

pub use mptcpize_core::errno::{Errno, Name, errno_name};

/// A symbol of the next object in the lookup chain (libc, or another preload after us).
pub struct NextSymbol {
    name: &'static CStr,
    /// 0: not looked up yet; [`MISSING`]: looked up and absent; otherwise the address.
    address: AtomicUsize,
}

/// Marks a symbol that `dlsym` could not find, so we do not look it up again.
const MISSING: usize = 1;

impl NextSymbol {
    pub const fn new(name: &'static CStr) -> Self {
        NextSymbol {
            name,
            address: AtomicUsize::new(0),
        }
    }

    /// The symbol's address, resolving it on first use. Two threads racing here both call `dlsym`
    /// and store the same value: harmless, and cheaper than a lock.
    pub fn address(&self) -> Option<usize> {
        let mut address = self.address.load(Ordering::Acquire);
        if address == 0 {
            address = resolve(self.name).unwrap_or(MISSING);
            self.address.store(address, Ordering::Release);
        }
        (address != MISSING).then_some(address)
    }
}

/// The address of the next definition of `name` after this library, if any.
#[cold]
#[inline(never)]
pub fn resolve(name: &CStr) -> Option<usize> {
    // SAFETY: RTLD_NEXT with a NUL-terminated name is dlsym's documented use; it returns null or
    // the address of the next definition and has no other effect.
    let found = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) };
    (!found.is_null()).then_some(found as usize)
}

/// Defines `pub unsafe fn NAME(args) -> ret` that calls the next definition of the C function
/// `symbol` in the chain (never a raw syscall, so other preloads keep working), or returns `-1`
/// with errno `ENOSYS` when there is none. After the first call: one relaxed load and an
/// indirect call (a missing symbol is a stub function, not a test on every call). Two threads
/// racing on the first call both resolve it and store the same value. Safety: the C function's
/// own contract.
macro_rules! next_function {
    ($(#[$doc:meta])* $name:ident = $symbol:literal ($($arg:ident: $ty:ty),*) -> $ret:ty) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// The contract of the C function of the same name.
        #[inline(always)]
        pub unsafe fn $name($($arg: $ty),*) -> $ret {
            type Signature = unsafe extern "C" fn($($ty),*) -> $ret;
            /// Stands for the function when the chain has none: `-1`, `ENOSYS`.
            extern "C" fn missing($(_: $ty),*) -> $ret {
                set_errno(libc::ENOSYS);
                -1
            }
            /// The next definition's address, or `missing`'s; 0 until first use.
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let mut address = NEXT.load(Ordering::Relaxed);
            if address == 0 {
                address = resolve($symbol).unwrap_or(missing as Signature as usize);
                NEXT.store(address, Ordering::Relaxed);
            }
            // SAFETY: `address` came from dlsym for this symbol, whose C signature is Signature,
            // or is `missing`, of the same signature.
            let function = unsafe { core::mem::transmute::<usize, Signature>(address) };
            // SAFETY: the caller keeps the C function's contract.
            unsafe { function($($arg),*) }
        }
    };
}

next_function!(raw_socket = c"socket"(domain: c_int, ty: c_int, protocol: c_int) -> c_int);
next_function!(raw_setsockopt = c"setsockopt"(
    fd: c_int, level: c_int, name: c_int, value: *const c_void, len: socklen_t) -> c_int);
next_function!(raw_listen = c"listen"(fd: c_int, backlog: c_int) -> c_int);
next_function!(raw_connect = c"connect"(
    fd: c_int, address: *const libc::sockaddr, len: socklen_t) -> c_int);
next_function!(raw_accept = c"accept"(
    fd: c_int, address: *mut libc::sockaddr, len: *mut socklen_t) -> c_int);
next_function!(raw_accept4 = c"accept4"(
    fd: c_int, address: *mut libc::sockaddr, len: *mut socklen_t, flags: c_int) -> c_int);
next_function!(raw_close = c"close"(fd: c_int) -> c_int);
next_function!(raw_close_range = c"close_range"(first: c_uint, last: c_uint, flags: c_int) -> c_int);
next_function!(raw_dup = c"dup"(fd: c_int) -> c_int);
next_function!(raw_dup2 = c"dup2"(old: c_int, new: c_int) -> c_int);
next_function!(raw_dup3 = c"dup3"(old: c_int, new: c_int, flags: c_int) -> c_int);
next_function!(raw_sendmsg = c"sendmsg"(
    fd: c_int, message: *const libc::msghdr, flags: c_int) -> ssize_t);
next_function!(raw_sendmmsg = c"sendmmsg"(
    fd: c_int, messages: *mut libc::mmsghdr, count: c_uint, flags: c_int) -> c_int);
next_function!(raw_shutdown = c"shutdown"(fd: c_int, how: c_int) -> c_int);
next_function!(raw_getsockopt = c"getsockopt"(
    fd: c_int, level: c_int, name: c_int, value: *mut c_void, len: *mut socklen_t) -> c_int);
next_function!(raw_system = c"system"(command: *const libc::c_char) -> c_int);
next_function!(raw_posix_spawn = c"posix_spawn"(
    pid: *mut libc::pid_t, path: *const libc::c_char,
    actions: *const libc::posix_spawn_file_actions_t, attributes: *const libc::posix_spawnattr_t,
    argv: *const *mut libc::c_char, envp: *const *mut libc::c_char) -> c_int);
next_function!(raw_posix_spawnp = c"posix_spawnp"(
    pid: *mut libc::pid_t, file: *const libc::c_char,
    actions: *const libc::posix_spawn_file_actions_t, attributes: *const libc::posix_spawnattr_t,
    argv: *const *mut libc::c_char, envp: *const *mut libc::c_char) -> c_int);
next_function!(raw_chroot = c"chroot"(path: *const libc::c_char) -> c_int);
next_function!(raw_execve = c"execve"(path: *const libc::c_char,
    argv: *const *const libc::c_char, envp: *const *const libc::c_char) -> c_int);
next_function!(raw_execv = c"execv"(path: *const libc::c_char,
    argv: *const *const libc::c_char) -> c_int);
next_function!(raw_execvp = c"execvp"(file: *const libc::c_char,
    argv: *const *const libc::c_char) -> c_int);
next_function!(raw_execvpe = c"execvpe"(file: *const libc::c_char,
    argv: *const *const libc::c_char, envp: *const *const libc::c_char) -> c_int);
next_function!(raw_fexecve = c"fexecve"(fd: c_int,
    argv: *const *const libc::c_char, envp: *const *const libc::c_char) -> c_int);
next_function!(raw_sendto = c"sendto"(
    fd: c_int, buffer: *const c_void, len: size_t, flags: c_int,
    address: *const libc::sockaddr, address_len: socklen_t) -> ssize_t);

/// `popen(command, mode)`, through the next definition in the chain (null with `ENOSYS` when
/// there is none).
///
/// # Safety
/// The contract of popen(3).
pub unsafe fn raw_popen(
    command: *const libc::c_char,
    mode: *const libc::c_char,
) -> *mut libc::FILE {
    static NEXT: NextSymbol = NextSymbol::new(c"popen");
    type Signature =
        unsafe extern "C" fn(*const libc::c_char, *const libc::c_char) -> *mut libc::FILE;
    let Some(address) = NEXT.address() else {
        set_errno(libc::ENOSYS);
        return core::ptr::null_mut();
    };
    // SAFETY: `address` came from dlsym for `popen`, whose C signature is Signature.
    let popen = unsafe { core::mem::transmute::<usize, Signature>(address) };
    // SAFETY: the caller keeps popen's contract.
    unsafe { popen(command, mode) }
}

/// `closefrom(first)`, through the next definition in the chain (nothing when there is none:
/// a program can only call it through a libc that has it).
pub fn next_closefrom(first: c_int) {
    static NEXT: NextSymbol = NextSymbol::new(c"closefrom");
    if let Some(address) = NEXT.address() {
        // SAFETY: `address` came from dlsym for `closefrom`, `void closefrom(int)`.
        let closefrom =
            unsafe { core::mem::transmute::<usize, unsafe extern "C" fn(c_int)>(address) };
        // SAFETY: closefrom takes an integer; closing the caller's descriptors is its request.
        unsafe { closefrom(first) }
    }
}

/// `fcntl` as the C library defines it: variadic, its third argument (when the command takes
/// one) an integer or a pointer.
type Fcntl = unsafe extern "C" fn(c_int, c_int, ...) -> c_int;

/// `fcntl(fd, cmd, arg)` through the next definition of `fcntl` in the chain (or of `fcntl64`
/// when `large` and there is one), called as the variadic function it is; `-1`/`ENOSYS` when
/// there is none. Our own calls go here too, never through our hook: a duplicate we make to
/// keep a socket aside during a switch must not look like the program's.
///
/// # Safety
/// The contract of `fcntl(2)` for `cmd`: `arg` is its integer, or its pointer as an integer.
pub unsafe fn raw_fcntl(fd: c_int, cmd: c_int, arg: libc::c_ulong, large: bool) -> c_int {
    static NEXT: NextSymbol = NextSymbol::new(c"fcntl");
    static NEXT64: NextSymbol = NextSymbol::new(c"fcntl64");
    let address = if large { NEXT64.address() } else { None };
    let Some(address) = address.or_else(|| NEXT.address()) else {
        set_errno(libc::ENOSYS);
        return -1;
    };
    // SAFETY: `address` came from dlsym for `fcntl` or `fcntl64`, both `int (int, int, ...)`.
    let fcntl = unsafe { core::mem::transmute::<usize, Fcntl>(address) };
    // SAFETY: the caller keeps fcntl's contract for `cmd`.
    unsafe { fcntl(fd, cmd, arg) }
}

/// Turns a C return value into a `Result`, reading errno right away.
#[inline(always)]
fn check(rc: c_int) -> Result<c_int, Errno> {
    if rc < 0 { Err(errno()) } else { Ok(rc) }
}

/// Calls the next `socket()` in the chain. Returns the descriptor, or the errno it set (`ENOSYS`
/// when there is no next `socket`).
#[inline(always)]
pub fn next_socket(domain: c_int, ty: c_int, protocol: c_int) -> Result<c_int, Errno> {
    // SAFETY: socket() takes three integers and touches no memory of ours.
    check(unsafe { raw_socket(domain, ty, protocol) })
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
    // SAFETY: the caller guarantees `value`/`len`.
    check(unsafe { raw_setsockopt(fd, level, name, value, len) }).map(drop)
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
    // SAFETY: listen() takes two integers.
    check(unsafe { raw_listen(fd, backlog) }).map(drop)
}

/// `getsockopt()` into `buffer`; returns how many bytes the kernel wrote.
pub fn get_option(fd: c_int, level: c_int, name: c_int, buffer: &mut [u8]) -> Result<usize, Errno> {
    let mut len = buffer.len() as socklen_t;
    // SAFETY: buffer/len describe writable memory of `len` bytes, as getsockopt requires; the
    // next getsockopt in the chain, never our own hook.
    check(unsafe { raw_getsockopt(fd, level, name, buffer.as_mut_ptr().cast(), &mut len) })?;
    Ok((len as usize).min(buffer.len()))
}

/// An integer socket option.
pub fn get_int_option(fd: c_int, level: c_int, name: c_int) -> Result<c_int, Errno> {
    let mut bytes = [0u8; size_of::<c_int>()];
    get_option(fd, level, name, &mut bytes)?;
    Ok(c_int::from_ne_bytes(bytes))
}

/// Whether the socket has a peer (connected; `getpeername` succeeds). May change errno.
pub fn has_peer(fd: c_int) -> bool {
    // SAFETY: all-zero bytes are a valid sockaddr_storage.
    let mut address: libc::sockaddr_storage = unsafe { core::mem::zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: a writable sockaddr_storage and its length, both live across the call.
    unsafe { libc::getpeername(fd, (&raw mut address).cast(), &mut len) == 0 }
}

/// Sets an integer socket option (through the next `setsockopt`, never our hook).
pub fn set_int_option(fd: c_int, level: c_int, name: c_int, value: c_int) -> Result<(), Errno> {
    set_option(fd, level, name, &value.to_ne_bytes())
}

/// `fcntl(fd, cmd)` for the flag-reading commands (`F_GETFL`, `F_GETFD`).
pub fn fcntl_get(fd: c_int, cmd: c_int) -> Result<c_int, Errno> {
    // SAFETY: F_GETFL/F_GETFD take no third argument (the 0 is not read).
    check(unsafe { raw_fcntl(fd, cmd, 0, false) })
}

/// `fcntl(fd, F_SETFL, flags)`.
pub fn set_status_flags(fd: c_int, flags: c_int) -> Result<(), Errno> {
    // SAFETY: F_SETFL takes an integer argument.
    check(unsafe { raw_fcntl(fd, libc::F_SETFL, flags as libc::c_ulong, false) }).map(drop)
}

/// The socket's local address, and its length (`getsockname`).
pub fn local_address(fd: c_int) -> Result<(libc::sockaddr_storage, socklen_t), Errno> {
    // SAFETY: sockaddr_storage is plain data for which all-zero bytes are valid.
    let mut address: libc::sockaddr_storage = unsafe { core::mem::zeroed() };
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

/// `dup3(from, to, flags)`: atomically makes `to` refer to `from`'s socket (the next `dup3`,
/// never our hook: our own moves must not change what the hooks recorded).
pub fn dup3(from: c_int, to: c_int, flags: c_int) -> Result<(), Errno> {
    // SAFETY: dup3 takes integers; both descriptors are ours to use.
    check(unsafe { raw_dup3(from, to, flags) }).map(drop)
}

/// `fcntl(fd, F_DUPFD_CLOEXEC, 0)`: a second descriptor of ours for the same open file.
pub fn dup_cloexec(fd: c_int) -> Result<OwnedFd, Errno> {
    // SAFETY: F_DUPFD_CLOEXEC takes an integer argument.
    check(unsafe { raw_fcntl(fd, libc::F_DUPFD_CLOEXEC, 0, false) }).map(OwnedFd)
}

/// `fcntl(fd, cmd, arg)` for the commands that take an integer (`F_SETFD`, `F_SETSIG`…).
pub fn fcntl_set(fd: c_int, cmd: c_int, arg: c_int) -> Result<(), Errno> {
    // SAFETY: the commands used with this take an integer argument.
    check(unsafe { raw_fcntl(fd, cmd, arg as libc::c_ulong, false) }).map(drop)
}

/// `struct f_owner_ex` of fcntl(2) (not in `libc`): who gets a descriptor's `SIGIO`/`SIGURG`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Owner {
    /// `F_OWNER_TID`, `F_OWNER_PID` or `F_OWNER_PGRP`.
    pub kind: c_int,
    pub pid: libc::pid_t,
}

/// fcntl commands of asm-generic/fcntl.h that `libc` lacks.
pub const F_SETOWN_EX: c_int = 15;
pub const F_GETOWN_EX: c_int = 16;
pub const F_SETSIG: c_int = 10;
pub const F_GETSIG: c_int = 11;

/// The owner of a descriptor's signals (`F_GETOWN_EX`).
pub fn owner(fd: c_int) -> Result<Owner, Errno> {
    let mut owner = Owner::default();
    // SAFETY: F_GETOWN_EX writes one struct f_owner_ex at the pointer.
    check(unsafe { raw_fcntl(fd, F_GETOWN_EX, &raw mut owner as libc::c_ulong, false) })?;
    Ok(owner)
}

/// Sets the owner of a descriptor's signals (`F_SETOWN_EX`).
pub fn set_owner(fd: c_int, owner: &Owner) -> Result<(), Errno> {
    // SAFETY: F_SETOWN_EX reads one struct f_owner_ex at the pointer.
    check(unsafe {
        raw_fcntl(
            fd,
            F_SETOWN_EX,
            owner as *const Owner as libc::c_ulong,
            false,
        )
    })
    .map(drop)
}

/// `fstat(fd)`: for a socket, `st_ino` is its unique number in sockfs and `st_uid`/`st_gid` say
/// who made it.
pub fn stat(fd: c_int) -> Result<libc::stat, Errno> {
    // SAFETY: struct stat is plain data for which all-zero bytes are valid.
    let mut stat: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: `stat` is a writable struct stat.
    check(unsafe { libc::fstat(fd, &mut stat) })?;
    Ok(stat)
}

/// `open(path, O_RDONLY | O_CLOEXEC | extra)`.
pub fn open_read(path: &CStr, extra: c_int) -> Result<OwnedFd, Errno> {
    // SAFETY: `path` is NUL-terminated.
    check(unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC | extra) })
        .map(OwnedFd)
}

/// `readlinkat(dir, name)` into `buffer`; the bytes of the link's target.
pub fn read_link_at<'a>(dir: c_int, name: &CStr, buffer: &'a mut [u8]) -> Result<&'a [u8], Errno> {
    // SAFETY: `name` is NUL-terminated; buffer/len describe writable memory.
    let n =
        unsafe { libc::readlinkat(dir, name.as_ptr(), buffer.as_mut_ptr().cast(), buffer.len()) };
    if n < 0 {
        return Err(errno());
    }
    Ok(buffer.get(..n as usize).unwrap_or(buffer))
}

/// `read(fd)` into `buffer`, retried on `EINTR`; how many bytes were read (0 at the end).
pub fn read(fd: c_int, buffer: &mut [u8]) -> Result<usize, Errno> {
    loop {
        // SAFETY: buffer/len describe writable memory.
        let n = unsafe { libc::read(fd, buffer.as_mut_ptr().cast(), buffer.len()) };
        if n >= 0 {
            return Ok((n as usize).min(buffer.len()));
        }
        if errno() != libc::EINTR {
            return Err(errno());
        }
    }
}

/// `getdents64(dir)` into `buffer`: raw `struct linux_dirent64` records, 0 bytes at the end.
pub fn directory_entries(dir: c_int, buffer: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: getdents64 writes at most `len` bytes of records into the buffer.
    let n = unsafe { libc::syscall(libc::SYS_getdents64, dir, buffer.as_mut_ptr(), buffer.len()) };
    if n < 0 {
        Err(errno())
    } else {
        Ok((n as usize).min(buffer.len()))
    }
}

/// `epoll_ctl(epfd, EPOLL_CTL_ADD, fd, {events, data})`.
pub fn epoll_add(epfd: c_int, fd: c_int, events: u32, data: u64) -> Result<(), Errno> {
    let mut event = libc::epoll_event { events, u64: data };
    // SAFETY: `event` is a valid epoll_event for the duration of the call.
    check(unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, &mut event) }).map(drop)
}

/// The soft limit on descriptor numbers (`RLIMIT_NOFILE`): no call made after it was set returns a
/// number at or above it.
pub fn descriptor_limit() -> Result<u64, Errno> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a writable struct rlimit.
    check(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) })?;
    Ok(limit.rlim_cur)
}

/// Whether this process has a child (running, stopped or unreaped), which may hold copies of its
/// inheritable descriptors. `waitid` with `WNOWAIT` looks without reaping anything.
pub fn has_children() -> bool {
    // SAFETY: siginfo_t is plain data for which all-zero bytes are valid.
    let mut info: libc::siginfo_t = unsafe { core::mem::zeroed() };
    let flags = libc::WNOHANG
        | libc::WNOWAIT
        | libc::WEXITED
        | libc::WSTOPPED
        | libc::WCONTINUED
        | libc::__WALL;
    keeping_errno(|| {
        // SAFETY: `info` is a writable siginfo_t; WNOWAIT leaves every child's state as it was.
        let rc = unsafe { libc::waitid(libc::P_ALL, 0, &mut info, flags) };
        rc == 0 || errno() != libc::ECHILD
    })
}

/// The TCP state of a stream socket (`tcpi_state`; MPTCP sockets report their own there).
pub fn tcp_state(fd: c_int) -> Result<u8, Errno> {
    // struct tcp_info starts with the u8 tcpi_state.
    let mut info = [0u8; 8];
    get_option(fd, libc::IPPROTO_TCP, libc::TCP_INFO, &mut info)?;
    Ok(info[0])
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
#[inline(always)]
pub fn errno() -> Errno {
    // SAFETY: __errno_location always returns a valid pointer to this thread's errno.
    unsafe { *libc::__errno_location() }
}

/// Sets the calling thread's errno.
#[inline(always)]
pub fn set_errno(value: Errno) {
    // SAFETY: as in `errno()`; the pointer is valid and thread-local.
    unsafe { *libc::__errno_location() = value }
}

/// Turns an internal result into what a C caller expects: the fd, or `-1` with errno set.
#[inline(always)]
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

/// The value of the environment variable `name`, if set. Reads libc's environment directly (no
/// lock, no copy, no UTF-8 requirement). The bytes live in the environment block: they stay
/// valid as long as nobody changes the variable, and callers use them at once (the library reads
/// the environment once, while it sets itself up; the launcher before it changes anything).
pub fn getenv(name: &CStr) -> Option<&'static [u8]> {
    // SAFETY: `name` is NUL-terminated; getenv returns null or a NUL-terminated string.
    let value = unsafe { libc::getenv(name.as_ptr()) };
    if value.is_null() {
        return None;
    }
    // SAFETY: non-null pointers from getenv point to a NUL-terminated string (see above for
    // how long it lives).
    Some(unsafe { CStr::from_ptr(value) }.to_bytes())
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

/// The running kernel's release, major and minor (`uname`); `None` when it cannot be read.
pub fn kernel_release() -> Option<mptcpize_core::behaviour::Release> {
    // SAFETY: utsname is plain data for which all-zero bytes are valid.
    let mut names: libc::utsname = unsafe { core::mem::zeroed() };
    // SAFETY: a writable utsname, as uname requires.
    check(unsafe { libc::uname(&mut names) }).ok()?;
    // SAFETY: the release field's c_chars, read as the bytes they are (same size, any value).
    let bytes: &[u8] =
        unsafe { core::slice::from_raw_parts(names.release.as_ptr().cast(), names.release.len()) };
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    mptcpize_core::behaviour::release(bytes.get(..end)?)
}
