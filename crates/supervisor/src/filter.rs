//! The classic-BPF program the kernel runs on every system call of the supervised program.
//!
//! It asks the supervisor about exactly the calls the preload would rewrite — `socket(AF_INET or
//! AF_INET6, SOCK_STREAM [| SOCK_NONBLOCK | SOCK_CLOEXEC], 0 or IPPROTO_TCP)` of the native ABI —,
//! about `setsockopt()` of the options this kernel's MPTCP refuses before a socket starts
//! ([`crate::refused`], measured when the filter is built: the supervisor then switches its
//! socket to TCP, [`crate::switch`]), and about the calls that change who a task is or where its sockets belong: its credentials
//! (`setuid()` and the rest of that family, `setgroups()`), its program (`execve()`,
//! `execveat()`) or its network namespace (`setns()`, `unshare()`), in every ABI the kernel runs
//! (x32's numbers carry `__X32_SYSCALL_BIT`; a 64-bit program may enter the 32-bit table).
//! Those tell the supervisor that what it remembers of the caller may be stale
//! ([`crate::supervisor`]); they are then run as asked. Everything else is allowed, so every
//! other call costs one short filter run and nothing more. The architecture field is checked
//! first, so a call of another ABI is never misread as a native one. The program is built by
//! pure code and table-tested against a small interpreter of the instructions it uses.

use libc::{c_int, sock_filter};

/// The `AUDIT_ARCH_*` value of the native ABI and its `socket` system call number. Only the
/// architectures named here get a filter; elsewhere the supervisor is refused up front.
#[cfg(target_arch = "x86_64")]
pub const NATIVE_ARCH: u32 = 0xC000_003E; // AUDIT_ARCH_X86_64: EM_X86_64 | 64-bit | little-endian
#[cfg(target_arch = "aarch64")]
pub const NATIVE_ARCH: u32 = 0xC000_00B7; // AUDIT_ARCH_AARCH64: EM_AARCH64 | 64-bit | little-endian
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub const SYS_SOCKET: u32 = libc::SYS_socket as u32;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub const SYS_SETSOCKOPT: u32 = libc::SYS_setsockopt as u32;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub const SYS_LISTEN: u32 = libc::SYS_listen as u32;

/// The calls of the native ABI that change a task's credentials, program or network namespace.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub const IDENTITY_CALLS: [u32; 13] = [
    libc::SYS_setuid as u32,
    libc::SYS_setgid as u32,
    libc::SYS_setreuid as u32,
    libc::SYS_setregid as u32,
    libc::SYS_setresuid as u32,
    libc::SYS_setresgid as u32,
    libc::SYS_setfsuid as u32,
    libc::SYS_setfsgid as u32,
    libc::SYS_setgroups as u32,
    libc::SYS_execve as u32,
    libc::SYS_execveat as u32,
    libc::SYS_setns as u32,
    libc::SYS_unshare as u32,
];
/// x32's own `execve` and `execveat` (its other numbers are x86-64's, with the x32 bit).
#[cfg(target_arch = "x86_64")]
const X32_EXEC_CALLS: [u32; 2] = [520, 545];
#[cfg(not(target_arch = "x86_64"))]
const X32_EXEC_CALLS: [u32; 0] = [];
/// `__X32_SYSCALL_BIT`, masked off before comparing with [`IDENTITY_CALLS`].
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
/// The 32-bit ABI the native one can run: i386 on x86-64, arm on aarch64 (AUDIT_ARCH_*).
#[cfg(target_arch = "x86_64")]
pub const COMPAT_ARCH: u32 = 0x4000_0003;
#[cfg(not(target_arch = "x86_64"))]
pub const COMPAT_ARCH: u32 = 0x4000_0028;
/// Its calls that change credentials, program or network namespace: the 16-bit and 32-bit id
/// calls and `execve` (the same numbers on i386 and arm), then `execveat`, `setns`, `unshare`.
const COMPAT_IDENTITY_CALLS: [u32; 22] = [
    23,
    46,
    70,
    71,
    81,
    138,
    139,
    164,
    170,
    203,
    204,
    206,
    208,
    210,
    213,
    214,
    215,
    216,
    11,
    COMPAT_OWN_CALLS[0],
    COMPAT_OWN_CALLS[1],
    COMPAT_OWN_CALLS[2],
];
/// `execveat`, `setns`, `unshare`: i386's numbers, or arm's.
#[cfg(target_arch = "x86_64")]
const COMPAT_OWN_CALLS: [u32; 3] = [358, 346, 310];
#[cfg(not(target_arch = "x86_64"))]
const COMPAT_OWN_CALLS: [u32; 3] = [387, 375, 337];

/// Whether this build can supervise at all.
pub const SUPPORTED: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

/// The socket-type bits a caller may add to `SOCK_STREAM` and still be asked about.
pub const TYPE_FLAGS: c_int = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;

/// Offsets in `struct seccomp_data`: `nr` (int), `arch` (u32), `instruction_pointer` (u64),
/// then six u64 arguments.
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;
const OFFSET_ARGS: u32 = 16;

/// The offset of the low 32 bits of argument `index` (the kernel reads `int` arguments there).
const fn low_word_of_arg(index: u32) -> u32 {
    let start = OFFSET_ARGS + 8 * index;
    if cfg!(target_endian = "little") {
        start
    } else {
        start + 4
    }
}

/// `BPF_LD | BPF_W | BPF_ABS`: load a 32-bit word of `seccomp_data`.
const LOAD_WORD: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
/// `BPF_JMP | BPF_JEQ | BPF_K`: compare the accumulator with a constant.
const JUMP_IF_EQUAL: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
/// `BPF_ALU | BPF_AND | BPF_K`: mask the accumulator.
const AND: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
/// `BPF_RET | BPF_K`: the verdict.
const RETURN: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

/// Where a comparison goes when it holds or fails.
#[derive(Clone, Copy)]
enum Target {
    Next,
    /// Over the next `n` instructions.
    Skip(usize),
    Notify,
    Allow,
}

/// One instruction before jump offsets are resolved.
#[derive(Clone, Copy)]
enum Step {
    Load(u32),
    And(u32),
    JumpIfEqual(u32, Target, Target),
    ReturnNotify,
    ReturnAllow,
}

/// The filter, in the order the kernel runs it: the native ABI's identity calls, its `socket()`
/// and `setsockopt()` checks, the compat ABI's identity calls, then the two verdicts.
fn steps(options: &[(c_int, c_int)], listen: bool) -> Vec<Step> {
    use Step::*;
    use Target::*;
    let socket_checks = [
        Load(low_word_of_arg(0)),
        // Either family goes on to the type; anything else is allowed.
        JumpIfEqual(libc::AF_INET as u32, Skip(1), Next),
        JumpIfEqual(libc::AF_INET6 as u32, Next, Allow),
        Load(low_word_of_arg(1)),
        And(!(TYPE_FLAGS as u32)),
        JumpIfEqual(libc::SOCK_STREAM as u32, Next, Allow),
        Load(low_word_of_arg(2)),
        JumpIfEqual(0, Notify, Next),
        JumpIfEqual(libc::IPPROTO_TCP as u32, Notify, Allow),
    ];
    // Each number notifies; the last one's miss allows.
    let any_of = |numbers: &[u32]| -> Vec<Step> {
        numbers
            .iter()
            .enumerate()
            .map(|(i, &number)| {
                let miss = if i + 1 == numbers.len() { Allow } else { Next };
                JumpIfEqual(number, Notify, miss)
            })
            .collect()
    };
    let native_identity: Vec<u32> = NATIVE_IDENTITY_CALLS
        .iter()
        .chain(X32_EXEC_CALLS.iter())
        .copied()
        .collect();
    let native_identity = any_of(&native_identity);
    let compat_identity = any_of(&COMPAT_IDENTITY_CALLS);
    let option_checks = option_checks(options);
    // The setsockopt() jump, when there are options to ask about; the listen() one, when a
    // direction mode decides there.
    let option_jump = usize::from(!option_checks.is_empty());
    let listen_jump = usize::from(listen);
    let mut steps = vec![Load(OFFSET_ARCH)];
    // Past the native sections to the compat one: load, the jumps, mask, the list, the checks.
    let native_length = 3
        + listen_jump
        + option_jump
        + native_identity.len()
        + socket_checks.len()
        + option_checks.len();
    steps.push(JumpIfEqual(NATIVE_ARCH_OR_NONE, Next, Skip(native_length)));
    steps.push(Load(OFFSET_NR));
    if listen {
        steps.push(JumpIfEqual(SYS_LISTEN_OR_NONE, Notify, Next));
    }
    // The socket call goes past the setsockopt jump, the mask and the identity list.
    steps.push(JumpIfEqual(
        SYS_SOCKET_OR_NONE,
        Skip(option_jump + 1 + native_identity.len()),
        Next,
    ));
    if option_jump == 1 {
        // The setsockopt call goes past the mask, the identity list and the socket checks.
        steps.push(JumpIfEqual(
            SYS_SETSOCKOPT_OR_NONE,
            Skip(1 + native_identity.len() + socket_checks.len()),
            Next,
        ));
    }
    steps.push(And(!X32_SYSCALL_BIT));
    steps.extend(native_identity);
    steps.extend(socket_checks);
    steps.extend(option_checks);
    // The accumulator still holds the architecture here.
    steps.push(JumpIfEqual(COMPAT_ARCH, Next, Allow));
    steps.push(Load(OFFSET_NR));
    steps.extend(compat_identity);
    steps.push(ReturnNotify);
    steps.push(ReturnAllow);
    steps
}

/// The `setsockopt()` checks: its level (argument 1), then its name (argument 2), one block per
/// level; a pair in `options` notifies, anything else is allowed.
fn option_checks(options: &[(c_int, c_int)]) -> Vec<Step> {
    use Step::*;
    use Target::*;
    let mut levels: Vec<c_int> = options.iter().map(|&(level, _)| level).collect();
    levels.sort_unstable();
    levels.dedup();
    let mut steps = Vec::new();
    for (at, &level) in levels.iter().enumerate() {
        let names: Vec<u32> = options
            .iter()
            .filter(|&&(l, _)| l == level)
            .map(|&(_, name)| name as u32)
            .collect();
        // The level is loaded again in each block: a missed block ends with the name loaded.
        steps.push(Load(low_word_of_arg(1)));
        let last = at + 1 == levels.len();
        let block = 1 + names.len();
        steps.push(JumpIfEqual(
            level as u32,
            Next,
            if last { Allow } else { Skip(block) },
        ));
        steps.push(Load(low_word_of_arg(2)));
        for (i, &name) in names.iter().enumerate() {
            // A name missed in the last block is allowed; elsewhere the next block follows.
            let miss = if i + 1 == names.len() && last {
                Allow
            } else {
                Next
            };
            steps.push(JumpIfEqual(name, Notify, miss));
        }
    }
    steps
}

/// A value no `seccomp_data` field holds on an unsupported architecture, so the filter (never
/// installed there) would allow everything.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const NATIVE_ARCH_OR_NONE: u32 = NATIVE_ARCH;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const NATIVE_ARCH_OR_NONE: u32 = 0;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const SYS_SOCKET_OR_NONE: u32 = SYS_SOCKET;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const SYS_SOCKET_OR_NONE: u32 = u32::MAX;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const SYS_SETSOCKOPT_OR_NONE: u32 = SYS_SETSOCKOPT;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const SYS_SETSOCKOPT_OR_NONE: u32 = u32::MAX - 1;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const SYS_LISTEN_OR_NONE: u32 = SYS_LISTEN;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const SYS_LISTEN_OR_NONE: u32 = u32::MAX - 2;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const NATIVE_IDENTITY_CALLS: [u32; 13] = IDENTITY_CALLS;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const NATIVE_IDENTITY_CALLS: [u32; 0] = [];

/// What a notified call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The native `socket()`.
    Socket,
    /// The native `setsockopt()` of an option MPTCP refuses.
    Setsockopt,
    /// The native `listen()` (in the `listen` and `connect` modes).
    Listen,
    /// A call that changes who a task is.
    Identity,
}

/// What the filter notified.
pub fn kind(arch: u32, number: c_int) -> Kind {
    if arch != NATIVE_ARCH_OR_NONE {
        Kind::Identity
    } else if number as u32 == SYS_SOCKET_OR_NONE {
        Kind::Socket
    } else if number as u32 == SYS_SETSOCKOPT_OR_NONE {
        Kind::Setsockopt
    } else if number as u32 == SYS_LISTEN_OR_NONE {
        Kind::Listen
    } else {
        Kind::Identity
    }
}

/// The filter as the kernel wants it, every jump resolved to a relative offset; `options` are
/// the `(level, name)` pairs whose `setsockopt()` it notifies, and with `listen` it notifies
/// every native `listen()`.
pub fn program(options: &[(c_int, c_int)], listen: bool) -> Vec<sock_filter> {
    let steps = steps(options, listen);
    let notify_at = steps.len() - 2;
    let allow_at = steps.len() - 1;
    let offset = |from: usize, to: Target| -> u8 {
        let to = match to {
            Target::Next => from + 1,
            Target::Skip(n) => from + 1 + n,
            Target::Notify => notify_at,
            Target::Allow => allow_at,
        };
        // Offsets count from the instruction after the jump; the program is about 50 steps long,
        // well within a jump's 255.
        (to - from - 1) as u8
    };
    let instruction = |code: u16, jt: u8, jf: u8, k: u32| sock_filter { code, jt, jf, k };
    steps
        .iter()
        .enumerate()
        .map(|(at, step)| match *step {
            Step::Load(offset) => instruction(LOAD_WORD, 0, 0, offset),
            Step::And(mask) => instruction(AND, 0, 0, mask),
            Step::JumpIfEqual(value, equal, different) => instruction(
                JUMP_IF_EQUAL,
                offset(at, equal),
                offset(at, different),
                value,
            ),
            Step::ReturnNotify => instruction(RETURN, 0, 0, libc::SECCOMP_RET_USER_NOTIF),
            Step::ReturnAllow => instruction(RETURN, 0, 0, libc::SECCOMP_RET_ALLOW),
        })
        .collect()
}

#[cfg(all(test, any(target_arch = "x86_64", target_arch = "aarch64")))]
mod tests {
    use super::*;
    use libc::{AF_INET, AF_INET6, AF_UNIX, IPPROTO_TCP, IPPROTO_UDP, SOCK_DGRAM, SOCK_STREAM};

    /// Runs the instructions [`program`] uses over a `seccomp_data`, as the kernel would.
    fn run(program: &[sock_filter], data: &libc::seccomp_data) -> u32 {
        // SAFETY: seccomp_data is plain old data; we read its bytes.
        let bytes: &[u8] = unsafe {
            std::slice::from_raw_parts(
                (data as *const libc::seccomp_data).cast(),
                size_of_val(data),
            )
        };
        let (mut pc, mut accumulator) = (0usize, 0u32);
        for _ in 0..program.len() {
            let instruction = program[pc];
            let k = instruction.k;
            match instruction.code {
                LOAD_WORD => {
                    let at = k as usize;
                    accumulator = u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap());
                }
                AND => accumulator &= k,
                JUMP_IF_EQUAL => {
                    let skip = if accumulator == k {
                        instruction.jt
                    } else {
                        instruction.jf
                    };
                    pc += usize::from(skip);
                }
                RETURN => return k,
                other => panic!("unexpected instruction {other:#x}"),
            }
            pc += 1;
        }
        panic!("the program ran off its end");
    }

    fn call(arch: u32, nr: u64, args: [u64; 3]) -> libc::seccomp_data {
        libc::seccomp_data {
            nr: nr as c_int,
            arch,
            instruction_pointer: 0,
            args: [args[0], args[1], args[2], 0, 0, 0],
        }
    }

    #[test]
    fn notifies_exactly_the_calls_the_preload_rewrites() {
        const NOTIFY: u32 = libc::SECCOMP_RET_USER_NOTIF;
        const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
        let socket = u64::from(SYS_SOCKET);
        let stream = SOCK_STREAM as u64;
        let flags = TYPE_FLAGS as u64;
        let tcp = IPPROTO_TCP as u64;
        let x32_socket = socket | 0x4000_0000;
        let table: &[(u32, u64, [u64; 3], u32)] = &[
            (NATIVE_ARCH, socket, [AF_INET as u64, stream, 0], NOTIFY),
            (NATIVE_ARCH, socket, [AF_INET6 as u64, stream, 0], NOTIFY),
            (NATIVE_ARCH, socket, [AF_INET as u64, stream, tcp], NOTIFY),
            (
                NATIVE_ARCH,
                socket,
                [AF_INET6 as u64, stream | flags, tcp],
                NOTIFY,
            ),
            (
                NATIVE_ARCH,
                socket,
                [AF_INET as u64, stream | libc::SOCK_CLOEXEC as u64, 0],
                NOTIFY,
            ),
            (NATIVE_ARCH, socket, [AF_INET as u64, stream, 262], ALLOW),
            (
                NATIVE_ARCH,
                socket,
                [AF_INET as u64, stream, IPPROTO_UDP as u64],
                ALLOW,
            ),
            (
                NATIVE_ARCH,
                socket,
                [AF_INET as u64, SOCK_DGRAM as u64, 0],
                ALLOW,
            ),
            (
                NATIVE_ARCH,
                socket,
                [AF_INET as u64, stream | 0x10, 0],
                ALLOW,
            ),
            (NATIVE_ARCH, socket, [AF_UNIX as u64, stream, 0], ALLOW),
            (NATIVE_ARCH, socket + 1, [AF_INET as u64, stream, 0], ALLOW),
            (NATIVE_ARCH, x32_socket, [AF_INET as u64, stream, 0], ALLOW),
            (COMPAT_ARCH, socket, [AF_INET as u64, stream, 0], ALLOW),
            (NATIVE_ARCH, libc::SYS_getpid as u64, [0; 3], ALLOW),
            (0x1234, libc::SYS_setuid as u64, [0; 3], ALLOW),
        ];
        // Every call that changes who a task is, in each ABI, whatever its arguments.
        let mut identity: Vec<(u32, u64)> = IDENTITY_CALLS
            .iter()
            .map(|&nr| (NATIVE_ARCH, u64::from(nr)))
            .collect();
        identity.extend(COMPAT_IDENTITY_CALLS.map(|nr| (COMPAT_ARCH, u64::from(nr))));
        #[cfg(target_arch = "x86_64")]
        identity.extend(
            [
                libc::SYS_setresuid as u32,
                libc::SYS_setgroups as u32,
                520,
                545,
            ]
            .map(|nr| (NATIVE_ARCH, u64::from(nr | X32_SYSCALL_BIT))),
        );
        let table: Vec<(u32, u64, [u64; 3], u32)> = table
            .iter()
            .copied()
            .chain(
                identity
                    .iter()
                    .map(|&(arch, nr)| (arch, nr, [65534, 0, 0], NOTIFY)),
            )
            .collect();
        // No options: setsockopt() is never asked about.
        let setsockopt = u64::from(SYS_SETSOCKOPT);
        let ttl = [3, libc::IPPROTO_IP as u64, libc::IP_TTL as u64];
        assert_eq!(
            run(&program(&[], false), &call(NATIVE_ARCH, setsockopt, ttl)),
            ALLOW
        );
        // listen() only when asked for, in the native ABI.
        let listen = u64::from(SYS_LISTEN);
        let listen_call = |arch| call(arch, listen, [3, 4, 0]);
        assert_eq!(run(&program(&[], false), &listen_call(NATIVE_ARCH)), ALLOW);
        assert_eq!(run(&program(&[], true), &listen_call(NATIVE_ARCH)), NOTIFY);
        assert_eq!(run(&program(&[], true), &listen_call(COMPAT_ARCH)), ALLOW);
        let options = [
            (libc::IPPROTO_IP, libc::IP_TTL),
            (libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT),
            (libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS),
            (libc::IPPROTO_TCP, libc::TCP_SYNCNT),
        ];
        let with_options = program(&options, false);
        let option_table: &[([u64; 3], u32)] = &[
            (ttl, NOTIFY),
            ([3, 6, libc::TCP_USER_TIMEOUT as u64], NOTIFY),
            ([3, 6, libc::TCP_SYNCNT as u64], NOTIFY),
            ([3, 41, libc::IPV6_UNICAST_HOPS as u64], NOTIFY),
            ([3, 6, libc::TCP_NODELAY as u64], ALLOW),
            ([3, 0, libc::IP_TOS as u64], ALLOW),
            ([3, 1, libc::IP_TTL as u64], ALLOW),
            ([3, 41, libc::IP_TTL as u64], ALLOW),
        ];
        for (args, verdict) in option_table {
            assert_eq!(
                run(&with_options, &call(NATIVE_ARCH, setsockopt, *args)),
                *verdict,
                "setsockopt {args:?}"
            );
            // Not in another ABI, nor under another number.
            assert_eq!(
                run(&with_options, &call(COMPAT_ARCH, setsockopt, *args)),
                ALLOW
            );
            assert_eq!(
                run(&with_options, &call(NATIVE_ARCH, setsockopt + 1, *args)),
                ALLOW
            );
        }
        for program in [
            program(&[], false),
            program(&[], true),
            program(&options, true),
            with_options,
        ] {
            for (arch, nr, args, verdict) in &table {
                assert_eq!(
                    run(&program, &call(*arch, *nr, *args)),
                    *verdict,
                    "arch {arch:#x} nr {nr:#x} args {args:?}"
                );
            }
        }
    }
}
