//! Why the kernel refused an MPTCP socket, and how long to believe it.
//!
//! Each `socket(…, IPPROTO_MPTCP)` refusal is classified by its errno. A permanent refusal (the
//! kernel has no MPTCP) is remembered for the life of the process; a transient one (switched off,
//! or denied by a policy that can change) for [`TRANSIENT_MEMORY_MS`], so a daemon picks up
//! `sysctl net.mptcp.enabled=1` without a restart yet does not pay two syscalls per socket. The
//! memory is one atomic per address family: lock-free, allocation-free, fork-safe (a child
//! inherits what its parent learnt, which holds for the same kernel and namespace).

use crate::errno::Errno;
use core::sync::atomic::{AtomicU64, Ordering};
use libc::c_int;

/// How long a transient refusal is believed before MPTCP is tried again.
pub const TRANSIENT_MEMORY_MS: u64 = 2_000;

/// How lasting a refusal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The kernel cannot make MPTCP sockets of this family at all.
    Permanent,
    /// MPTCP may become available without a restart.
    Transient,
    /// Not about MPTCP (out of fds, memory…): the plain call will likely fail the same way.
    Unrelated,
}

/// Classifies the errno of a failed `socket(…, IPPROTO_MPTCP)`.
pub fn classify(errno: Errno) -> Refusal {
    match errno {
        // Kernel built without CONFIG_MPTCP (or CONFIG_MPTCP_IPV6 for AF_INET6): no handler is
        // registered for protocol 262.
        libc::EPROTONOSUPPORT => Refusal::Permanent,
        // Kernel older than 5.6: inet_create() rejects a protocol number above 255.
        libc::EINVAL => Refusal::Permanent,
        // net.mptcp.enabled=0 in this network namespace (kernel ≥ 5.6); a sysctl away.
        libc::ENOPROTOOPT => Refusal::Transient,
        // An LSM (SELinux, AppArmor), a seccomp filter or a BPF cgroup hook said no; policies
        // are reloaded.
        libc::EPERM | libc::EACCES => Refusal::Transient,
        _ => Refusal::Unrelated,
    }
}

/// Never try again (stored as the retry time).
const NEVER: u64 = u64::MAX;
/// No refusal remembered: try MPTCP.
const TRY: u64 = 0;

/// What this process has learnt about MPTCP availability, per address family.
pub struct Availability {
    inet: AtomicU64,
    inet6: AtomicU64,
}

/// The process-wide memory.
pub static AVAILABILITY: Availability = Availability::new();

impl Availability {
    pub const fn new() -> Self {
        Availability {
            inet: AtomicU64::new(TRY),
            inet6: AtomicU64::new(TRY),
        }
    }

    fn slot(&self, domain: c_int) -> &AtomicU64 {
        if domain == libc::AF_INET6 {
            &self.inet6
        } else {
            &self.inet
        }
    }

    /// Whether MPTCP is worth trying for `domain`; `now_ms` is read only when a refusal is
    /// remembered, so the common case is one relaxed load.
    pub fn should_try(&self, domain: c_int, now_ms: impl FnOnce() -> u64) -> bool {
        match self.slot(domain).load(Ordering::Relaxed) {
            TRY => true,
            NEVER => false,
            retry_at => now_ms() >= retry_at,
        }
    }

    /// Remembers a refusal of MPTCP for `domain`.
    pub fn record(&self, domain: c_int, refusal: Refusal, now_ms: u64) {
        let retry_at = match refusal {
            Refusal::Permanent => NEVER,
            Refusal::Transient => now_ms.saturating_add(TRANSIENT_MEMORY_MS).max(1),
            Refusal::Unrelated => return,
        };
        self.slot(domain).store(retry_at, Ordering::Relaxed);
    }
}

impl Default for Availability {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libc::{AF_INET, AF_INET6};

    #[test]
    fn errno_classes_table() {
        let table = [
            (libc::EPROTONOSUPPORT, Refusal::Permanent),
            (libc::EINVAL, Refusal::Permanent),
            (libc::ENOPROTOOPT, Refusal::Transient),
            (libc::EPERM, Refusal::Transient),
            (libc::EACCES, Refusal::Transient),
            (libc::EMFILE, Refusal::Unrelated),
            (libc::ENOBUFS, Refusal::Unrelated),
            (libc::EAFNOSUPPORT, Refusal::Unrelated),
        ];
        for (errno, expected) in table {
            assert_eq!(classify(errno), expected, "errno {errno}");
        }
    }

    #[test]
    fn permanent_refusal_is_per_family_and_lasts() {
        let memory = Availability::new();
        memory.record(AF_INET6, Refusal::Permanent, 1_000);
        assert!(!memory.should_try(AF_INET6, || u64::MAX - 1));
        assert!(memory.should_try(AF_INET, || 1_000));
    }

    #[test]
    fn transient_refusal_expires() {
        let memory = Availability::new();
        for domain in [AF_INET, AF_INET6] {
            memory.record(domain, Refusal::Transient, 5_000);
            assert!(!memory.should_try(domain, || 5_000));
            assert!(!memory.should_try(domain, || 5_000 + TRANSIENT_MEMORY_MS - 1));
            assert!(memory.should_try(domain, || 5_000 + TRANSIENT_MEMORY_MS));
        }
    }

    #[test]
    fn transient_refusal_at_time_zero_is_still_remembered() {
        let memory = Availability::new();
        memory.record(AF_INET, Refusal::Transient, 0);
        assert!(!memory.should_try(AF_INET, || 0));
    }

    #[test]
    fn unrelated_errors_are_not_remembered() {
        let memory = Availability::new();
        memory.record(AF_INET, Refusal::Unrelated, 10);
        assert!(memory.should_try(AF_INET, || 10));
    }
}
