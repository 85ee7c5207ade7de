//! Test helper: programs that would notice a visible socket switch, one scenario per subcommand.
//!
//! Each scenario prints what the program observes, one fact per line, and is run by
//! `tests/invisible_switch.rs` without the library and under it: lines must be identical, except
//! `opt …` lines (a setsockopt result: under the library it may be the kernel's own error, then
//! with one warning on stderr) and `protocol …` lines (asserted by the test itself).
//!
//! usage: hostile SCENARIO [ARG]   (see `main` for the list; every wait is bounded)
//!
//! Not here: a socket above descriptor 65,535 (the old tracking limit). This machine caps
//! `RLIMIT_NOFILE` at 20,000 even for root, so the range is covered by the unit test of
//! `crates/preload/src/tracked.rs` instead.

use libc::{c_int, socklen_t};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn errno() -> c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn errno_name(errno: c_int) -> String {
    match errno {
        libc::ENOPROTOOPT => "ENOPROTOOPT".into(),
        libc::EOPNOTSUPP => "EOPNOTSUPP".into(),
        libc::EINVAL => "EINVAL".into(),
        libc::ENOENT => "ENOENT".into(),
        libc::EPIPE => "EPIPE".into(),
        libc::ENOTCONN => "ENOTCONN".into(),
        libc::EADDRINUSE => "EADDRINUSE".into(),
        libc::EINPROGRESS => "EINPROGRESS".into(),
        other => format!("errno {other}"),
    }
}

fn check(rc: c_int) -> Result<c_int, String> {
    if rc < 0 {
        Err(errno_name(errno()))
    } else {
        Ok(rc)
    }
}

fn show(result: Result<c_int, String>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(e) => e,
    }
}

fn socket(domain: c_int, flags: c_int) -> c_int {
    // SAFETY: socket() takes integers.
    let fd = unsafe { libc::socket(domain, libc::SOCK_STREAM | flags, 0) };
    assert!(fd >= 0, "socket: {}", errno_name(errno()));
    fd
}

fn set_int(fd: c_int, level: c_int, name: c_int, value: c_int) -> Result<c_int, String> {
    // SAFETY: a live int of the given size.
    check(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&raw const value).cast(),
            size_of::<c_int>() as socklen_t,
        )
    })
}

fn get_int(fd: c_int, level: c_int, name: c_int) -> Result<c_int, String> {
    let mut value: c_int = 0;
    let mut len = size_of::<c_int>() as socklen_t;
    // SAFETY: a writable int of the given size.
    check(unsafe { libc::getsockopt(fd, level, name, (&raw mut value).cast(), &mut len) })?;
    Ok(value)
}

fn protocol(fd: c_int) -> String {
    get_int(fd, libc::SOL_SOCKET, libc::SO_PROTOCOL).map_or_else(|e| e, |p| p.to_string())
}

fn address(port: u16, v6: bool) -> (libc::sockaddr_storage, socklen_t) {
    // SAFETY: all-zero bytes are a valid sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    if v6 {
        // SAFETY: sockaddr_storage is large and aligned enough for a sockaddr_in6.
        let sin6 = unsafe { &mut *(&raw mut storage).cast::<libc::sockaddr_in6>() };
        sin6.sin6_family = libc::AF_INET6 as u16;
        sin6.sin6_port = port.to_be();
        sin6.sin6_addr.s6_addr[15] = 1;
        (storage, size_of::<libc::sockaddr_in6>() as socklen_t)
    } else {
        // SAFETY: as above, for a sockaddr_in.
        let sin = unsafe { &mut *(&raw mut storage).cast::<libc::sockaddr_in>() };
        sin.sin_family = libc::AF_INET as u16;
        sin.sin_port = port.to_be();
        sin.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        (storage, size_of::<libc::sockaddr_in>() as socklen_t)
    }
}

fn connect(fd: c_int, port: u16, v6: bool) -> Result<c_int, String> {
    let (storage, len) = address(port, v6);
    // SAFETY: a valid address of `len` bytes.
    check(unsafe { libc::connect(fd, (&raw const storage).cast(), len) })
}

fn bind(fd: c_int, port: u16, v6: bool) -> Result<c_int, String> {
    let (storage, len) = address(port, v6);
    // SAFETY: a valid address of `len` bytes.
    check(unsafe { libc::bind(fd, (&raw const storage).cast(), len) })
}

fn local_port(fd: c_int) -> u16 {
    let (mut storage, mut len) = address(0, true);
    // SAFETY: a writable sockaddr_storage.
    unsafe { libc::getsockname(fd, (&raw mut storage).cast(), &mut len) };
    // SAFETY: sin_port and sin6_port are at the same offset.
    u16::from_be(unsafe { (*(&raw const storage).cast::<libc::sockaddr_in>()).sin_port })
}

fn write_all(fd: c_int, data: &[u8]) -> Result<c_int, String> {
    // SAFETY: a live slice.
    check(unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) } as c_int)
}

/// Reads until end of stream or 2 s, from a blocking or non-blocking descriptor.
fn read_all(fd: c_int) -> String {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut out = Vec::new();
    while Instant::now() < deadline {
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd.
        if unsafe { libc::poll(&mut poll, 1, 200) } <= 0 {
            continue;
        }
        let mut buffer = [0u8; 256];
        // SAFETY: a writable buffer.
        let n = unsafe { libc::read(fd, buffer.as_mut_ptr().cast(), buffer.len()) };
        if n <= 0 {
            if n < 0 {
                out.extend_from_slice(format!("<{}>", errno_name(errno())).as_bytes());
            }
            break;
        }
        out.extend_from_slice(&buffer[..n as usize]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A loopback server that answers each connection with `reply` (after reading the request line
/// when `read_first`), then closes it; serves `count` connections in a thread.
fn server(v6: bool, count: usize, reply: &'static [u8], read_first: bool) -> u16 {
    let listener = TcpListener::bind(if v6 { "[::1]:0" } else { "127.0.0.1:0" }).expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        for _ in 0..count {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            if read_first {
                let mut request = [0u8; 64];
                let _ = stream.read(&mut request);
            }
            let _ = stream.write_all(reply);
        }
    });
    port
}

/// Connects to `port` from a fresh client and says whether it got in within `timeout_ms`.
fn client_gets_in(port: u16, key: Option<&[u8]>, timeout_ms: c_int) -> &'static str {
    let fd = socket(libc::AF_INET, libc::SOCK_NONBLOCK);
    if let Some(key) = key
        && set_md5(fd, key).is_err()
    {
        return "key refused";
    }
    let _ = connect(fd, port, false);
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one pollfd.
    let ready = unsafe { libc::poll(&mut poll, 1, timeout_ms) };
    let error = get_int(fd, libc::SOL_SOCKET, libc::SO_ERROR).unwrap_or(-1);
    // SAFETY: our descriptor.
    unsafe { libc::close(fd) };
    if ready == 1 && error == 0 {
        "in"
    } else {
        "kept out"
    }
}

/// `TCP_MD5SIG` for peer 127.0.0.1 with `key`.
fn set_md5(fd: c_int, key: &[u8]) -> Result<c_int, String> {
    // struct tcp_md5sig: sockaddr_storage addr; u8 flags, prefixlen; u16 keylen; u32 ifindex;
    // u8 key[80].
    let mut md5 = [0u8; 128 + 8 + 80];
    let (peer, _) = address(0, false);
    // SAFETY: copying the bytes of a plain-data sockaddr_storage.
    let peer_bytes: [u8; 128] = unsafe { std::mem::transmute(peer) };
    md5[..128].copy_from_slice(&peer_bytes);
    md5[130..132].copy_from_slice(&(key.len() as u16).to_ne_bytes());
    md5[136..136 + key.len()].copy_from_slice(key);
    // SAFETY: a live buffer of the struct's size.
    check(unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_MD5SIG,
            md5.as_ptr().cast(),
            md5.len() as socklen_t,
        )
    })
}

/// 1. epoll: registered before an option MPTCP refuses and a non-blocking connect.
fn epoll_connect() {
    let port = server(false, 1, b"hello", false);
    let fd = socket(libc::AF_INET, libc::SOCK_NONBLOCK);
    // SAFETY: plain epoll calls on descriptors of ours.
    let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    let mut event = libc::epoll_event {
        events: (libc::EPOLLOUT | libc::EPOLLET) as u32,
        u64: 42,
    };
    // SAFETY: as above.
    let added = check(unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_ADD, fd, &mut event) });
    println!("add {}", show(added));
    println!(
        "opt TCP_USER_TIMEOUT {}",
        show(set_int(fd, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, 5000))
    );
    println!("connect {}", show(connect(fd, port, false)));
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 4];
    // SAFETY: a writable array of 4 events.
    let n = unsafe { libc::epoll_wait(epoll, events.as_mut_ptr(), 4, 3000) };
    println!(
        "epoll_wait {n} data {}",
        if n > 0 { events[0].u64 } else { 0 }
    );
    let mut event = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: 43,
    };
    // SAFETY: as above.
    let modified = check(unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_MOD, fd, &mut event) });
    println!("mod {}", show(modified));
    // SAFETY: as above.
    let n = unsafe { libc::epoll_wait(epoll, events.as_mut_ptr(), 4, 3000) };
    println!(
        "epoll_wait {n} data {}",
        if n > 0 { events[0].u64 } else { 0 }
    );
    println!("read {}", read_all(fd));
    println!("protocol {}", protocol(fd));
}

/// 1b. epoll: a socket registered before listen() (the switch of `listen`/`connect` mode).
fn epoll_listen() {
    let fd = socket(libc::AF_INET, libc::SOCK_NONBLOCK);
    println!("bind {}", show(bind(fd, 0, false)));
    let port = local_port(fd);
    // SAFETY: plain epoll calls on descriptors of ours.
    let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    let mut event = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: 7,
    };
    // SAFETY: as above.
    let added = check(unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_ADD, fd, &mut event) });
    println!("add {}", show(added));
    // SAFETY: listen takes integers.
    println!("listen {}", show(check(unsafe { libc::listen(fd, 8) })));
    println!("same port {}", local_port(fd) == port);
    let client = std::thread::spawn(move || TcpStream::connect(("127.0.0.1", port)).is_ok());
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 4];
    // SAFETY: a writable array of 4 events.
    let n = unsafe { libc::epoll_wait(epoll, events.as_mut_ptr(), 4, 3000) };
    println!(
        "epoll_wait {n} data {}",
        if n > 0 { events[0].u64 } else { 0 }
    );
    println!("client {}", client.join().unwrap_or(false));
    println!("protocol {}", protocol(fd));
}

/// 2. A listener protected with TCP_MD5SIG before listen().
fn md5_listen() {
    let fd = socket(libc::AF_INET, 0);
    println!("bind {}", show(bind(fd, 0, false)));
    println!("opt TCP_MD5SIG {}", show(set_md5(fd, b"secret")));
    // SAFETY: listen takes integers.
    println!("listen {}", show(check(unsafe { libc::listen(fd, 8) })));
    let port = local_port(fd);
    let accepting = std::thread::spawn(move || {
        for _ in 0..2 {
            // SAFETY: accept on our listener; the accepted socket is closed at once.
            let conn = unsafe { libc::accept(fd, std::ptr::null_mut(), std::ptr::null_mut()) };
            if conn >= 0 {
                // SAFETY: our descriptor.
                unsafe { libc::close(conn) };
            }
        }
    });
    println!("without key {}", client_gets_in(port, None, 1500));
    println!("with key {}", client_gets_in(port, Some(b"secret"), 3000));
    drop(accepting);
    println!("protocol {}", protocol(fd));
}

/// 3. A finished connection: the answer arrived and the server closed before an option is set.
fn finished() {
    let port = server(false, 1, b"answer", true);
    let fd = socket(libc::AF_INET, 0);
    println!("connect {}", show(connect(fd, port, false)));
    println!("write {}", show(write_all(fd, b"request")));
    std::thread::sleep(Duration::from_millis(300));
    println!(
        "opt IP_TTL {}",
        show(set_int(fd, libc::IPPROTO_IP, libc::IP_TTL, 33))
    );
    println!("read {}", read_all(fd));
}

/// 4. Duplicated descriptors before the switch: `how` is dup, dup2, dupfd or fork.
fn duplicates(how: &str) {
    let port = server(false, 1, b"echoed", true);
    let fd = socket(libc::AF_INET, 0);
    // SAFETY: plain descriptor calls on descriptors of ours.
    let copy = unsafe {
        match how {
            "dup" => libc::dup(fd),
            "dup2" => libc::dup2(fd, 100),
            "dupfd" => libc::fcntl(fd, libc::F_DUPFD, 200),
            _ => libc::dup(fd),
        }
    };
    let child = if how == "fork" {
        // SAFETY: the child only sleeps and exits.
        match unsafe { libc::fork() } {
            0 => {
                std::thread::sleep(Duration::from_secs(2));
                // SAFETY: ends the child without running the parent's destructors.
                unsafe { libc::_exit(0) }
            }
            pid => pid,
        }
    } else {
        0
    };
    println!(
        "opt TCP_USER_TIMEOUT {}",
        show(set_int(fd, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, 5000))
    );
    println!("connect {}", show(connect(fd, port, false)));
    println!("write copy {}", show(write_all(copy, b"ping")));
    println!("read copy {}", read_all(copy));
    println!("same socket {}", protocol(fd) == protocol(copy));
    if child > 0 {
        // SAFETY: reaping our own child.
        unsafe { libc::waitpid(child, std::ptr::null_mut(), 0) };
    }
}

/// 4b. listen() through a duplicate (the switch of `listen`/`connect` mode).
fn listen_duplicate() {
    let fd = socket(libc::AF_INET, 0);
    println!("bind {}", show(bind(fd, 0, false)));
    // SAFETY: dup of our descriptor.
    let copy = unsafe { libc::dup(fd) };
    // SAFETY: listen takes integers.
    println!(
        "listen copy {}",
        show(check(unsafe { libc::listen(copy, 8) }))
    );
    let port = local_port(fd);
    let client = std::thread::spawn(move || TcpStream::connect(("127.0.0.1", port)).is_ok());
    // SAFETY: accept on the original number.
    let conn = unsafe { libc::accept(fd, std::ptr::null_mut(), std::ptr::null_mut()) };
    println!("accept original {}", conn >= 0);
    println!("client {}", client.join().unwrap_or(false));
    println!("protocol {}", protocol(fd));
    println!("same socket {}", protocol(fd) == protocol(copy));
}

static SIGNALS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn count_signal(_: c_int) {
    SIGNALS.fetch_add(1, Ordering::Relaxed);
}

/// 5. Signal-driven I/O: owner, signal and O_ASYNC set before the switch.
fn signal_io() {
    // SAFETY: installing a handler that only touches an atomic.
    unsafe {
        libc::signal(
            libc::SIGUSR1,
            count_signal as *const () as libc::sighandler_t,
        )
    };
    let port = server(false, 1, b"wake up", false);
    let fd = socket(libc::AF_INET, 0);
    // SAFETY: fcntl commands with integer arguments on our descriptor.
    unsafe {
        libc::fcntl(fd, libc::F_SETOWN, libc::getpid());
        libc::fcntl(fd, 10 /* F_SETSIG */, libc::SIGUSR1);
        libc::fcntl(fd, libc::F_SETFL, libc::O_ASYNC | libc::O_NONBLOCK);
    }
    println!(
        "opt TCP_USER_TIMEOUT {}",
        show(set_int(fd, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, 5000))
    );
    // SAFETY: as above.
    let owner_is_us = unsafe { libc::fcntl(fd, libc::F_GETOWN) == libc::getpid() };
    println!("owner kept {owner_is_us}");
    println!("connect {}", show(connect(fd, port, false)));
    let deadline = Instant::now() + Duration::from_secs(3);
    while SIGNALS.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    println!("signal arrived {}", SIGNALS.load(Ordering::Relaxed) > 0);
    println!("read {}", read_all(fd));
}

/// 6. Readable options set before the switch come back as set (IPv4 or IPv6).
fn options(v6: bool) {
    let port = server(v6, 1, b"fine", false);
    let fd = socket(if v6 { libc::AF_INET6 } else { libc::AF_INET }, 0);
    let sol = libc::SOL_SOCKET;
    let list: &[(&str, c_int, c_int, c_int)] = &[
        ("SO_DONTROUTE", sol, libc::SO_DONTROUTE, 1),
        ("SO_DEBUG", sol, libc::SO_DEBUG, 1),
        ("SO_TIMESTAMP", sol, libc::SO_TIMESTAMP, 1),
        ("SO_TIMESTAMPNS", sol, libc::SO_TIMESTAMPNS, 1),
        ("SO_TIMESTAMPING", sol, libc::SO_TIMESTAMPING, 0x10 | 0x4),
        ("SO_BUSY_POLL", sol, libc::SO_BUSY_POLL, 50),
        ("SO_INCOMING_CPU", sol, libc::SO_INCOMING_CPU, 0),
        ("SO_KEEPALIVE", sol, libc::SO_KEEPALIVE, 1),
        ("SO_PRIORITY", sol, libc::SO_PRIORITY, 3),
        ("SO_MARK", sol, libc::SO_MARK, 7),
        ("TCP_NODELAY", libc::IPPROTO_TCP, libc::TCP_NODELAY, 1),
        ("TCP_KEEPIDLE", libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, 77),
    ];
    for &(name, level, option, value) in list {
        println!("set {name} {}", show(set_int(fd, level, option, value)));
    }
    println!(
        "opt TCP_USER_TIMEOUT {}",
        show(set_int(fd, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, 5000))
    );
    for &(name, level, option, _) in list {
        println!(
            "get {name} {}",
            get_int(fd, level, option).map_or_else(|e| e, |v| v.to_string())
        );
    }
    println!("connect {}", show(connect(fd, port, v6)));
    println!("read {}", read_all(fd));
}

/// 7. IPv4 with IP_FREEBIND, then an option MPTCP refuses: no new error.
fn freebind() {
    let fd = socket(libc::AF_INET, 0);
    println!(
        "set IP_FREEBIND {}",
        show(set_int(fd, libc::IPPROTO_IP, libc::IP_FREEBIND, 1))
    );
    println!(
        "opt TCP_USER_TIMEOUT {}",
        show(set_int(fd, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, 5000))
    );
    println!(
        "get IP_FREEBIND {}",
        get_int(fd, libc::IPPROTO_IP, libc::IP_FREEBIND).map_or_else(|e| e, |v| v.to_string())
    );
}

/// 8. The program's own MPTCP socket moved onto a number a closed library socket used.
fn stale() {
    let ours = socket(libc::AF_INET, 0);
    // SAFETY: plain descriptor calls on descriptors of ours.
    let own = unsafe {
        let own = libc::socket(libc::AF_INET, libc::SOCK_STREAM, libc::IPPROTO_MPTCP);
        libc::close(ours);
        libc::dup2(own, ours);
        libc::close(own);
        ours
    };
    println!("own protocol {}", protocol(own));
    println!(
        "set TCP_USER_TIMEOUT {}",
        show(set_int(
            own,
            libc::IPPROTO_TCP,
            libc::TCP_USER_TIMEOUT,
            5000
        ))
    );
    println!("bind {}", show(bind(own, 0, false)));
    // SAFETY: listen takes integers.
    println!("listen {}", show(check(unsafe { libc::listen(own, 8) })));
    println!("own protocol after {}", protocol(own));
}

/// 9. One thread connects while another sets an option MPTCP refuses on the same new socket.
///
/// A setsockopt() that failed though it returned before connect() returned ran inside the
/// connect, where TCP never fails: counted as spurious. The test cannot see when a call enters the
/// library, so a call that read "not returned yet" and was then descheduled past the connect is
/// only counted on stderr with the ones that began after (the library answers those by its rules
/// for a connected socket: the kernel's error for this option). Nor can it see the end of the
/// library's connect(): a setter that runs after it, while the connecting thread is descheduled
/// before it notes the return, is answered as after the connect too (1 of ~200 such calls in
/// some runs on a loaded 2-core machine). So a tenth is allowed: a library that does not answer
/// overlapping calls as TCP would fails ~90% of them (150 of 162 and 136 of 152, measured).
fn race(rounds: usize) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        while let Ok((stream, _)) = listener.accept() {
            drop(stream);
        }
    });
    let (mut connected, mut not_really, mut spurious) = (0, 0, 0);
    let (mut inside, mut after, mut straddling) = (0, 0, 0);
    let deadline = Instant::now() + Duration::from_secs(50);
    for _ in 0..rounds {
        if Instant::now() > deadline {
            break;
        }
        let fd = socket(libc::AF_INET, 0);
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let connect_returned = std::sync::Arc::new(AtomicBool::new(false));
        let (other, returned) = (barrier.clone(), connect_returned.clone());
        let setter = std::thread::spawn(move || {
            other.wait();
            let began_after = returned.load(Ordering::SeqCst);
            let result = set_int(fd, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, 5000);
            let ended_before = !returned.load(Ordering::SeqCst);
            (result.is_err(), began_after, ended_before)
        });
        barrier.wait();
        let result = connect(fd, port, false);
        connect_returned.store(true, Ordering::SeqCst);
        match setter.join() {
            Ok((failed, _, true)) => {
                inside += 1;
                spurious += usize::from(failed);
            }
            Ok((true, true, _)) => after += 1,
            Ok((true, false, false)) => straddling += 1,
            _ => {}
        }
        if result.is_ok() {
            connected += 1;
            let (mut peer, mut len) = address(0, true);
            // SAFETY: a writable sockaddr_storage.
            if unsafe { libc::getpeername(fd, (&raw mut peer).cast(), &mut len) } != 0 {
                not_really += 1;
            }
        }
        // SAFETY: our descriptor.
        unsafe { libc::close(fd) };
    }
    println!("connected all {}", connected == rounds);
    println!("connected but not {not_really}");
    println!(
        "setsockopt failed in at most a tenth of the calls inside connect {}",
        spurious * 10 <= inside
    );
    println!("setsockopt ran inside connect at least once {}", inside > 0);
    eprintln!(
        "race: of {rounds} rounds, setsockopt ran inside connect in {inside} and failed in \
         {spurious} of them; it failed in {after} that began after connect returned and \
         {straddling} that began before and ended after"
    );
}

/// 11. fork() while another thread makes the process's first socket: the child must not hang.
fn fork_first() {
    let starter = std::thread::spawn(|| {
        let fd = socket(libc::AF_INET, 0);
        // SAFETY: our descriptor.
        unsafe { libc::close(fd) };
    });
    // SAFETY: the child makes one socket and exits with _exit; alarm bounds a hang.
    let child = unsafe { libc::fork() };
    if child == 0 {
        // SAFETY: alarm/socket/_exit are async-signal-safe enough for this test child.
        unsafe {
            libc::alarm(5);
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            libc::_exit(if fd >= 0 { 0 } else { 1 });
        }
    }
    let _ = starter.join();
    let mut status = 0;
    // SAFETY: reaping our own child.
    unsafe { libc::waitpid(child, &mut status, 0) };
    println!(
        "child {}",
        if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
            "ok".to_string()
        } else {
            format!("status {status}")
        }
    );
}

/// 12a. stderr closed: the next socket is fd 2; no log line may go into that connection.
fn closed_stderr() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let receiver = std::thread::spawn(move || {
        let mut got = String::new();
        if let Ok((mut stream, _)) = listener.accept() {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
            let _ = stream.read_to_string(&mut got);
        }
        got
    });
    // SAFETY: closing our own stderr, as a daemon does.
    unsafe { libc::close(2) };
    let fd = socket(libc::AF_INET, 0);
    println!("socket is fd 2 {}", fd == 2);
    println!(
        "opt TCP_USER_TIMEOUT {}",
        show(set_int(fd, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, 5000))
    );
    println!("connect {}", show(connect(fd, port, false)));
    // A later socket: its debug line must not reach fd 2 either.
    let later = socket(libc::AF_INET, 0);
    println!("write {}", show(write_all(fd, b"payload")));
    // SAFETY: our descriptors.
    unsafe {
        libc::close(later);
        libc::close(fd);
    }
    println!("server got {:?}", receiver.join().unwrap_or_default());
}

/// 12b. The host closes every descriptor above 2 and reuses our log file's number for its own
/// file: our lines must not land there. `path` is the program's own file.
fn closed_log(path: &str) {
    let first = socket(libc::AF_INET, 0);
    // SAFETY: closing descriptors as a daemon does after start-up.
    unsafe { libc::close_range(3, c_int::MAX as u32, 0) };
    let mine = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("own file");
    println!(
        "own file reuses a closed number {}",
        mine.as_raw_fd() <= first.max(3) + 1
    );
    let fd = socket(libc::AF_INET, 0);
    // SAFETY: our descriptor.
    unsafe { libc::close(fd) };
    let mut file = mine;
    let _ = file.write_all(b"mine\n");
    drop(file);
    println!(
        "own file {:?}",
        std::fs::read_to_string(path).unwrap_or_default()
    );
}

/// A socket made before the program moved to another network namespace.
fn other_netns() {
    let port = server(false, 1, b"same namespace", false);
    let fd = socket(libc::AF_INET, 0);
    // SAFETY: unshare takes flags; the process (we are root) gets a namespace of its own.
    println!(
        "unshare {}",
        show(check(unsafe { libc::unshare(libc::CLONE_NEWNET) }))
    );
    println!(
        "opt TCP_USER_TIMEOUT {}",
        show(set_int(fd, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, 5000))
    );
    println!("connect {}", show(connect(fd, port, false)));
    println!("read {}", read_all(fd));
}

/// A bound socket inherited by a daemonised grandchild of system(): the old socket would keep
/// the port.
fn spawned() {
    let fd = socket(libc::AF_INET, 0);
    println!("bind {}", show(bind(fd, 0, false)));
    // SAFETY: a NUL-terminated command.
    let status = unsafe { libc::system(c"sleep 2 >/dev/null 2>&1 &".as_ptr()) };
    println!("system {status}");
    println!(
        "opt TCP_USER_TIMEOUT {}",
        show(set_int(fd, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, 5000))
    );
    // SAFETY: listen takes integers.
    println!("listen {}", show(check(unsafe { libc::listen(fd, 8) })));
}

/// shutdown() before connect: the shut-down state must survive.
fn shut() {
    let port = server(false, 1, b"", true);
    let fd = socket(libc::AF_INET, 0);
    // SAFETY: shutdown takes integers.
    println!(
        "shutdown {}",
        show(check(unsafe { libc::shutdown(fd, libc::SHUT_WR) }))
    );
    println!(
        "opt TCP_USER_TIMEOUT {}",
        show(set_int(fd, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, 5000))
    );
    println!("connect {}", show(connect(fd, port, false)));
    // SAFETY: a live buffer; MSG_NOSIGNAL turns SIGPIPE into EPIPE.
    let sent = unsafe { libc::send(fd, b"x".as_ptr().cast(), 1, libc::MSG_NOSIGNAL) };
    println!("send {}", show(check(sent as c_int)));
}

/// A fired EPOLLONESHOT registration stays disarmed.
fn oneshot() {
    let fd = socket(libc::AF_INET, libc::SOCK_NONBLOCK);
    // SAFETY: plain epoll calls on descriptors of ours.
    let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    let mut event = libc::epoll_event {
        events: (libc::EPOLLOUT | libc::EPOLLONESHOT) as u32,
        u64: 222,
    };
    // SAFETY: as above.
    unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_ADD, fd, &mut event) };
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 4];
    // SAFETY: a writable array of 4 events.
    let first = unsafe { libc::epoll_wait(epoll, events.as_mut_ptr(), 4, 1000) };
    println!("first wait {first}");
    println!(
        "opt TCP_USER_TIMEOUT {}",
        show(set_int(fd, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, 5000))
    );
    // SAFETY: as above.
    let second = unsafe { libc::epoll_wait(epoll, events.as_mut_ptr(), 4, 300) };
    println!("second wait {second}");
}

/// A listener that sets an option MPTCP refuses to its default value (TCP_USER_TIMEOUT=0).
fn default_listener() {
    let fd = socket(libc::AF_INET, 0);
    println!(
        "opt TCP_USER_TIMEOUT {}",
        show(set_int(fd, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, 0))
    );
    println!("bind {}", show(bind(fd, 0, false)));
    // SAFETY: listen takes integers.
    println!("listen {}", show(check(unsafe { libc::listen(fd, 8) })));
    let port = local_port(fd);
    let client = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        Some(answer)
    });
    // SAFETY: accept on our listener.
    let conn = unsafe { libc::accept(fd, std::ptr::null_mut(), std::ptr::null_mut()) };
    // SAFETY: the accepted descriptor becomes a TcpStream that owns it.
    let mut stream = unsafe { TcpStream::from_raw_fd(conn) };
    let _ = stream.write_all(b"served");
    drop(stream);
    println!("client got {:?}", client.join().ok().flatten());
    println!("protocol {}", protocol(fd));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = args.get(2).map(String::as_str).unwrap_or("");
    match args.get(1).map(String::as_str).unwrap_or("") {
        "epoll-connect" => epoll_connect(),
        "epoll-listen" => epoll_listen(),
        "md5-listen" => md5_listen(),
        "finished" => finished(),
        "duplicates" => duplicates(arg),
        "listen-duplicate" => listen_duplicate(),
        "signal-io" => signal_io(),
        "options" => options(arg == "6"),
        "freebind" => freebind(),
        "stale" => stale(),
        "race" => race(arg.parse().unwrap_or(5000)),
        "fork-first" => fork_first(),
        "closed-stderr" => closed_stderr(),
        "closed-log" => closed_log(arg),
        "default-listener" => default_listener(),
        "other-netns" => other_netns(),
        "spawned" => spawned(),
        "shut" => shut(),
        "oneshot" => oneshot(),
        other => {
            eprintln!("hostile: unknown scenario {other:?}");
            std::process::exit(2);
        }
    }
}
