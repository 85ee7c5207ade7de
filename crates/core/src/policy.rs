//! Which `socket()` calls become MPTCP: a pure decision, no `unsafe`, no syscalls.
//!
//! Only a TCP stream socket of an internet family is ever rewritten: `AF_INET`/`AF_INET6`,
//! `SOCK_STREAM` once the `SOCK_NONBLOCK`/`SOCK_CLOEXEC` flag bits are masked off, and protocol `0`
//! or `IPPROTO_TCP`. Everything else (UDP, raw, `AF_UNIX`, an explicit `IPPROTO_MPTCP` or any other
//! protocol) passes through untouched. Only the protocol changes: the caller's flags are kept.

use crate::config::Mode;
use libc::c_int;

/// The kernel's mask for the socket type inside `socket()`'s `type` argument; the bits above it
/// are flags (`SOCK_NONBLOCK`, `SOCK_CLOEXEC`). `libc` does not export it.
pub const SOCK_TYPE_MASK: c_int = 0xf;

/// What to do with one `socket()` call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Ask for `IPPROTO_MPTCP`, falling back to the original call when the kernel refuses.
    Rewrite,
    /// Ask for `IPPROTO_MPTCP` and return the kernel's answer, with no fallback (`force`).
    RewriteStrict,
    /// Make the TCP socket asked for, and decide at `listen()` (the `listen` mode).
    Defer,
    /// Make the caller's call unchanged, for the reason given.
    PassThrough(PassReason),
}

/// Why a call is not rewritten; it names itself in debug logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassReason {
    /// The mode is `off` (or the setting was invalid).
    Disabled,
    /// Not `AF_INET`/`AF_INET6`.
    NotInet,
    /// Not `SOCK_STREAM`.
    NotStream,
    /// A protocol other than `0`/`IPPROTO_TCP` (an explicit `IPPROTO_MPTCP` included).
    OtherProtocol,
}

/// Whether `socket(domain, ty, protocol)` asks for a TCP stream socket of an internet family:
/// the only calls any mode rewrites.
#[inline(always)]
pub fn is_tcp_stream(domain: c_int, ty: c_int, protocol: c_int) -> bool {
    (domain == libc::AF_INET || domain == libc::AF_INET6)
        && ty & SOCK_TYPE_MASK == libc::SOCK_STREAM
        && (protocol == 0 || protocol == libc::IPPROTO_TCP)
}

/// Decides what to do with `socket(domain, ty, protocol)` in `mode`.
pub fn decide(mode: Mode, domain: c_int, ty: c_int, protocol: c_int) -> Decision {
    if domain != libc::AF_INET && domain != libc::AF_INET6 {
        return Decision::PassThrough(PassReason::NotInet);
    }
    if ty & SOCK_TYPE_MASK != libc::SOCK_STREAM {
        return Decision::PassThrough(PassReason::NotStream);
    }
    if protocol != 0 && protocol != libc::IPPROTO_TCP {
        return Decision::PassThrough(PassReason::OtherProtocol);
    }
    match mode {
        Mode::Off => Decision::PassThrough(PassReason::Disabled),
        Mode::On | Mode::Connect => Decision::Rewrite,
        Mode::Listen => Decision::Defer,
        Mode::Force => Decision::RewriteStrict,
    }
}

/// `AF_INET`, `AF_INET6` or the number, for log lines.
pub fn family_name(domain: c_int) -> crate::errno::Name {
    crate::errno::Name(match domain {
        libc::AF_INET => "AF_INET",
        libc::AF_INET6 => "AF_INET6",
        libc::AF_UNIX => "AF_UNIX",
        _ => "AF_?",
    })
}

/// `SOCK_STREAM|SOCK_CLOEXEC` and the like, for log lines (cold path: logging only).
pub fn type_name(ty: c_int) -> TypeName {
    TypeName(ty)
}

/// A socket type as its flags' names (formatted where it is written: nothing is allocated).
pub struct TypeName(c_int);

impl core::fmt::Display for TypeName {
    fn fmt(&self, out: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let ty = self.0;
        match ty & SOCK_TYPE_MASK {
            libc::SOCK_STREAM => out.write_str("SOCK_STREAM")?,
            libc::SOCK_DGRAM => out.write_str("SOCK_DGRAM")?,
            libc::SOCK_RAW => out.write_str("SOCK_RAW")?,
            other => write!(out, "{other}")?,
        }
        if ty & libc::SOCK_NONBLOCK != 0 {
            out.write_str("|SOCK_NONBLOCK")?;
        }
        if ty & libc::SOCK_CLOEXEC != 0 {
            out.write_str("|SOCK_CLOEXEC")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libc::{
        AF_INET, AF_INET6, AF_NETLINK, AF_UNIX, IPPROTO_MPTCP, IPPROTO_SCTP, IPPROTO_TCP,
        IPPROTO_UDP, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, SOCK_RAW, SOCK_SEQPACKET,
        SOCK_STREAM,
    };

    #[test]
    fn decisions_table() {
        use Decision::*;
        use PassReason::*;
        let flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
        let table = [
            // (mode, domain, type, protocol, expected)
            (Mode::On, AF_INET, SOCK_STREAM, 0, Rewrite),
            (Mode::On, AF_INET6, SOCK_STREAM, 0, Rewrite),
            (Mode::On, AF_INET, SOCK_STREAM, IPPROTO_TCP, Rewrite),
            (Mode::On, AF_INET6, SOCK_STREAM, IPPROTO_TCP, Rewrite),
            (Mode::On, AF_INET, SOCK_STREAM | flags, 0, Rewrite),
            (Mode::On, AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0, Rewrite),
            (Mode::Force, AF_INET, SOCK_STREAM, 0, RewriteStrict),
            (
                Mode::Force,
                AF_INET6,
                SOCK_STREAM | flags,
                IPPROTO_TCP,
                RewriteStrict,
            ),
            (Mode::Connect, AF_INET6, SOCK_STREAM | flags, 0, Rewrite),
            (Mode::Listen, AF_INET, SOCK_STREAM, IPPROTO_TCP, Defer),
            (Mode::Listen, AF_INET6, SOCK_STREAM | flags, 0, Defer),
            (Mode::Listen, AF_INET, SOCK_DGRAM, 0, PassThrough(NotStream)),
            (Mode::Connect, AF_UNIX, SOCK_STREAM, 0, PassThrough(NotInet)),
            (Mode::Off, AF_INET, SOCK_STREAM, 0, PassThrough(Disabled)),
            (Mode::Off, AF_INET6, SOCK_STREAM, 0, PassThrough(Disabled)),
            (
                Mode::On,
                AF_INET,
                SOCK_STREAM,
                IPPROTO_MPTCP,
                PassThrough(OtherProtocol),
            ),
            (
                Mode::On,
                AF_INET6,
                SOCK_STREAM,
                IPPROTO_SCTP,
                PassThrough(OtherProtocol),
            ),
            (
                Mode::Force,
                AF_INET,
                SOCK_STREAM,
                IPPROTO_UDP,
                PassThrough(OtherProtocol),
            ),
            (Mode::On, AF_INET, SOCK_DGRAM, 0, PassThrough(NotStream)),
            (
                Mode::On,
                AF_INET6,
                SOCK_DGRAM | flags,
                0,
                PassThrough(NotStream),
            ),
            (
                Mode::On,
                AF_INET,
                SOCK_RAW,
                IPPROTO_TCP,
                PassThrough(NotStream),
            ),
            (Mode::On, AF_INET, SOCK_SEQPACKET, 0, PassThrough(NotStream)),
            (Mode::On, AF_UNIX, SOCK_STREAM, 0, PassThrough(NotInet)),
            (
                Mode::Force,
                AF_UNIX,
                SOCK_STREAM | flags,
                0,
                PassThrough(NotInet),
            ),
            (Mode::On, AF_NETLINK, SOCK_RAW, 0, PassThrough(NotInet)),
        ];
        for (mode, domain, ty, protocol, expected) in table {
            assert_eq!(
                decide(mode, domain, ty, protocol),
                expected,
                "{mode:?} {} {} {protocol}",
                family_name(domain),
                type_name(ty)
            );
        }
    }

    #[test]
    fn type_names_show_flags() {
        assert_eq!(type_name(SOCK_STREAM).to_string(), "SOCK_STREAM");
        assert_eq!(
            type_name(SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC).to_string(),
            "SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC"
        );
    }
}
