//! The socket-option fallback: an option MPTCP refuses turns the socket back into TCP, when that
//! cannot be noticed.
//!
//! On kernel 6.18 an MPTCP socket still refuses options such as `TCP_USER_TIMEOUT`,
//! `TCP_QUICKACK`, `TCP_SYNCNT`, `TCP_LINGER2`, `TCP_WINDOW_CLAMP`, `TCP_SAVE_SYN` (ENOPROTOOPT)
//! and `IP_TTL`, `IP_MINTTL`, `IP_RECVERR`, `IPV6_TCLASS`, `IPV6_UNICAST_HOPS` (EOPNOTSUPP); older
//! kernels refused more. Programs that insist on one (Traefik, Tailscale, `nc -M`) would fail
//! under MPTCP. When such a refusal hits a socket we made MPTCP:
//! - an option set to the value a fresh TCP socket already has changes nothing: success, and the
//!   socket stays MPTCP (a load balancer's `TCP_USER_TIMEOUT=0` costs its clients nothing);
//! - otherwise [`crate::switch`] puts a TCP socket behind the same descriptor, under its rules, and
//!   the option is retried there;
//! - under the opt-in advisory policy (`+advisory`), an option of
//!   [`mptcpize_core::advisory::ADVISORY`] with a value it covers and TCP takes: success, the
//!   socket stays MPTCP, and [`crate::advisory`] keeps what TCP would read back (before or after
//!   the start);
//! - when the socket can no longer be switched (it connected, listens, or was accepted from one of
//!   our listeners), [`crate::established`] says what TCP would have answered: success for a value
//!   the socket already has, for an option remembered and read back, and for a call that
//!   overlapped another thread's `connect()`/`listen()`; otherwise the kernel's error and one
//!   warning per process naming the option and the way out.
//!
//! `getsockopt()` answers as TCP would where MPTCP will not read an option (a fresh TCP socket
//! reads it), and reads back what our `setsockopt()` remembered. On a socket the program asked
//! MPTCP for itself, when TCP refuses the option too, or in `force` mode (which has no advisory
//! form), the kernel's error is returned unchanged; a value kept by the advisory policy reads
//! back as TCP would read it. A successful call on a socket that may still be switched also
//! tells [`crate::tracked`] when the option is one a switch could not carry. A program that never
//! meets a refusal pays one relaxed load of its descriptor's flags per call.

use crate::config::Mode;
use crate::logging::{info, warning};
use crate::setup;
use crate::sys::{self, Errno, OwnedFd};
use crate::tracked::OURS;
use crate::{advisory, behaviour, established, switch, tracked};
use core::sync::atomic::{AtomicBool, Ordering};
use libc::{IPPROTO_MPTCP, IPPROTO_TCP, SOL_SOCKET, c_int, c_void, socklen_t};
use mptcpize_core::advisory::ADVISORY;

/// The TCP states of a socket without a connection: never connected (or over), listening.
const TCP_CLOSE: u8 = 7;
const TCP_LISTEN: u8 = 10;

/// Whether this process has been warned about an option it could not have (once per process).
static WARNED: AtomicBool = AtomicBool::new(false);

/// `setsockopt()`, retried on a TCP socket when MPTCP refuses the option.
///
/// # Safety
/// `value`/`len` are the caller's, passed on unchanged: `len` readable bytes at `value`.
pub unsafe fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: socklen_t,
) -> Result<(), Errno> {
    let errno_before = sys::errno();
    // SAFETY: the caller's own arguments.
    if let Some(answer) = unsafe { behaviour::kept_receive_buffer(fd, level, name, value, len) } {
        return answer;
    }
    // Before the call: whether the socket had started, and whether a call was inside
    // connect()/listen() on it (see `after_start`).
    let flags_before = tracked::flags(fd);
    // SAFETY: the caller's own arguments.
    let refused = match unsafe { sys::next_setsockopt(fd, level, name, value, len) } {
        Ok(()) => {
            tracked::changed(fd);
            // SAFETY: the kernel has just read `len` bytes at `value`.
            unsafe { note_success(fd, level, name, value, len) };
            behaviour::option_set(fd, level, name);
            return Ok(());
        }
        Err(errno) => errno,
    };
    if level == libc::IPPROTO_IPV6 && flags_before & (OURS | tracked::INET6) == OURS {
        // An IPv4 socket of ours: TCP has no IPv6 options there at all (MPTCP answers EINVAL
        // for IPV6_V6ONLY once connected).
        return Err(libc::ENOPROTOOPT);
    }
    // SAFETY: the caller's own arguments.
    let advisory = unsafe { advisory_row(level, name, value, len) };
    if flags_before & OURS == 0
        || !established::refused_by_mptcp(refused, level, name)
        || setup::mode() == Mode::Force
        || sys::get_int_option(fd, SOL_SOCKET, libc::SO_PROTOCOL) != Ok(IPPROTO_MPTCP)
    {
        return Err(refused);
    }
    if !tracked::rewritable(flags_before)
        && let Some(tcp_errno) =
            // SAFETY: the caller's own arguments.
            established::tcp_refuses_once_started(fd, level, name, unsafe {
                    int_value(value, len)
                })
    {
        return Err(tcp_errno);
    }
    // SAFETY: the caller's own arguments, tried on a throw-away TCP socket.
    let (tcp_default, tcp_reads) = match unsafe { tcp_takes(fd, level, name, value, len) } {
        // TCP refuses it too: not MPTCP's doing; the program gets TCP's own answer.
        TcpTakes::No(tcp_errno) => return Err(tcp_errno),
        TcpTakes::AsDefault => {
            // Back to the default: a value kept for the option (advisory or answered) is gone.
            if let Some(index) = advisory::row(level, name) {
                advisory::forget(fd, index);
            }
            sys::keeping_errno(|| {
                info!(
                    "setsockopt(fd {fd}, {}) refused by MPTCP, but the value is TCP's default: \
                     stays MPTCP",
                    switch::option_name(level, name)
                )
            });
            sys::set_errno(errno_before);
            return Ok(());
        }
        TcpTakes::Yes { default, reads } => (default, reads),
    };
    if let Some((index, given)) = advisory
        && ADVISORY
            .get(index)
            .is_some_and(|row| row.covers(given, tcp_default))
        && advisory::keep(fd, index, tcp_reads.unwrap_or(given))
    {
        sys::keeping_errno(|| {
            info!(
                "setsockopt(fd {fd}, {}) refused by MPTCP ({}): an advisory option (+advisory), \
                 so fd {fd} stays MPTCP; the value is kept for getsockopt",
                switch::option_name(level, name),
                sys::errno_name(refused),
            )
        });
        sys::set_errno(errno_before);
        return Ok(());
    }
    let reason = if refused == libc::EINVAL {
        // MPTCP takes these options until the socket starts (a bad value was caught above).
        switch::NotSwitched::Started
    } else {
        match switch::to(fd, IPPROTO_TCP) {
            Ok(()) => {
                sys::set_errno(errno_before);
                // SAFETY: the caller's own arguments, as above.
                return unsafe { retry_on_tcp(fd, level, name, value, len, refused) };
            }
            Err(reason) => reason,
        }
    };
    // SAFETY: the caller's own arguments, as above.
    let answer = unsafe { after_start(fd, level, name, value, len, flags_before) };
    match answer {
        Some(answer) => {
            sys::keeping_errno(|| {
                info!(
                    "setsockopt(fd {fd}, {}) refused by MPTCP ({}), which it keeps: {answer}",
                    switch::option_name(level, name),
                    sys::errno_name(refused),
                )
            });
            sys::set_errno(errno_before);
            Ok(())
        }
        None => {
            sys::keeping_errno(|| warn_once(fd, level, name, refused, reason));
            Err(refused)
        }
    }
}

/// The option again, on the TCP socket now behind `fd`.
///
/// # Safety
/// As for [`setsockopt`].
unsafe fn retry_on_tcp(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: socklen_t,
    refused: Errno,
) -> Result<(), Errno> {
    // SAFETY: the caller's own arguments.
    let retried = unsafe { sys::next_setsockopt(fd, level, name, value, len) };
    sys::keeping_errno(|| {
        info!(
            "setsockopt(fd {fd}, {}) refused by MPTCP ({}): fd {fd} is now TCP, option {}",
            switch::option_name(level, name),
            sys::errno_name(refused),
            sys::Name(if retried.is_ok() {
                "set"
            } else {
                "still refused"
            })
        )
    });
    if retried.is_ok() {
        // SAFETY: as above.
        unsafe { note_success(fd, level, name, value, len) };
    }
    retried
}

/// The option's value as an int, when it holds one.
///
/// # Safety
/// `len` readable bytes at `value`.
unsafe fn int_value(value: *const c_void, len: socklen_t) -> Option<c_int> {
    (len as usize >= size_of::<c_int>() && !value.is_null()).then(|| {
        // SAFETY: the caller says `len` (at least an int's size) bytes at `value` are readable.
        unsafe { value.cast::<c_int>().read_unaligned() }
    })
}

/// The advisory row of option `(level, name)` and the int value given, when the policy is on
/// (`+advisory`) and covers the option.
///
/// # Safety
/// `len` readable bytes at `value`.
unsafe fn advisory_row(
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: socklen_t,
) -> Option<(usize, c_int)> {
    let (index, _) = mptcpize_core::advisory::find(level, name)?;
    if !setup::advisory() {
        return None;
    }
    // SAFETY: the caller's contract.
    Some((index, unsafe { int_value(value, len) }?))
}

/// Why a refused option on a socket MPTCP keeps is answered with success, for the log.
enum Kept {
    /// The socket already has this value.
    Unchanged,
    /// The option is remembered and answered back ([`established::ANSWERED`]).
    Remembered,
    /// The call overlapped a `connect()`/`listen()` in another thread: TCP's answer.
    Overlapped,
}

impl core::fmt::Display for Kept {
    fn fmt(&self, out: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        out.write_str(match self {
            Kept::Unchanged => "the socket already has that value",
            Kept::Remembered => "nothing an MPTCP connection does depends on it; remembered",
            Kept::Overlapped => {
                "the call overlapped a connect()/listen() in another thread; TCP's answer"
            }
        })
    }
}

/// The rules of [`crate::established`] for a refused option on a socket MPTCP keeps: why the
/// call succeeds, or `None` when the program gets the kernel's error.
///
/// # Safety
/// As for [`setsockopt`].
unsafe fn after_start(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: socklen_t,
    flags_before: tracked::Flags,
) -> Option<Kept> {
    let answered = established::answered_bit(level, name);
    // SAFETY: the caller's own arguments.
    let int_value = unsafe { int_value(value, len) };
    // 1. The value the socket already has.
    if let Some(bit) = answered
        && let Some(given) = int_value
        && (given != 0) == (tracked::flags(fd) & bit != 0)
    {
        return Some(Kept::Unchanged);
    }
    let mut current = [0u8; 64];
    if let Ok(current_len) = sys::get_option(fd, level, name, &mut current)
        && current_len == len as usize
        && let Some(current) = current.get(..current_len)
        // SAFETY: the kernel read `len` bytes at `value` without EFAULT (it refused the value).
        && current == unsafe { core::slice::from_raw_parts(value.cast::<u8>(), len as usize) }
    {
        return Some(Kept::Unchanged);
    }
    // 2. Remembered and answered back.
    if let Some(bit) = answered
        && let Some(given) = int_value
    {
        tracked::remember(fd, bit, given != 0);
        return Some(Kept::Remembered);
    }
    if established::ANSWERED_INTS.contains(&(level, name))
        && let Some(given) = int_value
        && let Some(index) = advisory::row(level, name)
        && advisory::keep(fd, index, given)
    {
        return Some(Kept::Remembered);
    }
    // 3. A connect()/listen() overlapped the call: the socket had not started when the call
    // began and started while it was being switched (whatever step of the switch then failed),
    // or another thread was inside one of them.
    let now = tracked::flags(fd);
    let started_meanwhile = flags_before & tracked::PINNED == 0 && now & tracked::PINNED != 0;
    if started_meanwhile || (flags_before | now) & tracked::INSIDE != 0 {
        return Some(Kept::Overlapped);
    }
    None
}

/// `getsockopt()`: when MPTCP will not read an option of a socket we made MPTCP (it reads
/// `TCP_USER_TIMEOUT`, `IP_TTL`… on no MPTCP socket), a fresh TCP socket of the family answers.
/// That is the value the socket has: MPTCP refuses to set those options too, and one set to a
/// value other than the default made the socket TCP (or failed).
///
/// # Safety
/// The caller's contract of `getsockopt(2)`.
pub unsafe fn getsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *mut c_void,
    len: *mut socklen_t,
) -> c_int {
    // SAFETY: the caller's own arguments.
    let rc = unsafe { sys::raw_getsockopt(fd, level, name, value, len) };
    if rc == 0 {
        let flags = tracked::flags(fd);
        if (level, name) == (libc::IPPROTO_TCP, libc::TCP_ULP) && flags & OURS != 0 {
            // SAFETY: the kernel has just written `*len` bytes at `value`.
            unsafe { hide_mptcp_ulp(value, len) };
        }
        if level == libc::IPPROTO_IPV6 && flags & (OURS | tracked::INET6) == OURS {
            // MPTCP reads IPV6_V6ONLY on an IPv4 socket too; TCP reads no IPv6 option there, and
            // a program that copies what it can read would then set it and fail.
            sys::set_errno(libc::EOPNOTSUPP);
            return -1;
        }
        if flags & (tracked::REMEMBERED_BITS | tracked::ANSWERED_BITS) != 0
            && let Some(bit) = switch::remembered_bit(level, name)
                .or_else(|| established::answered_bit(level, name))
            && flags & bit != 0
        {
            // Taken by MPTCP, which applies it to its subflows but reads it back as 0 (or
            // remembered for a socket MPTCP keeps): the program reads what it set.
            // SAFETY: the kernel has just written `*len` bytes at `value`.
            unsafe { answer_on(value, len) };
        }
        if flags & tracked::ADVISORY_BITS != 0
            && let Some(index) = advisory::row(level, name)
            && let Some(kept) = advisory::kept(fd, index)
        {
            // The kernel refused the value the program was answered with success for (6.1's
            // MPTCP reads IP_LOCAL_PORT_RANGE on a fallen-back connection, but refuses to set
            // it): the program reads what it set.
            // SAFETY: the kernel has just written `*len` bytes at `value`.
            unsafe { answer_int(value, len, kept) };
        }
        return rc;
    }
    let refused = sys::errno();
    if !(refused == libc::ENOPROTOOPT || refused == libc::EOPNOTSUPP)
        || tracked::flags(fd) & OURS == 0
    {
        return rc;
    }
    let mut tcp_errno = refused;
    let answered = sys::keeping_errno(|| {
        if sys::get_int_option(fd, SOL_SOCKET, libc::SO_PROTOCOL) != Ok(IPPROTO_MPTCP) {
            return false;
        }
        let Ok(domain) = sys::get_int_option(fd, SOL_SOCKET, libc::SO_DOMAIN) else {
            return false;
        };
        let Ok(probe) =
            sys::next_socket(domain, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, IPPROTO_TCP)
        else {
            return false;
        };
        let probe = OwnedFd(probe);
        // SAFETY: the caller's own buffer and length, as for the call above.
        if unsafe { sys::raw_getsockopt(probe.0, level, name, value, len) } == 0 {
            return true;
        }
        // A socket with no connection (never connected, or listening) is where the probe is:
        // its error is TCP's too (IP_MTU: ENOTCONN). An option this kernel's TCP does not know
        // (ENOPROTOOPT: TCP_RTO_MIN_US on 6.12) is unknown in every state, where MPTCP says
        // EOPNOTSUPP once connected.
        let probe_errno = sys::errno();
        if probe_errno == libc::ENOPROTOOPT
            || matches!(sys::tcp_state(fd), Ok(TCP_CLOSE | TCP_LISTEN))
        {
            tcp_errno = probe_errno;
        }
        false
    });
    if answered {
        if let Some(index) = advisory::row(level, name)
            && let Some(kept) = advisory::kept(fd, index)
        {
            // SAFETY: the probe's getsockopt has just written `*len` bytes at `value`.
            unsafe { answer_int(value, len, kept) };
        } else if let Some(bit) = established::answered_bit(level, name)
            && tracked::flags(fd) & bit != 0
        {
            // SAFETY: the probe's getsockopt has just written `*len` bytes at `value`.
            unsafe { answer_on(value, len) };
        }
        return 0;
    }
    sys::set_errno(tcp_errno);
    rc
}

/// MPTCP answers `TCP_ULP` with its first subflow's, "mptcp"; a TCP socket without kTLS has
/// none and answers an empty name.
///
/// # Safety
/// `*len` bytes at `value` were just written by `getsockopt`.
unsafe fn hide_mptcp_ulp(value: *mut c_void, len: *mut socklen_t) {
    let mptcp = b"mptcp\0";
    // SAFETY: the caller says `len` is readable and `*len` bytes at `value` readable.
    unsafe {
        let written = core::slice::from_raw_parts(value.cast::<u8>(), (*len as usize).min(6));
        if written == mptcp || written == &mptcp[..5] {
            *len = 0;
        }
    }
}

/// Turns the boolean option the kernel has just written at `value` (an int, or one byte when the
/// caller's buffer was shorter, as the kernel does) into "on".
///
/// # Safety
/// `*len` bytes at `value` were just written by `getsockopt`.
unsafe fn answer_on(value: *mut c_void, len: *mut socklen_t) {
    // SAFETY: the caller says `len` is readable and `*len` bytes at `value` writable.
    unsafe {
        match *len as usize {
            4 => value.cast::<c_int>().write_unaligned(1),
            1 => value.cast::<u8>().write(1),
            _ => {}
        }
    }
}

/// Writes `kept` where the kernel has just written an int option (an int, or its low byte when
/// the caller's buffer was one byte, as the kernel does for `IP_TTL`).
///
/// # Safety
/// `*len` bytes at `value` were just written by `getsockopt`.
unsafe fn answer_int(value: *mut c_void, len: *mut socklen_t, kept: c_int) {
    // SAFETY: the caller says `len` is readable and `*len` bytes at `value` writable.
    unsafe {
        match *len as usize {
            4 => value.cast::<c_int>().write_unaligned(kept),
            1 => value.cast::<u8>().write(kept as u8),
            _ => {}
        }
    }
}

/// After a successful `setsockopt()`: if the socket may still be switched and a switch could not
/// carry this option (not on the list for its family, not readable back, or an integer set
/// non-zero that reads back zero or the other way round, as MPTCP does for `SO_DONTROUTE`, which
/// it applies to its subflows only), rule switches out.
///
/// # Safety
/// The kernel has just read `len` bytes at `value` successfully.
unsafe fn note_success(fd: c_int, level: c_int, name: c_int, value: *const c_void, len: socklen_t) {
    let flags = tracked::flags(fd);
    if flags & tracked::ADVISORY_BITS != 0
        && let Some(index) = advisory::row(level, name)
    {
        // The kernel holds the option now (the socket became TCP, or took it): nothing kept
        // stands for it.
        advisory::forget(fd, index);
    }
    if flags & OURS != 0
        && let Some(bit) = switch::remembered_bit(level, name)
        && len as usize == size_of::<c_int>()
    {
        // SAFETY: the caller says `len` (an int's size) bytes at `value` are readable.
        let on = unsafe { value.cast::<c_int>().read_unaligned() } != 0;
        tracked::remember(fd, bit, on);
        return;
    }
    if !tracked::rewritable(flags) {
        return;
    }
    let inet6 = flags & tracked::INET6 != 0;
    // The forced buffer sizes read back through the plain options (and are carried there).
    let name = match (level, name) {
        (SOL_SOCKET, libc::SO_RCVBUFFORCE) => libc::SO_RCVBUF,
        (SOL_SOCKET, libc::SO_SNDBUFFORCE) => libc::SO_SNDBUF,
        _ => name,
    };
    let mut read = [0u8; 64];
    let read_len = sys::keeping_errno(|| sys::get_option(fd, level, name, &mut read));
    let carried = match (switch::carried(inet6, level, name), read_len) {
        (Some(_), Ok(read_len))
            if len as usize == size_of::<c_int>() && read_len == len as usize =>
        {
            // SAFETY: the caller says `len` (an int's size) bytes at `value` are readable.
            let given = unsafe { value.cast::<c_int>().read_unaligned() };
            let taken = c_int::from_ne_bytes([read[0], read[1], read[2], read[3]]);
            (given == 0) == (taken == 0)
        }
        (Some(_), Ok(_)) => true,
        _ => false,
    };
    if !carried {
        tracked::uncarried(fd);
    }
}

/// What a fresh TCP socket like `fd` makes of the option.
enum TcpTakes {
    /// It refuses it too, with this errno.
    No(Errno),
    /// It takes it, and the value is the one it already had.
    AsDefault,
    /// It takes it; what it read for the option before and after, when an int.
    Yes {
        default: Option<c_int>,
        reads: Option<c_int>,
    },
}

/// Tries the option on a throw-away TCP socket like `fd`, after reading that socket's default.
///
/// # Safety
/// As for [`setsockopt`].
unsafe fn tcp_takes(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: socklen_t,
) -> TcpTakes {
    let (Ok(domain), Ok(ty)) = (
        sys::get_int_option(fd, SOL_SOCKET, libc::SO_DOMAIN),
        sys::get_int_option(fd, SOL_SOCKET, libc::SO_TYPE),
    ) else {
        return TcpTakes::No(libc::ENOPROTOOPT);
    };
    let probe = match sys::next_socket(domain, ty | libc::SOCK_CLOEXEC, IPPROTO_TCP) {
        Ok(probe) => probe,
        Err(errno) => return TcpTakes::No(errno),
    };
    let probe = OwnedFd(probe);
    let mut default = [0u8; 64];
    let default_len = sys::get_option(probe.0, level, name, &mut default);
    // SAFETY: the caller's own value and length. The kernel reads them here first, so the bytes
    // are known to be readable before we compare them below.
    if let Err(errno) = unsafe { sys::next_setsockopt(probe.0, level, name, value, len) } {
        return TcpTakes::No(errno);
    }
    let reads = sys::get_int_option(probe.0, level, name).ok();
    let int_default = match default_len {
        Ok(4) => Some(c_int::from_ne_bytes([
            default[0], default[1], default[2], default[3],
        ])),
        _ => None,
    };
    let len = len as usize;
    match default_len {
        Ok(default_len) if default_len == len && len <= default.len() => {
            // SAFETY: the kernel just read `len` bytes at `value` without EFAULT.
            let given = unsafe { core::slice::from_raw_parts(value.cast::<u8>(), len) };
            if given == &default[..len] {
                return TcpTakes::AsDefault;
            }
        }
        _ => {}
    }
    TcpTakes::Yes {
        default: int_default,
        reads,
    }
}

/// One warning per process: the option, why the socket could not become TCP, and the way out.
fn warn_once(fd: c_int, level: c_int, name: c_int, refused: Errno, reason: switch::NotSwitched) {
    let option = switch::option_name(level, name);
    let errno = sys::errno_name(refused);
    let why = reason;
    if WARNED.swap(true, Ordering::Relaxed) {
        info!("setsockopt(fd {fd}, {option}) refused by MPTCP ({errno}); not switched: {why}");
        return;
    }
    warning!(
        "setsockopt(fd {fd}, {option}) refused by MPTCP ({errno}) and the socket cannot become TCP \
         unnoticed ({why}): the program gets the kernel's error. To keep it on TCP run it with \
         -m off (MPTCPIZE=off), or with -m listen for MPTCP on its listeners only"
    );
}
