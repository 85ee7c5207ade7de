//! Test helper: makes the kernel refuse MPTCP sockets with a chosen errno, then runs a command.
//!
//! Installs a seccomp filter that answers `socket(…, …, IPPROTO_MPTCP)` with the given errno and
//! lets every other call through, then `exec`s the command (the filter is inherited). This is how
//! the tests reproduce a kernel without MPTCP (`EPROTONOSUPPORT`), an old kernel (`EINVAL`) or a
//! policy that denies it (`EPERM`) on a kernel that has MPTCP.
//!
//! usage: refuse_mptcp ERRNO COMMAND [ARG...]     (ERRNO: a number or EPROTONOSUPPORT, EINVAL, …)

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

/// `AUDIT_ARCH_*` of this build's architecture (from linux/audit.h; `libc` lacks them).
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

/// Offsets inside `struct seccomp_data`: nr, arch, then args[6] of u64 from byte 16. The low 32
/// bits of args[2] (the protocol) sit at 16 + 2 * 8 on little-endian machines.
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;
const OFFSET_ARG2_LOW: u32 = 32;

fn errno_value(word: &str) -> Option<u32> {
    match word {
        "EPROTONOSUPPORT" => Some(libc::EPROTONOSUPPORT as u32),
        "EINVAL" => Some(libc::EINVAL as u32),
        "EPERM" => Some(libc::EPERM as u32),
        "EACCES" => Some(libc::EACCES as u32),
        "ENOPROTOOPT" => Some(libc::ENOPROTOOPT as u32),
        "EMFILE" => Some(libc::EMFILE as u32),
        other => other.parse().ok(),
    }
}

fn statement(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump_if_equal(k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    }
}

fn install_filter(errno: u32) -> std::io::Result<()> {
    let load = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let allow = statement(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW);
    let mut program = [
        statement(load, OFFSET_ARCH),
        jump_if_equal(AUDIT_ARCH, 0, 4), // another ABI: allow
        statement(load, OFFSET_NR),
        jump_if_equal(libc::SYS_socket as u32, 0, 2), // not socket(): allow
        statement(load, OFFSET_ARG2_LOW),
        jump_if_equal(libc::IPPROTO_MPTCP as u32, 1, 0), // MPTCP: refuse
        allow,
        statement(
            libc::BPF_RET | libc::BPF_K,
            libc::SECCOMP_RET_ERRNO | (errno & 0xffff),
        ),
    ];
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fprog points to a valid filter program that outlives the call (the kernel copies it).
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER as libc::c_ulong,
            &fprog as *const libc::sock_fprog,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(errno), Some(command)) = (args.first().and_then(|e| errno_value(e)), args.get(1))
    else {
        eprintln!("usage: refuse_mptcp ERRNO COMMAND [ARG...]");
        return ExitCode::from(2);
    };
    if let Err(error) = install_filter(errno) {
        eprintln!("refuse_mptcp: cannot install the seccomp filter: {error}");
        return ExitCode::from(1);
    }
    let error = Command::new(command).args(&args[2..]).exec();
    eprintln!("refuse_mptcp: {command}: {error}");
    ExitCode::from(127)
}
