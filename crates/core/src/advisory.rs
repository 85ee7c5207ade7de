//! The advisory options: those whose refusal by MPTCP changes how fast or how finely the
//! connection reacts, never what it delivers. With the opt-in policy (a setting that ends in
//! `+advisory`, see [`crate::mode`]) the library keeps such a socket MPTCP, answers the
//! `setsockopt()` with success and remembers the value for `getsockopt()`; by default an option
//! MPTCP refuses turns a fresh socket into TCP, and is refused on one that started.
//!
//! Pure data: which options, and which values of them, the policy covers. Each row says what the
//! option does on TCP and what a program loses when MPTCP ignores it (README and docs/usage.md
//! repeat it for users). Left out on purpose, because a program's correctness or security may
//! rest on them: `IP_MINTTL`/`IPV6_MINHOPCOUNT` (a TTL security check, RFC 5082),
//! `IP_RECVERR`/`IPV6_RECVERR` (how errors are reported), `TCP_SAVE_SYN` (read back by the
//! program), `SO_ZEROCOPY` (completions the program waits for), `IP(V6)_MTU_DISCOVER` and
//! `IPV6_DONTFRAG` (whether packets may be fragmented), flow labels (what load balancers hash on),
//! `SO_MAX_PACING_RATE` (a rate the program promised someone to keep to).

use libc::{IPPROTO_IP, IPPROTO_IPV6, IPPROTO_TCP, c_int};

/// Which values of an option the policy covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Values {
    /// Every value TCP takes.
    Any,
    /// `-1` (back to the default) and values at least a fresh TCP socket's own: a lower hop limit
    /// keeps packets near (a scope the program may rely on), which MPTCP would not do.
    NotBelowDefault,
}

/// One advisory option: level, name, the values covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advisory {
    pub level: c_int,
    pub name: c_int,
    pub values: Values,
}

const fn row(level: c_int, name: c_int, values: Values) -> Advisory {
    Advisory {
        level,
        name,
        values,
    }
}

/// The advisory options (Linux's numbers, tcp.h, in.h, in6.h). At most 8 rows: each has a bit
/// in the library's per-descriptor flags.
pub const ADVISORY: &[Advisory] = &[
    // How long sent data may stay unacknowledged before the kernel drops the connection. Lost:
    // a dead peer is noticed by TCP's retransmission limit (about 15 minutes by default) or
    // keepalive, not after the program's timeout. MPTCP itself moves data off a dead path.
    row(IPPROTO_TCP, libc::TCP_USER_TIMEOUT, Values::Any),
    // How many SYNs connect() sends before giving up. Lost: an unreachable host fails after the
    // system's tcp_syn_retries (about two minutes) instead of the program's count.
    row(IPPROTO_TCP, libc::TCP_SYNCNT, Values::Any),
    // Send ACKs at once rather than delayed. Lost: a few milliseconds of latency on some
    // request/response exchanges.
    row(IPPROTO_TCP, libc::TCP_QUICKACK, Values::Any),
    // How long a closed connection waits in FIN-WAIT-2 for the peer's FIN. Lost: the kernel's
    // default (60 s) applies; the program has closed the socket and sees nothing of it.
    row(IPPROTO_TCP, libc::TCP_LINGER2, Values::Any),
    // A cap on the receive window advertised. Lost: the peer may send faster than the cap
    // asked; the data is the same.
    row(IPPROTO_TCP, libc::TCP_WINDOW_CLAMP, Values::Any),
    // The hop limit of sent packets, when not lower than the default (see NotBelowDefault).
    // Lost: nothing on paths shorter than the default limit (64), which is every usual path.
    row(IPPROTO_IP, libc::IP_TTL, Values::NotBelowDefault),
    row(
        IPPROTO_IPV6,
        libc::IPV6_UNICAST_HOPS,
        Values::NotBelowDefault,
    ),
    // The traffic class (DSCP/ECN) of sent packets. Lost: the packets go unmarked, so a
    // network's QoS treats them as ordinary traffic.
    row(IPPROTO_IPV6, libc::IPV6_TCLASS, Values::Any),
];

/// The row of option `(level, name)`, with its index, if the policy covers it.
pub fn find(level: c_int, name: c_int) -> Option<(usize, &'static Advisory)> {
    ADVISORY
        .iter()
        .enumerate()
        .find(|(_, row)| row.level == level && row.name == name)
}

impl Advisory {
    /// Whether the policy covers `value`, given what a fresh TCP socket of the family reads for
    /// the option (`tcp_default`, when it could be read).
    pub fn covers(&self, value: c_int, tcp_default: Option<c_int>) -> bool {
        match self.values {
            Values::Any => true,
            Values::NotBelowDefault => {
                value == -1 || tcp_default.is_some_and(|default| value >= default)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_few_distinct_and_cover_what_they_say() {
        assert!(ADVISORY.len() <= 8);
        for (index, row) in ADVISORY.iter().enumerate() {
            assert_eq!(find(row.level, row.name).map(|(i, _)| i), Some(index));
        }
        let (_, timeout) = find(IPPROTO_TCP, libc::TCP_USER_TIMEOUT).unwrap();
        assert!(timeout.covers(30_000, None));
        let (_, ttl) = find(IPPROTO_IP, libc::IP_TTL).unwrap();
        let table = [
            (-1, Some(64), true),
            (64, Some(64), true),
            (200, Some(64), true),
            (1, Some(64), false),
            (63, Some(64), false),
            (200, None, false),
            (-1, None, true),
        ];
        for (value, default, covered) in table {
            assert_eq!(ttl.covers(value, default), covered, "{value} {default:?}");
        }
        assert!(find(IPPROTO_IP, libc::IP_MINTTL).is_none());
        assert!(find(IPPROTO_TCP, libc::TCP_SAVE_SYN).is_none());
    }
}
