//! The catalogue of socket options a switch carries from one socket to its replacement, and
//! their names for messages.
//!
//! Pure data: the preload's switch (crates/preload/src/switch) reads, sets and reads back each
//! of these; its messages name options through [`option_name`]. Names are held inline
//! ([`Label`]), so a table of them needs no pointer and the loader no relocation.

use libc::{IPPROTO_IP, IPPROTO_IPV6, IPPROTO_TCP, SOL_SOCKET, c_int};

/// How an option's value reads back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// Reads back as set.
    Plain,
    /// `SO_RCVBUF`/`SO_SNDBUF`: the kernel doubles what it is given.
    Doubled,
}

/// An option to carry: level, name, its name for messages, how its value reads back.
pub struct Carried {
    pub level: c_int,
    pub name: c_int,
    pub label: Label,
    pub value: Value,
}

/// The longest option name.
const LABEL_BYTES: usize = 24;

/// An option's name for messages, held inline (ASCII, NUL-padded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label([u8; LABEL_BYTES]);

impl Label {
    /// The name's leading ASCII characters, at most [`LABEL_BYTES`] of them.
    pub const fn new(text: &str) -> Label {
        let bytes = text.as_bytes();
        let mut label = [0u8; LABEL_BYTES];
        let mut i = 0;
        while i < bytes.len() && i < LABEL_BYTES && bytes[i].is_ascii() && bytes[i] != 0 {
            label[i] = bytes[i];
            i += 1;
        }
        Label(label)
    }
}

impl core::fmt::Display for Label {
    /// Byte by byte: `new` stored ASCII only, so each byte is its own character (no UTF-8
    /// validation code is needed, and none is brought into the preload).
    fn fmt(&self, out: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for &byte in self.0.iter().take_while(|&&byte| byte != 0) {
            core::fmt::Write::write_char(out, char::from(byte))?;
        }
        Ok(())
    }
}

/// A [`CARRIED`] entry (a `const fn`, so the names become inline [`Label`]s).
const fn c(level: c_int, name: c_int, label: &str, value: Value) -> Carried {
    Carried {
        level,
        name,
        label: Label::new(label),
        value,
    }
}

use Value::{Doubled, Plain};

/// The options carried across a switch, in the order they are applied (`IPV6_V6ONLY`, device and
/// reuse options before the address is bound). Numbers are Linux's (asm-generic, in.h, in6.h,
/// tcp.h), named for messages. Options a socket cannot read are skipped: the kernel refuses to
/// read what it also refuses to set, and an option the program did set but we cannot read back
/// was marked by our `setsockopt()` hook, which rules the switch out.
pub const CARRIED: &[Carried] = &[
    c(IPPROTO_IPV6, 26, "IPV6_V6ONLY", Plain),
    c(SOL_SOCKET, 25, "SO_BINDTODEVICE", Plain),
    c(SOL_SOCKET, 62, "SO_BINDTOIFINDEX", Plain),
    c(SOL_SOCKET, 2, "SO_REUSEADDR", Plain),
    c(SOL_SOCKET, 15, "SO_REUSEPORT", Plain),
    c(SOL_SOCKET, 36, "SO_MARK", Plain),
    c(IPPROTO_IP, 15, "IP_FREEBIND", Plain),
    c(IPPROTO_IP, 19, "IP_TRANSPARENT", Plain),
    c(IPPROTO_IP, 24, "IP_BIND_ADDRESS_NO_PORT", Plain),
    c(IPPROTO_IP, 51, "IP_LOCAL_PORT_RANGE", Plain),
    c(IPPROTO_IPV6, 78, "IPV6_FREEBIND", Plain),
    c(IPPROTO_IPV6, 75, "IPV6_TRANSPARENT", Plain),
    c(IPPROTO_IPV6, 72, "IPV6_ADDR_PREFERENCES", Plain),
    c(SOL_SOCKET, 1, "SO_DEBUG", Plain),
    c(SOL_SOCKET, 9, "SO_KEEPALIVE", Plain),
    c(SOL_SOCKET, 10, "SO_OOBINLINE", Plain),
    c(SOL_SOCKET, 12, "SO_PRIORITY", Plain),
    c(SOL_SOCKET, 13, "SO_LINGER", Plain),
    c(SOL_SOCKET, 16, "SO_PASSCRED", Plain),
    c(SOL_SOCKET, 8, "SO_RCVBUF", Doubled),
    c(SOL_SOCKET, 7, "SO_SNDBUF", Doubled),
    c(SOL_SOCKET, 72, "SO_BUF_LOCK", Plain),
    c(SOL_SOCKET, 18, "SO_RCVLOWAT", Plain),
    c(SOL_SOCKET, 20, "SO_RCVTIMEO", Plain),
    c(SOL_SOCKET, 21, "SO_SNDTIMEO", Plain),
    c(SOL_SOCKET, 29, "SO_TIMESTAMP", Plain),
    c(SOL_SOCKET, 35, "SO_TIMESTAMPNS", Plain),
    c(SOL_SOCKET, 37, "SO_TIMESTAMPING", Plain),
    c(SOL_SOCKET, 63, "SO_TIMESTAMP_NEW", Plain),
    c(SOL_SOCKET, 64, "SO_TIMESTAMPNS_NEW", Plain),
    c(SOL_SOCKET, 65, "SO_TIMESTAMPING_NEW", Plain),
    c(SOL_SOCKET, 34, "SO_PASSSEC", Plain),
    c(SOL_SOCKET, 46, "SO_BUSY_POLL", Plain),
    c(SOL_SOCKET, 47, "SO_MAX_PACING_RATE", Plain),
    c(SOL_SOCKET, 49, "SO_INCOMING_CPU", Plain),
    c(SOL_SOCKET, 60, "SO_ZEROCOPY", Plain),
    c(SOL_SOCKET, 61, "SO_TXTIME", Plain),
    c(SOL_SOCKET, 69, "SO_PREFER_BUSY_POLL", Plain),
    c(SOL_SOCKET, 70, "SO_BUSY_POLL_BUDGET", Plain),
    c(SOL_SOCKET, 73, "SO_RESERVE_MEM", Plain),
    c(SOL_SOCKET, 74, "SO_TXREHASH", Plain),
    c(SOL_SOCKET, 75, "SO_RCVMARK", Plain),
    c(IPPROTO_IP, 1, "IP_TOS", Plain),
    c(IPPROTO_IP, 2, "IP_TTL", Plain),
    c(IPPROTO_IP, 4, "IP_OPTIONS", Plain),
    c(IPPROTO_IP, 6, "IP_RECVOPTS", Plain),
    c(IPPROTO_IP, 7, "IP_RETOPTS", Plain),
    c(IPPROTO_IP, 8, "IP_PKTINFO", Plain),
    c(IPPROTO_IP, 10, "IP_MTU_DISCOVER", Plain),
    c(IPPROTO_IP, 11, "IP_RECVERR", Plain),
    c(IPPROTO_IP, 12, "IP_RECVTTL", Plain),
    c(IPPROTO_IP, 13, "IP_RECVTOS", Plain),
    c(IPPROTO_IP, 18, "IP_PASSSEC", Plain),
    c(IPPROTO_IP, 20, "IP_RECVORIGDSTADDR", Plain),
    c(IPPROTO_IP, 21, "IP_MINTTL", Plain),
    c(IPPROTO_IP, 22, "IP_NODEFRAG", Plain),
    c(IPPROTO_IP, 25, "IP_RECVFRAGSIZE", Plain),
    c(IPPROTO_IP, 26, "IP_RECVERR_RFC4884", Plain),
    c(IPPROTO_IPV6, 11, "IPV6_FLOWINFO", Plain),
    c(IPPROTO_IPV6, 16, "IPV6_UNICAST_HOPS", Plain),
    c(IPPROTO_IPV6, 23, "IPV6_MTU_DISCOVER", Plain),
    c(IPPROTO_IPV6, 25, "IPV6_RECVERR", Plain),
    c(IPPROTO_IPV6, 31, "IPV6_RECVERR_RFC4884", Plain),
    c(IPPROTO_IPV6, 33, "IPV6_FLOWINFO_SEND", Plain),
    c(IPPROTO_IPV6, 49, "IPV6_RECVPKTINFO", Plain),
    c(IPPROTO_IPV6, 51, "IPV6_RECVHOPLIMIT", Plain),
    c(IPPROTO_IPV6, 62, "IPV6_DONTFRAG", Plain),
    c(IPPROTO_IPV6, 66, "IPV6_RECVTCLASS", Plain),
    c(IPPROTO_IPV6, 67, "IPV6_TCLASS", Plain),
    c(IPPROTO_IPV6, 70, "IPV6_AUTOFLOWLABEL", Plain),
    c(IPPROTO_IPV6, 73, "IPV6_MINHOPCOUNT", Plain),
    c(IPPROTO_IPV6, 74, "IPV6_RECVORIGDSTADDR", Plain),
    c(IPPROTO_IPV6, 77, "IPV6_RECVFRAGSIZE", Plain),
    c(IPPROTO_TCP, 1, "TCP_NODELAY", Plain),
    c(IPPROTO_TCP, 2, "TCP_MAXSEG", Plain),
    c(IPPROTO_TCP, 3, "TCP_CORK", Plain),
    c(IPPROTO_TCP, 4, "TCP_KEEPIDLE", Plain),
    c(IPPROTO_TCP, 5, "TCP_KEEPINTVL", Plain),
    c(IPPROTO_TCP, 6, "TCP_KEEPCNT", Plain),
    c(IPPROTO_TCP, 7, "TCP_SYNCNT", Plain),
    c(IPPROTO_TCP, 8, "TCP_LINGER2", Plain),
    c(IPPROTO_TCP, 9, "TCP_DEFER_ACCEPT", Plain),
    c(IPPROTO_TCP, 10, "TCP_WINDOW_CLAMP", Plain),
    c(IPPROTO_TCP, 12, "TCP_QUICKACK", Plain),
    c(IPPROTO_TCP, 13, "TCP_CONGESTION", Plain),
    c(IPPROTO_TCP, 16, "TCP_THIN_LINEAR_TIMEOUTS", Plain),
    c(IPPROTO_TCP, 17, "TCP_THIN_DUPACK", Plain),
    c(IPPROTO_TCP, 18, "TCP_USER_TIMEOUT", Plain),
    c(IPPROTO_TCP, 23, "TCP_FASTOPEN", Plain),
    c(IPPROTO_TCP, 25, "TCP_NOTSENT_LOWAT", Plain),
    c(IPPROTO_TCP, 27, "TCP_SAVE_SYN", Plain),
    c(IPPROTO_TCP, 30, "TCP_FASTOPEN_CONNECT", Plain),
    c(IPPROTO_TCP, 34, "TCP_FASTOPEN_NO_COOKIE", Plain),
    c(IPPROTO_TCP, 36, "TCP_INQ", Plain),
    c(IPPROTO_TCP, 37, "TCP_TX_DELAY", Plain),
];

/// Boolean options MPTCP takes (applying them to its subflows) but reads back as 0 (kernel 6.18):
/// the preload's `setsockopt()` hook remembers them per descriptor and its switch
/// sets them from that memory instead of reading them.
pub const REMEMBERED: &[(c_int, &str)] = &[
    (5, "SO_DONTROUTE"),
    (6, "SO_BROADCAST"),
    (11, "SO_NO_CHECK"),
    (40, "SO_RXQ_OVFL"),
    (41, "SO_WIFI_STATUS"),
    (43, "SO_NOFCS"),
    (45, "SO_SELECT_ERR_QUEUE"),
];

/// The index in [`REMEMBERED`] of option `(level, name)`, if it is one of them.
pub fn remembered_index(level: c_int, name: c_int) -> Option<usize> {
    if level != SOL_SOCKET {
        return None;
    }
    REMEMBERED.iter().position(|&(number, _)| number == name)
}

/// Whether a level exists for a socket of this family: `IPPROTO_IPV6` options for `AF_INET6`
/// only (an IPv4 socket answers some `IPV6_*` reads, which an IPv4 TCP socket would then refuse
/// to take); `IPPROTO_IP` for both (an IPv6 socket has them for IPv4-mapped traffic).
pub fn level_applies(inet6: bool, level: c_int) -> bool {
    level != IPPROTO_IPV6 || inet6
}

/// The carried option `(level, name)` for a socket of this family, if any.
pub fn carried(inet6: bool, level: c_int, name: c_int) -> Option<&'static Carried> {
    CARRIED
        .iter()
        .find(|option| option.level == level && option.name == name)
        .filter(|_| level_applies(inet6, level))
}

/// The name of an option for messages: `TCP_USER_TIMEOUT`, or `level 6 option 99`.
pub fn option_name(level: c_int, name: c_int) -> OptionName {
    OptionName(level, name)
}

/// An option, named where it is written (nothing is allocated).
pub struct OptionName(c_int, c_int);

impl core::fmt::Display for OptionName {
    fn fmt(&self, out: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let OptionName(level, name) = *self;
        if let Some(option) = remembered_index(level, name).and_then(|i| REMEMBERED.get(i)) {
            return out.write_str(option.1);
        }
        match CARRIED.iter().find(|o| o.level == level && o.name == name) {
            Some(option) => write!(out, "{}", option.label),
            None if (level, name) == (IPPROTO_TCP, libc::TCP_MD5SIG) => out.write_str("TCP_MD5SIG"),
            None => write!(out, "level {level} option {name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_the_family_and_names_are_found() {
        assert!(carried(false, IPPROTO_IP, libc::IP_FREEBIND).is_some());
        assert!(carried(false, IPPROTO_IPV6, libc::IPV6_FREEBIND).is_none());
        assert!(carried(true, IPPROTO_IPV6, libc::IPV6_FREEBIND).is_some());
        assert!(carried(true, IPPROTO_IP, libc::IP_TOS).is_some());
        assert!(carried(true, IPPROTO_TCP, libc::TCP_MD5SIG).is_none());
        assert_eq!(option_name(IPPROTO_TCP, 18).to_string(), "TCP_USER_TIMEOUT");
        assert_eq!(
            option_name(SOL_SOCKET, libc::SO_DONTROUTE).to_string(),
            "SO_DONTROUTE"
        );
        assert_eq!(
            option_name(IPPROTO_TCP, 99).to_string(),
            "level 6 option 99"
        );
        assert!(remembered_index(SOL_SOCKET, libc::SO_SELECT_ERR_QUEUE).is_some());
        assert!(remembered_index(IPPROTO_TCP, libc::SO_DONTROUTE).is_none());
        assert_eq!(Label::new("TCP_CONGESTION").to_string(), "TCP_CONGESTION");
    }
}
