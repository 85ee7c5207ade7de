//! `check`: is MPTCP usable here, and will it use more than one path? One MPTCP socket made
//! directly (no library, no log parsing), then the settings that decide the number of paths,
//! and a verdict with the exact `ip mptcp` command that would add a second path. It also names the
//! socket options this kernel's MPTCP refuses where newer kernels take them (6.1 and 6.12 refuse
//! some, `docs/options/`): a program that sets one gets TCP here, not MPTCP; and what this
//! kernel's MPTCP does unlike TCP that a setting can change (`docs/behaviour/`).

use super::Failure;
use std::process::Command;

/// `socket(..., IPPROTO_MPTCP)`: Ok, or the errno's name and what it means here.
fn probe() -> Result<(), (&'static str, &'static str)> {
    // SAFETY: socket(2) with integer arguments; the descriptor is closed right below.
    let fd = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            libc::IPPROTO_MPTCP,
        )
    };
    if fd >= 0 {
        // SAFETY: `fd` is the descriptor just made, owned here and closed once.
        unsafe { libc::close(fd) };
        return Ok(());
    }
    let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    Err(match errno {
        // net.mptcp.enabled=0 in this network namespace.
        libc::ENOPROTOOPT => (
            "ENOPROTOOPT",
            "MPTCP is switched off in this network namespace: sysctl -w net.mptcp.enabled=1",
        ),
        // A kernel built without CONFIG_MPTCP.
        libc::EPROTONOSUPPORT => (
            "EPROTONOSUPPORT",
            "this kernel was built without MPTCP (CONFIG_MPTCP)",
        ),
        // Kernels before 5.6 reject the unknown protocol number.
        libc::EINVAL => ("EINVAL", "this kernel is older than 5.6 and has no MPTCP"),
        // An LSM, seccomp or BPF program refuses the socket.
        libc::EPERM | libc::EACCES => (
            if errno == libc::EPERM {
                "EPERM"
            } else {
                "EACCES"
            },
            "a security policy (SELinux, AppArmor, seccomp or BPF) refuses MPTCP sockets",
        ),
        _ => ("errno", "socket(IPPROTO_MPTCP) failed"),
    })
}

/// Options some kernels' MPTCP refuses on a new socket and newer ones take (`docs/options/`):
/// (name, level, option, a typical value).
const REFUSED_BY_SOME_KERNELS: &[(&str, libc::c_int, libc::c_int, libc::c_int)] = &[
    ("TCP_MAXSEG", libc::IPPROTO_TCP, libc::TCP_MAXSEG, 1200),
    (
        "TCP_NOTSENT_LOWAT",
        libc::IPPROTO_TCP,
        libc::TCP_NOTSENT_LOWAT,
        16384,
    ),
    ("TCP_FASTOPEN", libc::IPPROTO_TCP, libc::TCP_FASTOPEN, 5),
    (
        "TCP_FASTOPEN_NO_COOKIE",
        libc::IPPROTO_TCP,
        libc::TCP_FASTOPEN_NO_COOKIE,
        1,
    ),
    // IP_LOCAL_PORT_RANGE (51, not in the libc crate): the low end of the range.
    ("IP_LOCAL_PORT_RANGE", libc::IPPROTO_IP, 51, 40000),
    (
        "IP_BIND_ADDRESS_NO_PORT",
        libc::IPPROTO_IP,
        libc::IP_BIND_ADDRESS_NO_PORT,
        1,
    ),
];

/// The options of `REFUSED_BY_SOME_KERNELS` a new MPTCP socket refuses here, each tried on a
/// socket of its own.
fn refused_here() -> Vec<&'static str> {
    REFUSED_BY_SOME_KERNELS
        .iter()
        .filter(|&&(_, level, option, value)| {
            // SAFETY: socket(2) with integer arguments; closed below.
            let fd = unsafe {
                libc::socket(
                    libc::AF_INET,
                    libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
                    libc::IPPROTO_MPTCP,
                )
            };
            if fd < 0 {
                return false;
            }
            // SAFETY: `value` lives across the call and its size is passed with it.
            let refused = unsafe {
                libc::setsockopt(
                    fd,
                    level,
                    option,
                    (&raw const value).cast(),
                    size_of::<libc::c_int>() as libc::socklen_t,
                )
            } != 0;
            // SAFETY: `fd` is the descriptor just made, owned here and closed once.
            unsafe { libc::close(fd) };
            refused
        })
        .map(|&(name, ..)| name)
        .collect()
}

fn sysctl(name: &str) -> Option<String> {
    let path = format!("/proc/sys/net/mptcp/{name}");
    std::fs::read_to_string(path)
        .ok()
        .map(|v| v.trim().to_string())
}

fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

pub fn check() -> Result<i32, Failure> {
    println!("kernel: {}", kernel_release());
    if let Err((name, meaning)) = probe() {
        println!("MPTCP socket: no ({name})");
        println!("verdict: MPTCP unavailable: {meaning}");
        return Ok(1);
    }
    println!("MPTCP socket: yes");
    let refused = refused_here();
    if refused.is_empty() {
        println!("kernel limits: none beyond every kernel's (docs/limitations.md)");
    } else {
        println!(
            "kernel limits: {} make a socket TCP when set before connect()/listen() \
             (this kernel's MPTCP refuses them; newer kernels take them)",
            refused.join(", ")
        );
    }
    let release = mptcpize_core::behaviour::release(kernel_release().as_bytes());
    if release.is_some_and(mptcpize_core::behaviour::slow_receive_buffer) {
        println!(
            "kernel behaviour: a receive buffer a program sets (SO_RCVBUF) stalls MPTCP transfers \
             on this kernel: set before connect()/listen() the socket stays TCP, set later it is \
             not passed on to MPTCP (docs/limitations.md)"
        );
    } else {
        println!("kernel behaviour: as every kernel's (docs/limitations.md)");
    }
    println!(
        "net.mptcp.enabled: {}",
        sysctl("enabled").unwrap_or_else(|| "?".into())
    );
    // A connection whose every path failed (a peer that vanished, found by keepalive) tells the
    // program this long after; TCP tells it at once. Lower it where that matters more than
    // waiting for a new path.
    match sysctl("close_timeout") {
        Some(seconds) => println!(
            "net.mptcp.close_timeout: {seconds} (a connection whose every path died reports it \
             {seconds} s later, where TCP's keepalive reports it at once; lower it with sysctl -w \
             net.mptcp.close_timeout=N where a dead peer must be noticed sooner)"
        ),
        None => println!(
            "net.mptcp.close_timeout: none (a connection whose every path died reports it 60 s \
             later; this kernel has no setting for it)"
        ),
    }
    let manager = sysctl("path_manager").unwrap_or_else(|| {
        if sysctl("pm_type").as_deref() == Some("1") {
            "userspace"
        } else {
            "kernel"
        }
        .into()
    });
    let scheduler = sysctl("scheduler").unwrap_or_else(|| "default".into());
    let limits = command_output("ip", &["mptcp", "limits", "show"]);
    let endpoints = command_output("ip", &["mptcp", "endpoint", "show"]);
    println!("path manager: {manager}");
    println!("scheduler: {scheduler}");
    println!("limits: {}", if limits.is_empty() { "?" } else { &limits });
    println!(
        "endpoints: {}",
        if endpoints.is_empty() {
            "none"
        } else {
            &endpoints
        }
    );
    if manager == "userspace" {
        println!(
            "verdict: ready; a userspace path manager (such as mptcpd) chooses the extra paths"
        );
        return Ok(0);
    }
    let subflows: u32 = limits
        .split_whitespace()
        .skip_while(|word| *word != "subflows")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let announced = endpoints
        .split_whitespace()
        .any(|word| word == "subflow" || word == "signal");
    if subflows > 0 && announced {
        println!("verdict: ready for multipath");
        return Ok(0);
    }
    let prefix = if subflows > 0 {
        ""
    } else {
        "ip mptcp limits set subflow 2 add_addr_accepted 2 && "
    };
    let addresses = command_output("ip", &["-o", "addr", "show", "scope", "global"]);
    let suggestions: Vec<String> = addresses
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let (device, address) = (words.get(1)?, words.get(3)?);
            let address = address.split('/').next()?;
            (*device != "lo").then(|| {
                format!("  `{prefix}ip mptcp endpoint add {address} dev {device} subflow`")
            })
        })
        .collect();
    if suggestions.is_empty() {
        println!(
            "verdict: MPTCP works but only one path will be used: no interface other than loopback has an address"
        );
    } else {
        println!("verdict: MPTCP works but only one path will be used: add one with");
        for line in suggestions {
            println!("{line}");
        }
        println!(
            "  (on a server, use 'signal' instead of 'subflow' to announce the address to clients)"
        );
    }
    Ok(0)
}
