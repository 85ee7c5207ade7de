//! Test helper: calls `socket()` the way a C program does and reports what the kernel made.
//!
//! Run under the built library by the black-box tests (it does not link our crate, so its
//! `socket()` goes through the dynamic linker like any host program's). It prints one line of
//! `key=value` facts read back from the kernel (`SO_PROTOCOL`, `SO_TYPE`, `O_NONBLOCK`,
//! `FD_CLOEXEC`) and whether errno was left as it was before a successful call.
//!
//! usage: sockprobe DOMAIN TYPE PROTOCOL [COUNT [GAP_MS]]
//!   DOMAIN: inet | inet6 | unix | NUMBER, or a comma-separated list used in turn
//!      TYPE: stream|dgram|raw|seqpacket[+nonblock][+cloexec]
//!   PROTOCOL: 0 | tcp | udp | mptcp | NUMBER  COUNT sockets (opened and closed), GAP_MS between them

use libc::{c_int, c_void, socklen_t};
use std::process::ExitCode;

/// An errno value no syscall sets, planted before each call to see that it survives.
const ERRNO_SENTINEL: c_int = 4242;

fn parse_domain(word: &str) -> Option<c_int> {
    match word {
        "inet" => Some(libc::AF_INET),
        "inet6" => Some(libc::AF_INET6),
        "unix" => Some(libc::AF_UNIX),
        other => other.parse().ok(),
    }
}

fn parse_type(word: &str) -> Option<c_int> {
    let mut parts = word.split('+');
    let mut ty = match parts.next()? {
        "stream" => libc::SOCK_STREAM,
        "dgram" => libc::SOCK_DGRAM,
        "raw" => libc::SOCK_RAW,
        "seqpacket" => libc::SOCK_SEQPACKET,
        other => other.parse().ok()?,
    };
    for flag in parts {
        ty |= match flag {
            "nonblock" => libc::SOCK_NONBLOCK,
            "cloexec" => libc::SOCK_CLOEXEC,
            _ => return None,
        };
    }
    Some(ty)
}

fn parse_protocol(word: &str) -> Option<c_int> {
    match word {
        "tcp" => Some(libc::IPPROTO_TCP),
        "udp" => Some(libc::IPPROTO_UDP),
        "mptcp" => Some(libc::IPPROTO_MPTCP),
        other => other.parse().ok(),
    }
}

fn int_option(fd: c_int, name: c_int) -> c_int {
    let mut value: c_int = -1;
    let mut len = size_of::<c_int>() as socklen_t;
    // SAFETY: value/len point to a c_int and its size, as getsockopt requires.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            name,
            (&raw mut value).cast::<c_void>(),
            &mut len,
        )
    };
    if rc == 0 { value } else { -1 }
}

fn errno() -> c_int {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = (|| {
        let domains: Vec<c_int> = args
            .first()?
            .split(',')
            .map(parse_domain)
            .collect::<Option<_>>()?;
        let ty = parse_type(args.get(1)?)?;
        let protocol = parse_protocol(args.get(2)?)?;
        let count: u32 = args.get(3).map_or(Some(1), |c| c.parse().ok())?;
        let gap_ms: u64 = args.get(4).map_or(Some(0), |g| g.parse().ok())?;
        Some((
            domains,
            ty,
            protocol,
            count.clamp(1, 1_000_000),
            gap_ms.min(60_000),
        ))
    })();
    let Some((domains, ty, protocol, count, gap_ms)) = parsed else {
        eprintln!("usage: sockprobe DOMAIN TYPE PROTOCOL [COUNT [GAP_MS]]");
        return ExitCode::from(2);
    };
    let (mut mptcp, mut tcp, mut other, mut failed, mut errno_kept) = (0, 0, 0, 0, 0);
    let mut last = String::new();
    for i in 0..count {
        if i > 0 && gap_ms > 0 {
            std::thread::sleep(std::time::Duration::from_millis(gap_ms));
        }
        // SAFETY: planting a value in this thread's errno slot.
        unsafe { *libc::__errno_location() = ERRNO_SENTINEL };
        let domain = domains[i as usize % domains.len()];
        // SAFETY: socket() takes integers only.
        let fd = unsafe { libc::socket(domain, ty, protocol) };
        if fd < 0 {
            failed += 1;
            last = format!("errno={}", errno());
            continue;
        }
        errno_kept += u32::from(errno() == ERRNO_SENTINEL);
        let got = int_option(fd, libc::SO_PROTOCOL);
        match got {
            libc::IPPROTO_MPTCP => mptcp += 1,
            libc::IPPROTO_TCP => tcp += 1,
            _ => other += 1,
        }
        // SAFETY: fcntl on an fd we own, reading flags only.
        let (status, fd_flags) = unsafe {
            (
                libc::fcntl(fd, libc::F_GETFL),
                libc::fcntl(fd, libc::F_GETFD),
            )
        };
        last = format!(
            "protocol={got} type={} nonblock={} cloexec={}",
            int_option(fd, libc::SO_TYPE),
            u8::from(status & libc::O_NONBLOCK != 0),
            u8::from(fd_flags & libc::FD_CLOEXEC != 0)
        );
        // SAFETY: closing the fd we just opened.
        unsafe { libc::close(fd) };
    }
    println!(
        "count={count} mptcp={mptcp} tcp={tcp} other={other} failed={failed} errno_kept={errno_kept} {last}"
    );
    ExitCode::SUCCESS
}
