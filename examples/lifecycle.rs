//! Test helper: the library under threads, signals and process creation.
//!
//! usage: lifecycle threads THREADS SOCKETS EXPECTED_PROTOCOL
//!          THREADS threads each open and close SOCKETS AF_INET stream sockets at once; prints how
//!          many had EXPECTED_PROTOCOL, how many another, how many failed, and the open-fd count
//!          before and after.
//!        lifecycle signal SOCKETS
//!          a 200 µs SIGALRM timer whose handler opens and closes a socket, from before the first
//!          socket() call, while the main thread opens SOCKETS sockets: must not deadlock.
//!        lifecycle spawn PROGRAM [ARG...]
//!          runs PROGRAM through fork+exec and posix_spawn (glibc's is a vfork: clone with
//!          CLONE_VM|CLONE_VFORK, so that path is the vfork+exec one; libc's vfork() itself is
//!          deprecated as unsound in Rust), and opens a socket in a forked child that does not
//!          exec; prints each exit status and the child's protocol.

use libc::c_int;
use std::ffi::CString;
use std::sync::atomic::{AtomicU64, Ordering};

fn open_close() -> Result<c_int, c_int> {
    // SAFETY: socket/getsockopt/close on a descriptor this function owns.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        if fd < 0 {
            return Err(*libc::__errno_location());
        }
        let mut protocol: c_int = 0;
        let mut len = size_of::<c_int>() as libc::socklen_t;
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PROTOCOL,
            (&raw mut protocol).cast(),
            &mut len,
        );
        libc::close(fd);
        Ok(protocol)
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

fn threads(count: usize, sockets: usize, expected: c_int) {
    let before = open_fds();
    let handles: Vec<_> = (0..count)
        .map(|_| {
            std::thread::spawn(move || {
                let (mut right, mut wrong, mut failed) = (0u64, 0u64, 0u64);
                for _ in 0..sockets {
                    match open_close() {
                        Ok(p) if p == expected => right += 1,
                        Ok(_) => wrong += 1,
                        Err(_) => failed += 1,
                    }
                }
                (right, wrong, failed)
            })
        })
        .collect();
    let (mut right, mut wrong, mut failed) = (0, 0, 0);
    for handle in handles {
        let (r, w, f) = handle.join().expect("a worker thread");
        (right, wrong, failed) = (right + r, wrong + w, failed + f);
    }
    println!(
        "right={right} wrong={wrong} failed={failed} fds_before={before} fds_after={}",
        open_fds()
    );
}

static HANDLED: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_alarm(_: c_int) {
    if open_close().is_ok() {
        HANDLED.fetch_add(1, Ordering::Relaxed);
    }
}

fn signal_storm(sockets: usize) {
    // SAFETY: installing a handler and an interval timer; the handler only makes syscalls.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_alarm as extern "C" fn(c_int) as usize;
        action.sa_flags = libc::SA_RESTART;
        libc::sigaction(libc::SIGALRM, &action, std::ptr::null_mut());
        let interval = libc::timeval {
            tv_sec: 0,
            tv_usec: 200,
        };
        let timer = libc::itimerval {
            it_interval: interval,
            it_value: interval,
        };
        libc::setitimer(libc::ITIMER_REAL, &timer, std::ptr::null_mut());
    }
    let opened = (0..sockets).filter(|_| open_close().is_ok()).count();
    // SAFETY: stopping the timer.
    unsafe {
        let zero: libc::itimerval = std::mem::zeroed();
        libc::setitimer(libc::ITIMER_REAL, &zero, std::ptr::null_mut());
    }
    println!(
        "opened={opened} handled={}",
        HANDLED.load(Ordering::Relaxed)
    );
}

fn wait_status(pid: libc::pid_t) -> c_int {
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    }
}

fn spawn(program: &[String]) {
    let args: Vec<CString> = program
        .iter()
        .map(|a| CString::new(a.as_str()).expect("no NUL"))
        .collect();
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    // SAFETY: environ is the process environment, NULL-terminated.
    let envp = unsafe { *std::ptr::addr_of!(environ) };
    // fork + exec
    // SAFETY: the child only calls execve and _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        unsafe {
            libc::execve(argv[0], argv.as_ptr(), envp);
            libc::_exit(127);
        }
    }
    let fork_exec = wait_status(pid);
    // posix_spawn
    let mut spawned: libc::pid_t = 0;
    // SAFETY: argv/envp are valid NULL-terminated arrays.
    let rc = unsafe {
        libc::posix_spawn(
            &mut spawned,
            argv[0],
            std::ptr::null(),
            std::ptr::null(),
            argv.as_ptr().cast(),
            envp.cast(),
        )
    };
    let posix_spawn = if rc == 0 { wait_status(spawned) } else { -2 };
    // fork without exec: the child uses the library's state inherited from the parent.
    open_close().ok();
    // SAFETY: the child makes a socket and exits 1 for MPTCP, 0 for TCP, 2 on failure.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let code = match open_close() {
            Ok(libc::IPPROTO_MPTCP) => 1,
            Ok(_) => 0,
            Err(_) => 2,
        };
        unsafe { libc::_exit(code) };
    }
    let child_protocol = wait_status(pid);
    println!("fork_exec={fork_exec} posix_spawn={posix_spawn} fork_child_mptcp={child_protocol}");
}

unsafe extern "C" {
    static environ: *const *const libc::c_char;
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize| args.get(i).and_then(|a| a.parse::<usize>().ok());
    match args.first().map(String::as_str) {
        Some("threads") => match (number(1), number(2), number(3)) {
            (Some(t), Some(s), Some(p)) => threads(t.min(64), s.min(1_000_000), p as c_int),
            _ => eprintln!("usage: lifecycle threads THREADS SOCKETS EXPECTED_PROTOCOL"),
        },
        Some("signal") => signal_storm(number(1).unwrap_or(10_000).min(1_000_000)),
        Some("spawn") if args.len() > 1 => spawn(&args[1..]),
        _ => eprintln!("usage: lifecycle threads|signal|spawn ..."),
    }
}
