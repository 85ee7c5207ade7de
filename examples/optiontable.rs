//! Measures what a stream socket does with every option of socket(7), ip(7), ipv6(7) and tcp(7),
//! in every state a program meets it in, and prints one line per family and option.
//!
//! Two uses, one tool (it does not link our crate, so under `LD_PRELOAD` its `socket()` goes
//! through the library like any host program's):
//! - `optiontable mptcp` and `optiontable tcp`: the kernel's own answers for sockets made with
//!   that protocol. The MPTCP table for a kernel is committed under `docs/options/` and is the
//!   source of the rules in the preload's `established.rs`; `tests/option_table.rs` re-runs it and
//!   fails when the kernel's answers change.
//! - `optiontable program`: sockets made as a program makes them (`socket(AF_INET, SOCK_STREAM,
//!   0)`). Run once without the library and once with it, the two tables must be the same except
//!   for the options README's Limitations name: that is "works as without us", option by option.
//!
//! States: `fresh`; `listen`; `accepted` from a listener of the measured kind with an MPTCP peer
//! (`acc-mp`) and a TCP peer (`acc-tcp`); `connected` to an MPTCP listener (`con-mp`) and a TCP
//! one (`con-tcp`, where MPTCP falls back). Peers and their listeners are made with the raw
//! `socket` system call, so the library never rewrites them. Each state's socket is made anew for
//! each option; on it, in order: `getsockopt`, `setsockopt` to a TCP socket's default value (read
//! from a fresh TCP socket of the family), `setsockopt` to a typical other value, `getsockopt`
//! again. Each result is one character (the legend is printed first). After that, an established
//! socket must still carry data both ways: a failure is counted on the last line.
//!
//! usage: optiontable mptcp|tcp|program [FILTER]   (FILTER: only options whose name contains it)

use libc::{c_int, c_void, socklen_t};
use std::process::ExitCode;

/// What value an option is given: an integer, or raw bytes (structures, strings).
#[derive(Clone, Copy)]
enum Value {
    Int(c_int),
    Bytes(&'static [u8]),
}

/// One option: family it exists for (`None`: both), level, number, name, a typical other value.
struct Option_ {
    family: Option<c_int>,
    level: c_int,
    name: c_int,
    label: &'static str,
    typical: Value,
}

const BOTH: Option<c_int> = None;
const V4: Option<c_int> = Some(libc::AF_INET);
const V6: Option<c_int> = Some(libc::AF_INET6);
const SOL: c_int = libc::SOL_SOCKET;
const IP: c_int = libc::IPPROTO_IP;
const IPV6: c_int = libc::IPPROTO_IPV6;
const TCP: c_int = libc::IPPROTO_TCP;

const fn o(
    family: Option<c_int>,
    level: c_int,
    name: c_int,
    label: &'static str,
    typical: c_int,
) -> Option_ {
    Option_ {
        family,
        level,
        name,
        label,
        typical: Value::Int(typical),
    }
}

const fn b(
    family: Option<c_int>,
    level: c_int,
    name: c_int,
    label: &'static str,
    typical: &'static [u8],
) -> Option_ {
    Option_ {
        family,
        level,
        name,
        label,
        typical: Value::Bytes(typical),
    }
}

/// `struct linger { 1, 5 }`, `struct timeval { 2, 0 }`, native byte order (x86_64, aarch64).
const LINGER_ON_5: &[u8] = &[1, 0, 0, 0, 5, 0, 0, 0];
const TWO_SECONDS: &[u8] = &[2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/// Every option of the four man pages that takes a plain value. Left out, because their value
/// holds a pointer or they change the socket beyond one option: `SO_ATTACH_FILTER`,
/// `SO_ATTACH_BPF`, `SO_ATTACH_REUSEPORT_*`, `SO_DETACH_*`, `TCP_REPAIR*`, `TCP_MD5SIG*`,
/// `TCP_AO_*` (38-42), `TCP_ULP` (loads a kernel module), multicast group membership (UDP's).
const OPTIONS: &[Option_] = &[
    o(BOTH, SOL, libc::SO_DEBUG, "SO_DEBUG", 1),
    o(BOTH, SOL, libc::SO_REUSEADDR, "SO_REUSEADDR", 1),
    o(BOTH, SOL, libc::SO_DONTROUTE, "SO_DONTROUTE", 1),
    o(BOTH, SOL, libc::SO_BROADCAST, "SO_BROADCAST", 1),
    o(BOTH, SOL, libc::SO_SNDBUF, "SO_SNDBUF", 65536),
    o(BOTH, SOL, libc::SO_RCVBUF, "SO_RCVBUF", 65536),
    o(BOTH, SOL, libc::SO_SNDBUFFORCE, "SO_SNDBUFFORCE", 65536),
    o(BOTH, SOL, libc::SO_RCVBUFFORCE, "SO_RCVBUFFORCE", 65536),
    o(BOTH, SOL, libc::SO_KEEPALIVE, "SO_KEEPALIVE", 1),
    o(BOTH, SOL, libc::SO_OOBINLINE, "SO_OOBINLINE", 1),
    o(BOTH, SOL, libc::SO_NO_CHECK, "SO_NO_CHECK", 1),
    o(BOTH, SOL, libc::SO_PRIORITY, "SO_PRIORITY", 4),
    b(BOTH, SOL, libc::SO_LINGER, "SO_LINGER", LINGER_ON_5),
    o(BOTH, SOL, libc::SO_PASSCRED, "SO_PASSCRED", 1),
    o(BOTH, SOL, libc::SO_RCVLOWAT, "SO_RCVLOWAT", 2),
    b(BOTH, SOL, libc::SO_RCVTIMEO, "SO_RCVTIMEO", TWO_SECONDS),
    b(BOTH, SOL, libc::SO_SNDTIMEO, "SO_SNDTIMEO", TWO_SECONDS),
    b(BOTH, SOL, libc::SO_BINDTODEVICE, "SO_BINDTODEVICE", b"lo\0"),
    o(BOTH, SOL, libc::SO_TIMESTAMP, "SO_TIMESTAMP", 1),
    o(BOTH, SOL, libc::SO_TIMESTAMPNS, "SO_TIMESTAMPNS", 1),
    o(BOTH, SOL, libc::SO_TIMESTAMPING, "SO_TIMESTAMPING", 0x10),
    o(BOTH, SOL, libc::SO_PASSSEC, "SO_PASSSEC", 1),
    o(BOTH, SOL, libc::SO_MARK, "SO_MARK", 7),
    o(BOTH, SOL, libc::SO_RXQ_OVFL, "SO_RXQ_OVFL", 1),
    o(BOTH, SOL, libc::SO_WIFI_STATUS, "SO_WIFI_STATUS", 1),
    o(BOTH, SOL, libc::SO_PEEK_OFF, "SO_PEEK_OFF", 0),
    o(BOTH, SOL, libc::SO_NOFCS, "SO_NOFCS", 1),
    o(BOTH, SOL, libc::SO_LOCK_FILTER, "SO_LOCK_FILTER", 1),
    o(
        BOTH,
        SOL,
        libc::SO_SELECT_ERR_QUEUE,
        "SO_SELECT_ERR_QUEUE",
        1,
    ),
    o(BOTH, SOL, libc::SO_BUSY_POLL, "SO_BUSY_POLL", 50),
    o(
        BOTH,
        SOL,
        libc::SO_MAX_PACING_RATE,
        "SO_MAX_PACING_RATE",
        1_000_000,
    ),
    o(BOTH, SOL, libc::SO_INCOMING_CPU, "SO_INCOMING_CPU", 0),
    o(BOTH, SOL, libc::SO_REUSEPORT, "SO_REUSEPORT", 1),
    o(BOTH, SOL, libc::SO_ZEROCOPY, "SO_ZEROCOPY", 1),
    o(BOTH, SOL, 62, "SO_BINDTOIFINDEX", 1),
    o(BOTH, SOL, 69, "SO_PREFER_BUSY_POLL", 1),
    o(BOTH, SOL, 70, "SO_BUSY_POLL_BUDGET", 8),
    o(BOTH, SOL, 72, "SO_BUF_LOCK", 3),
    o(BOTH, SOL, 73, "SO_RESERVE_MEM", 4096),
    o(BOTH, SOL, 74, "SO_TXREHASH", 0),
    o(BOTH, SOL, 75, "SO_RCVMARK", 1),
    o(BOTH, SOL, 79, "SO_PASSPIDFD", 1),
    o(V4, IP, libc::IP_TOS, "IP_TOS", 0x10),
    o(V4, IP, libc::IP_TTL, "IP_TTL", 33),
    o(V4, IP, libc::IP_HDRINCL, "IP_HDRINCL", 1),
    b(V4, IP, libc::IP_OPTIONS, "IP_OPTIONS", &[1, 1, 1, 0]),
    o(V4, IP, libc::IP_RECVOPTS, "IP_RECVOPTS", 1),
    o(V4, IP, libc::IP_RETOPTS, "IP_RETOPTS", 1),
    o(V4, IP, libc::IP_PKTINFO, "IP_PKTINFO", 1),
    o(V4, IP, libc::IP_MTU_DISCOVER, "IP_MTU_DISCOVER", 0),
    o(V4, IP, libc::IP_RECVERR, "IP_RECVERR", 1),
    o(V4, IP, libc::IP_RECVTTL, "IP_RECVTTL", 1),
    o(V4, IP, libc::IP_RECVTOS, "IP_RECVTOS", 1),
    o(V4, IP, libc::IP_MTU, "IP_MTU", 1200),
    o(V4, IP, libc::IP_FREEBIND, "IP_FREEBIND", 1),
    o(V4, IP, libc::IP_PASSSEC, "IP_PASSSEC", 1),
    o(V4, IP, libc::IP_TRANSPARENT, "IP_TRANSPARENT", 1),
    o(V4, IP, libc::IP_RECVORIGDSTADDR, "IP_RECVORIGDSTADDR", 1),
    o(V4, IP, libc::IP_MINTTL, "IP_MINTTL", 2),
    o(V4, IP, libc::IP_NODEFRAG, "IP_NODEFRAG", 1),
    o(V4, IP, libc::IP_CHECKSUM, "IP_CHECKSUM", 1),
    o(
        V4,
        IP,
        libc::IP_BIND_ADDRESS_NO_PORT,
        "IP_BIND_ADDRESS_NO_PORT",
        1,
    ),
    o(V4, IP, libc::IP_RECVFRAGSIZE, "IP_RECVFRAGSIZE", 1),
    o(V4, IP, 26, "IP_RECVERR_RFC4884", 1),
    o(V4, IP, libc::IP_MULTICAST_TTL, "IP_MULTICAST_TTL", 4),
    o(V4, IP, libc::IP_MULTICAST_LOOP, "IP_MULTICAST_LOOP", 0),
    o(V4, IP, libc::IP_MULTICAST_ALL, "IP_MULTICAST_ALL", 0),
    o(V4, IP, 51, "IP_LOCAL_PORT_RANGE", 0x7000_6000),
    o(V4, IP, 52, "IP_PROTOCOL", 6),
    o(BOTH, IPV6, libc::IPV6_V6ONLY, "IPV6_V6ONLY", 1),
    o(V6, IPV6, libc::IPV6_UNICAST_HOPS, "IPV6_UNICAST_HOPS", 33),
    o(
        V6,
        IPV6,
        libc::IPV6_MULTICAST_HOPS,
        "IPV6_MULTICAST_HOPS",
        4,
    ),
    o(
        V6,
        IPV6,
        libc::IPV6_MULTICAST_LOOP,
        "IPV6_MULTICAST_LOOP",
        0,
    ),
    o(V6, IPV6, libc::IPV6_MTU_DISCOVER, "IPV6_MTU_DISCOVER", 0),
    o(V6, IPV6, libc::IPV6_MTU, "IPV6_MTU", 1400),
    o(V6, IPV6, libc::IPV6_RECVERR, "IPV6_RECVERR", 1),
    o(V6, IPV6, libc::IPV6_RECVPKTINFO, "IPV6_RECVPKTINFO", 1),
    o(V6, IPV6, libc::IPV6_RECVHOPLIMIT, "IPV6_RECVHOPLIMIT", 1),
    o(V6, IPV6, libc::IPV6_RECVRTHDR, "IPV6_RECVRTHDR", 1),
    o(V6, IPV6, libc::IPV6_RECVHOPOPTS, "IPV6_RECVHOPOPTS", 1),
    o(V6, IPV6, libc::IPV6_RECVDSTOPTS, "IPV6_RECVDSTOPTS", 1),
    o(V6, IPV6, libc::IPV6_RECVTCLASS, "IPV6_RECVTCLASS", 1),
    o(V6, IPV6, libc::IPV6_RECVPATHMTU, "IPV6_RECVPATHMTU", 1),
    o(V6, IPV6, libc::IPV6_TCLASS, "IPV6_TCLASS", 0x20),
    o(V6, IPV6, libc::IPV6_FLOWINFO, "IPV6_FLOWINFO", 1),
    o(V6, IPV6, libc::IPV6_FLOWINFO_SEND, "IPV6_FLOWINFO_SEND", 1),
    o(V6, IPV6, libc::IPV6_DONTFRAG, "IPV6_DONTFRAG", 1),
    o(V6, IPV6, libc::IPV6_AUTOFLOWLABEL, "IPV6_AUTOFLOWLABEL", 0),
    o(
        V6,
        IPV6,
        libc::IPV6_ADDR_PREFERENCES,
        "IPV6_ADDR_PREFERENCES",
        0x100,
    ),
    o(V6, IPV6, libc::IPV6_MINHOPCOUNT, "IPV6_MINHOPCOUNT", 2),
    o(
        V6,
        IPV6,
        libc::IPV6_RECVORIGDSTADDR,
        "IPV6_RECVORIGDSTADDR",
        1,
    ),
    o(V6, IPV6, libc::IPV6_TRANSPARENT, "IPV6_TRANSPARENT", 1),
    o(V6, IPV6, libc::IPV6_FREEBIND, "IPV6_FREEBIND", 1),
    o(V6, IPV6, libc::IPV6_RECVFRAGSIZE, "IPV6_RECVFRAGSIZE", 1),
    o(V6, IPV6, 31, "IPV6_RECVERR_RFC4884", 1),
    o(BOTH, TCP, libc::TCP_NODELAY, "TCP_NODELAY", 1),
    o(BOTH, TCP, libc::TCP_MAXSEG, "TCP_MAXSEG", 1200),
    o(BOTH, TCP, libc::TCP_CORK, "TCP_CORK", 1),
    o(BOTH, TCP, libc::TCP_KEEPIDLE, "TCP_KEEPIDLE", 60),
    o(BOTH, TCP, libc::TCP_KEEPINTVL, "TCP_KEEPINTVL", 10),
    o(BOTH, TCP, libc::TCP_KEEPCNT, "TCP_KEEPCNT", 3),
    o(BOTH, TCP, libc::TCP_SYNCNT, "TCP_SYNCNT", 3),
    o(BOTH, TCP, libc::TCP_LINGER2, "TCP_LINGER2", 10),
    o(BOTH, TCP, libc::TCP_DEFER_ACCEPT, "TCP_DEFER_ACCEPT", 5),
    o(BOTH, TCP, libc::TCP_WINDOW_CLAMP, "TCP_WINDOW_CLAMP", 65536),
    o(BOTH, TCP, libc::TCP_QUICKACK, "TCP_QUICKACK", 0),
    b(BOTH, TCP, libc::TCP_CONGESTION, "TCP_CONGESTION", b"reno"),
    o(
        BOTH,
        TCP,
        libc::TCP_THIN_LINEAR_TIMEOUTS,
        "TCP_THIN_LINEAR_TIMEOUTS",
        1,
    ),
    o(BOTH, TCP, libc::TCP_THIN_DUPACK, "TCP_THIN_DUPACK", 1),
    o(BOTH, TCP, libc::TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT", 5000),
    o(BOTH, TCP, libc::TCP_FASTOPEN, "TCP_FASTOPEN", 5),
    o(BOTH, TCP, libc::TCP_TIMESTAMP, "TCP_TIMESTAMP", 1),
    o(
        BOTH,
        TCP,
        libc::TCP_NOTSENT_LOWAT,
        "TCP_NOTSENT_LOWAT",
        16384,
    ),
    o(BOTH, TCP, libc::TCP_SAVE_SYN, "TCP_SAVE_SYN", 1),
    o(
        BOTH,
        TCP,
        libc::TCP_FASTOPEN_CONNECT,
        "TCP_FASTOPEN_CONNECT",
        1,
    ),
    o(
        BOTH,
        TCP,
        libc::TCP_FASTOPEN_NO_COOKIE,
        "TCP_FASTOPEN_NO_COOKIE",
        1,
    ),
    o(BOTH, TCP, libc::TCP_INQ, "TCP_INQ", 1),
    o(BOTH, TCP, 37, "TCP_TX_DELAY", 10),
    o(BOTH, TCP, 43, "TCP_IS_MPTCP", 1),
    o(BOTH, TCP, 44, "TCP_RTO_MAX_MS", 60_000),
    o(BOTH, TCP, 45, "TCP_RTO_MIN_US", 300_000),
    o(BOTH, TCP, 46, "TCP_DELACK_MAX_US", 50_000),
];

/// The states a socket is measured in.
const STATES: &[&str] = &["fresh", "listen", "acc-mp", "acc-tcp", "con-mp", "con-tcp"];

/// How the measured sockets are made.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// `IPPROTO_MPTCP`, with the raw system call.
    Mptcp,
    /// `IPPROTO_TCP`, with the raw system call.
    Tcp,
    /// Protocol 0 through libc's `socket()`, as a program makes them (the library may rewrite).
    Program,
}

fn errno() -> c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// One character per result.
fn code(result: Result<(), c_int>) -> char {
    match result {
        Ok(()) => '.',
        Err(libc::EOPNOTSUPP) => 'O',
        Err(libc::ENOPROTOOPT) => 'P',
        Err(libc::EINVAL) => 'I',
        Err(libc::EPERM) => 'E',
        Err(libc::ENOENT) => 'N',
        Err(libc::EFAULT) => 'F',
        Err(libc::EISCONN) => 'C',
        Err(libc::ENOTCONN) => 'T',
        Err(libc::EBUSY) => 'B',
        Err(_) => '?',
    }
}

const LEGEND: &str = "# per state: get, set to TCP's default, set to a typical value, get again \
('=' reads back what was set, '~' reads another value, '-' not tried)\n\
# '.' ok, O EOPNOTSUPP, P ENOPROTOOPT, I EINVAL, E EPERM, N ENOENT, F EFAULT, C EISCONN, \
T ENOTCONN, B EBUSY, ? another errno";

/// A socket made with the raw system call (never rewritten by a preload).
fn raw_socket(family: c_int, protocol: c_int) -> c_int {
    // SAFETY: the socket system call takes integers only.
    unsafe { libc::syscall(libc::SYS_socket, family, libc::SOCK_STREAM, protocol) as c_int }
}

fn subject_socket(kind: Kind, family: c_int) -> c_int {
    match kind {
        Kind::Mptcp => raw_socket(family, libc::IPPROTO_MPTCP),
        Kind::Tcp => raw_socket(family, libc::IPPROTO_TCP),
        // SAFETY: socket takes integers only.
        Kind::Program => unsafe { libc::socket(family, libc::SOCK_STREAM, 0) },
    }
}

/// The loopback address of the family, port 0 (the kernel picks one).
fn loopback(family: c_int) -> (libc::sockaddr_storage, socklen_t) {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut address: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    if family == libc::AF_INET {
        // SAFETY: sockaddr_storage is large enough for a sockaddr_in.
        let v4 = unsafe { &mut *(&raw mut address).cast::<libc::sockaddr_in>() };
        v4.sin_family = libc::AF_INET as libc::sa_family_t;
        v4.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        (address, size_of::<libc::sockaddr_in>() as socklen_t)
    } else {
        // SAFETY: sockaddr_storage is large enough for a sockaddr_in6.
        let v6 = unsafe { &mut *(&raw mut address).cast::<libc::sockaddr_in6>() };
        v6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
        v6.sin6_addr.s6_addr[15] = 1;
        (address, size_of::<libc::sockaddr_in6>() as socklen_t)
    }
}

/// A socket bound to loopback and listening; its address.
fn listener(fd: c_int, family: c_int) -> Option<(libc::sockaddr_storage, socklen_t)> {
    let (address, len) = loopback(family);
    // SAFETY: a valid address and its length; getsockname writes at most `len` bytes.
    unsafe {
        if libc::bind(fd, (&raw const address).cast(), len) != 0 || libc::listen(fd, 8) != 0 {
            return None;
        }
        let mut bound: libc::sockaddr_storage = std::mem::zeroed();
        let mut bound_len = size_of::<libc::sockaddr_storage>() as socklen_t;
        if libc::getsockname(fd, (&raw mut bound).cast(), &mut bound_len) != 0 {
            return None;
        }
        Some((bound, bound_len))
    }
}

fn connect(fd: c_int, address: &(libc::sockaddr_storage, socklen_t)) -> bool {
    // SAFETY: a valid address and its length.
    unsafe { libc::connect(fd, (&raw const address.0).cast(), address.1) == 0 }
}

fn accept(fd: c_int) -> c_int {
    // SAFETY: null address pointers are allowed.
    unsafe { libc::accept(fd, std::ptr::null_mut(), std::ptr::null_mut()) }
}

fn close(fds: &[c_int]) {
    for &fd in fds {
        if fd >= 0 {
            // SAFETY: descriptors of ours.
            unsafe { libc::close(fd) };
        }
    }
}

/// The measured socket in `state`, and every other descriptor to close after (its peer first).
fn in_state(kind: Kind, family: c_int, state: &str) -> Option<(c_int, Vec<c_int>)> {
    let peer_protocol = if state.ends_with("tcp") {
        libc::IPPROTO_TCP
    } else {
        libc::IPPROTO_MPTCP
    };
    match state {
        "fresh" => Some((subject_socket(kind, family), vec![])),
        "listen" => {
            let fd = subject_socket(kind, family);
            listener(fd, family)?;
            Some((fd, vec![]))
        }
        "acc-mp" | "acc-tcp" => {
            let listening = subject_socket(kind, family);
            let address = listener(listening, family)?;
            let peer = raw_socket(family, peer_protocol);
            if !connect(peer, &address) {
                close(&[peer, listening]);
                return None;
            }
            let fd = accept(listening);
            Some((fd, vec![peer, listening]))
        }
        _ => {
            let listening = raw_socket(family, peer_protocol);
            let address = listener(listening, family)?;
            let fd = subject_socket(kind, family);
            if !connect(fd, &address) {
                close(&[fd, listening]);
                return None;
            }
            let peer = accept(listening);
            Some((fd, vec![peer, listening]))
        }
    }
}

fn get(fd: c_int, option: &Option_, buffer: &mut [u8; 64]) -> Result<usize, c_int> {
    let mut len = buffer.len() as socklen_t;
    // SAFETY: a 64-byte buffer and its length.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            option.level,
            option.name,
            buffer.as_mut_ptr().cast::<c_void>(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(len as usize)
    } else {
        Err(errno())
    }
}

fn set(fd: c_int, option: &Option_, value: &[u8]) -> Result<(), c_int> {
    // SAFETY: `value` is readable for its length.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            option.level,
            option.name,
            value.as_ptr().cast::<c_void>(),
            value.len() as socklen_t,
        )
    };
    if rc == 0 { Ok(()) } else { Err(errno()) }
}

fn bytes(value: Value) -> Vec<u8> {
    match value {
        Value::Int(number) => number.to_ne_bytes().to_vec(),
        Value::Bytes(bytes) => bytes.to_vec(),
    }
}

/// What a fresh TCP socket of the family reads for the option (an int 0 when it reads nothing).
fn tcp_default(family: c_int, option: &Option_) -> Vec<u8> {
    let fd = raw_socket(family, libc::IPPROTO_TCP);
    let mut buffer = [0u8; 64];
    let value = match get(fd, option, &mut buffer) {
        Ok(len) if option.label == "TCP_CONGESTION" => buffer[..len]
            .split(|&b| b == 0)
            .next()
            .unwrap_or_default()
            .to_vec(),
        Ok(len) => buffer[..len].to_vec(),
        Err(_) => 0i32.to_ne_bytes().to_vec(),
    };
    close(&[fd]);
    value
}

/// Sends a few bytes each way between `fd` and its peer; false when they do not arrive intact.
fn carries_data(fd: c_int, peer: c_int) -> bool {
    let message = b"0123456789abcdef";
    let one_way = |from: c_int, to: c_int| {
        // SAFETY: buffers of ours and their lengths; poll on one descriptor.
        unsafe {
            if libc::write(from, message.as_ptr().cast(), message.len()) != message.len() as isize {
                return false;
            }
            let mut got = Vec::new();
            while got.len() < message.len() {
                let mut poll = libc::pollfd {
                    fd: to,
                    events: libc::POLLIN,
                    revents: 0,
                };
                if libc::poll(&mut poll, 1, 2000) != 1 {
                    return false;
                }
                let mut buffer = [0u8; 64];
                let read = libc::read(to, buffer.as_mut_ptr().cast(), buffer.len());
                if read <= 0 {
                    return false;
                }
                got.extend_from_slice(&buffer[..read as usize]);
            }
            got == message
        }
    };
    one_way(fd, peer) && one_way(peer, fd)
}

/// One state's cell: four characters.
fn measure(kind: Kind, family: c_int, state: &str, option: &Option_, broken: &mut usize) -> String {
    let Some((fd, others)) = in_state(kind, family, state) else {
        return "!!!!".to_string();
    };
    let mut buffer = [0u8; 64];
    let got = get(fd, option, &mut buffer).map(|_| ());
    let default = tcp_default(family, option);
    let set_default = set(fd, option, &default);
    let typical = bytes(option.typical);
    let set_typical = set(fd, option, &typical);
    let again = match (set_typical, get(fd, option, &mut buffer)) {
        (Err(_), _) => '-',
        (Ok(()), Ok(len)) => {
            let read = &buffer[..len];
            let same = read == typical.as_slice()
                || (option.label == "TCP_CONGESTION" && read.starts_with(&typical));
            if same { '=' } else { '~' }
        }
        (Ok(()), Err(errno)) => code(Err(errno)),
    };
    if (state.starts_with("acc") || state.starts_with("con"))
        && let Some(&peer) = others.first()
        && !carries_data(fd, peer)
    {
        *broken += 1;
    }
    close(&[fd]);
    close(&others);
    format!(
        "{}{}{}{}",
        code(got),
        code(set_default),
        code(set_typical),
        again
    )
}

fn protocol(fd: c_int) -> c_int {
    let mut value: c_int = 0;
    let mut len = size_of::<c_int>() as socklen_t;
    // SAFETY: an int and its size.
    unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PROTOCOL,
            (&raw mut value).cast(),
            &mut len,
        )
    };
    value
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let kind = match args.next().as_deref() {
        Some("mptcp") => Kind::Mptcp,
        Some("tcp") => Kind::Tcp,
        Some("program") => Kind::Program,
        _ => {
            eprintln!("usage: optiontable mptcp|tcp|program [FILTER]");
            return ExitCode::from(2);
        }
    };
    let filter = args.next().unwrap_or_default();
    println!("{LEGEND}");
    println!(
        "{:<6}{:<26}{}",
        "family",
        "option",
        STATES
            .iter()
            .map(|s| format!("{s:<8}"))
            .collect::<String>()
            .trim_end()
    );
    let mut broken = 0;
    for (family, family_name) in [(libc::AF_INET, "inet"), (libc::AF_INET6, "inet6")] {
        for option in OPTIONS
            .iter()
            .filter(|o| o.family.is_none_or(|f| f == family) && o.label.contains(&filter))
        {
            let cells: Vec<String> = STATES
                .iter()
                .map(|state| measure(kind, family, state, option, &mut broken))
                .collect();
            println!(
                "{family_name:<6}{:<26}{}",
                option.label,
                cells
                    .iter()
                    .map(|c| format!("{c:<8}"))
                    .collect::<String>()
                    .trim_end()
            );
        }
        // Which protocol each state's socket has (what the kernel says it made).
        let protocols: Vec<String> = STATES
            .iter()
            .map(|state| match in_state(kind, family, state) {
                Some((fd, others)) => {
                    let protocol = protocol(fd);
                    close(&[fd]);
                    close(&others);
                    format!("{state}={protocol}")
                }
                None => format!("{state}=none"),
            })
            .collect();
        println!("# {family_name} protocols: {}", protocols.join(" "));
    }
    println!("# established sockets that did not carry data intact: {broken}");
    ExitCode::SUCCESS
}
