//! Benchmark helper: times one kind of socket call in a loop and prints nanoseconds per call.
//!
//! Run by scripts/bench.sh with and without the library preloaded, as separate processes, so the
//! two sides are measured the same way. It does not link our crate. The timed loop is the function
//! `measured_loop`, which bench.sh also hands to callgrind to count instructions per call.
//!
//! usage: callbench unix|tcp|mptcp|tcp-socket|mptcp-socket|connect ITERATIONS
//!   unix     socket(AF_UNIX, SOCK_STREAM, 0) + close     (a call the library leaves alone)
//!   tcp      socket(AF_INET, SOCK_STREAM, 0) + close     (the call the library rewrites)
//!   mptcp    socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP) + close   (the kernel's floor)
//!   tcp-socket, mptcp-socket   the same, closed with the raw close syscall, which no preload
//!            sees: socket() alone, for the per-call instruction counts
//!   connect  socket + connect to a local listener + close (reset, no TIME_WAIT); the same
//!            thread accepts and closes the server side, so the backlog never overflows. The
//!            listener is made with a raw syscall, which the library does not see: it is the same
//!            plain TCP listener in both runs, and the figure is the client's cost alone.

use libc::c_int;
use std::process::ExitCode;
use std::time::Instant;

fn open(domain: c_int, protocol: c_int) -> c_int {
    // SAFETY: socket() takes integers only.
    let fd = unsafe { libc::socket(domain, libc::SOCK_STREAM, protocol) };
    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    fd
}

fn close(fd: c_int) {
    // SAFETY: closing a descriptor this loop opened.
    unsafe { libc::close(fd) };
}

/// Closes with the raw syscall (no preload's `close` runs).
fn raw_close(fd: c_int) {
    // SAFETY: closing a descriptor this loop opened.
    unsafe { libc::syscall(libc::SYS_close, fd) };
}

/// socket + connect + close with SO_LINGER {1, 0}, against `address`; then accepts and closes
/// the server side on `listener`.
fn connect_once(address: &libc::sockaddr_in, listener: c_int) {
    let fd = open(libc::AF_INET, 0);
    let size = size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: address is a valid sockaddr_in of `size` bytes.
    let rc = unsafe { libc::connect(fd, (address as *const libc::sockaddr_in).cast(), size) };
    assert!(rc == 0, "connect: {}", std::io::Error::last_os_error());
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: linger is a valid struct linger.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    close(fd);
    // SAFETY: accept on our listener; the peer's address is not wanted.
    let conn = unsafe { libc::accept(listener, std::ptr::null_mut(), std::ptr::null_mut()) };
    if conn >= 0 {
        close(conn);
    }
}

/// A TCP listener on 127.0.0.1 and an ephemeral port, made with the raw socket syscall so that
/// no preloaded library intercepts its creation.
fn raw_listener() -> (c_int, u16) {
    // SAFETY: the socket syscall takes integers only.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_socket,
            libc::AF_INET,
            libc::SOCK_STREAM,
            libc::IPPROTO_TCP,
        )
    } as c_int;
    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    let mut address = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_be_bytes([127, 0, 0, 1]).to_be(),
        },
        sin_zero: [0; 8],
    };
    let mut size = size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: address/size describe a valid, writable sockaddr_in.
    unsafe {
        assert_eq!(libc::bind(fd, (&raw const address).cast(), size), 0, "bind");
        assert_eq!(libc::listen(fd, 128), 0, "listen");
        libc::getsockname(fd, (&raw mut address).cast(), &mut size);
    }
    (fd, u16::from_be(address.sin_port))
}

/// The timed calls. Its own function, never inlined, so that scripts/bench.sh can count the
/// instructions of these calls alone with `callgrind --toggle-collect=*measured_loop*`.
#[inline(never)]
fn measured_loop(work: &dyn Fn(), iterations: u32) {
    for _ in 0..iterations {
        work();
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(kind), Some(Ok(iterations))) = (args.first(), args.get(1).map(|n| n.parse::<u32>()))
    else {
        eprintln!("usage: callbench unix|tcp|mptcp|tcp-socket|mptcp-socket|connect ITERATIONS");
        return ExitCode::from(2);
    };
    let mut listener = None;
    let work: Box<dyn Fn()> = match kind.as_str() {
        "unix" => Box::new(|| close(open(libc::AF_UNIX, 0))),
        "tcp" => Box::new(|| close(open(libc::AF_INET, 0))),
        "mptcp" => Box::new(|| close(open(libc::AF_INET, libc::IPPROTO_MPTCP))),
        "tcp-socket" => Box::new(|| raw_close(open(libc::AF_INET, 0))),
        "mptcp-socket" => Box::new(|| raw_close(open(libc::AF_INET, libc::IPPROTO_MPTCP))),
        "connect" => {
            let (fd, port) = raw_listener();
            listener = Some(fd);
            let address = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: port.to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_be_bytes([127, 0, 0, 1]).to_be(),
                },
                sin_zero: [0; 8],
            };
            Box::new(move || connect_once(&address, fd))
        }
        _ => {
            eprintln!("callbench: unknown kind {kind:?}");
            return ExitCode::from(2);
        }
    };
    for _ in 0..iterations / 10 {
        work(); // warm-up: symbol resolution, configuration, caches
    }
    let start = Instant::now();
    measured_loop(&*work, iterations);
    let elapsed = start.elapsed();
    println!(
        "{:.1}",
        elapsed.as_nanos() as f64 / f64::from(iterations.max(1))
    );
    if let Some(fd) = listener {
        close(fd);
    }
    ExitCode::SUCCESS
}
