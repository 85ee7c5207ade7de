//! The kernel's own list of TCP and MPTCP sockets (`sock_diag` netlink, as `ss` reads it), in
//! the network namespace the launcher is in: addresses, state, inode, `tcp_info` /
//! `mptcp_info`, and for MPTCP subflows the connection token that ties them to their MPTCP
//! socket. Parsing is bounds-checked: a short or odd message is skipped, never trusted.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// `SOCK_DIAG_BY_FAMILY` (linux/sock_diag.h).
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `INET_DIAG_INFO` (linux/inet_diag.h): `tcp_info` for TCP, `mptcp_info` for MPTCP.
const INET_DIAG_INFO: u16 = 2;
/// `INET_DIAG_ULP_INFO`: the upper-layer protocol's nest (MPTCP for a subflow).
const INET_DIAG_ULP_INFO: u16 = 19;
/// `INET_DIAG_REQ_PROTOCOL`: the protocol as a u32 (MPTCP's 262 does not fit the u8 field).
const INET_DIAG_REQ_PROTOCOL: u16 = 3;
/// `INET_ULP_INFO_MPTCP` inside the ULP nest.
const INET_ULP_INFO_MPTCP: u16 = 3;
/// `MPTCP_SUBFLOW_ATTR_TOKEN_LOC` (linux/mptcp.h): the MPTCP connection's local token.
const MPTCP_SUBFLOW_ATTR_TOKEN_LOC: u16 = 2;
/// Size of `struct inet_diag_msg` and `struct nlmsghdr`.
const DIAG_MSG_LEN: usize = 72;
const NLMSG_HDR_LEN: usize = 16;
/// Every state (TIME_WAIT sockets have no inode and simply never match).
const ALL_STATES: u32 = !0;

/// One socket as the kernel reports it.
#[derive(Debug, Clone)]
pub struct DiagSocket {
    pub state: u8,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub inode: u32,
    /// The raw `INET_DIAG_INFO` payload (`tcp_info` or `mptcp_info`), possibly short.
    pub info: Vec<u8>,
    /// For an MPTCP subflow: its connection's local token.
    pub subflow_token: Option<u32>,
}

/// Dumps every socket of `protocol` (`IPPROTO_TCP` or `IPPROTO_MPTCP`), IPv4 and IPv6.
pub fn dump(protocol: i32) -> io::Result<Vec<DiagSocket>> {
    let mut sockets = Vec::new();
    for family in [libc::AF_INET, libc::AF_INET6] {
        sockets.extend(dump_family(family, protocol)?);
    }
    Ok(sockets)
}

fn dump_family(family: i32, protocol: i32) -> io::Result<Vec<DiagSocket>> {
    // SAFETY: socket(2) with integer arguments; the descriptor is owned by `Fd` below.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::NETLINK_SOCK_DIAG,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = Fd(raw);
    let request = request(family, protocol);
    // SAFETY: the buffer is valid for its length; the kernel only reads it.
    let sent = unsafe { libc::send(fd.0, request.as_ptr().cast(), request.len(), 0) };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut sockets = Vec::new();
    let mut buffer = vec![0u8; 64 * 1024];
    // A dump ends with NLMSG_DONE; the bound only guards against a kernel that never says so.
    for _ in 0..100_000 {
        // SAFETY: the buffer is valid and writable for its length.
        let received = unsafe { libc::recv(fd.0, buffer.as_mut_ptr().cast(), buffer.len(), 0) };
        if received < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut rest = buffer.get(..received as usize).unwrap_or_default();
        while rest.len() >= NLMSG_HDR_LEN {
            let len = u32_at(rest, 0) as usize;
            let kind = u16_at(rest, 4);
            if len < NLMSG_HDR_LEN || len > rest.len() {
                break;
            }
            match kind as i32 {
                libc::NLMSG_DONE => return Ok(sockets),
                libc::NLMSG_ERROR => {
                    let errno = i32::from_ne_bytes(bytes_at(rest, NLMSG_HDR_LEN));
                    // An unknown protocol (an old kernel's MPTCP diag) means: none of those.
                    if errno == -libc::ENOENT || errno == 0 {
                        return Ok(sockets);
                    }
                    return Err(io::Error::from_raw_os_error(-errno));
                }
                _ => {
                    if let Some(socket) = parse(&rest[NLMSG_HDR_LEN..len]) {
                        sockets.push(socket);
                    }
                }
            }
            rest = &rest[align(len).min(rest.len())..];
        }
    }
    Ok(sockets)
}

/// `nlmsghdr` + `inet_diag_req_v2` (+ the protocol attribute).
fn request(family: i32, protocol: i32) -> Vec<u8> {
    let mut body = Vec::with_capacity(64);
    body.push(family as u8);
    body.push(protocol as u8); // MPTCP's number is carried by the attribute below
    body.push(1 << (INET_DIAG_INFO - 1)); // idiag_ext: ask for INFO (and the ULP nest)
    body.push(0);
    body.extend_from_slice(&ALL_STATES.to_ne_bytes());
    body.extend_from_slice(&[0u8; 48]); // inet_diag_sockid: any
    body.extend_from_slice(&8u16.to_ne_bytes());
    body.extend_from_slice(&INET_DIAG_REQ_PROTOCOL.to_ne_bytes());
    body.extend_from_slice(&(protocol as u32).to_ne_bytes());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    let mut message = Vec::with_capacity(NLMSG_HDR_LEN + body.len());
    message.extend_from_slice(&((NLMSG_HDR_LEN + body.len()) as u32).to_ne_bytes());
    message.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    message.extend_from_slice(&flags.to_ne_bytes());
    message.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    message.extend_from_slice(&0u32.to_ne_bytes()); // port: the kernel
    message.extend_from_slice(&body);
    message
}

/// One `inet_diag_msg` and its attributes.
fn parse(message: &[u8]) -> Option<DiagSocket> {
    if message.len() < DIAG_MSG_LEN {
        return None;
    }
    let family = i32::from(message[0]);
    let state = message[1];
    let id = &message[4..52];
    let port = |at: usize| u16::from_be_bytes([id[at], id[at + 1]]);
    let address = |at: usize| -> IpAddr {
        if family == libc::AF_INET {
            IpAddr::V4(Ipv4Addr::from(bytes_at::<4>(id, at)))
        } else {
            IpAddr::V6(Ipv6Addr::from(bytes_at::<16>(id, at)))
        }
    };
    let local = SocketAddr::new(address(4), port(0));
    let remote = SocketAddr::new(address(20), port(2));
    let inode = u32_at(message, 68);
    let mut socket = DiagSocket {
        state,
        local,
        remote,
        inode,
        info: Vec::new(),
        subflow_token: None,
    };
    for (kind, payload) in attributes(&message[DIAG_MSG_LEN..]) {
        match kind {
            INET_DIAG_INFO => socket.info = payload.to_vec(),
            INET_DIAG_ULP_INFO => {
                for (ulp_kind, ulp) in attributes(payload) {
                    if ulp_kind == INET_ULP_INFO_MPTCP {
                        for (attr, value) in attributes(ulp) {
                            if attr == MPTCP_SUBFLOW_ATTR_TOKEN_LOC && value.len() >= 4 {
                                socket.subflow_token = Some(u32_at(value, 0));
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Some(socket)
}

/// The `(type, payload)` of each netlink attribute in `data` (nesting flags masked off).
fn attributes(mut data: &[u8]) -> Vec<(u16, &[u8])> {
    let mut found = Vec::new();
    while data.len() >= 4 {
        let len = usize::from(u16_at(data, 0));
        let kind = u16_at(data, 2) & 0x3fff;
        if len < 4 || len > data.len() {
            break;
        }
        found.push((kind, &data[4..len]));
        data = &data[align(len).min(data.len())..];
    }
    found
}

fn align(len: usize) -> usize {
    (len + 3) & !3
}

fn bytes_at<const N: usize>(data: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(slice) = data.get(at..at + N) {
        out.copy_from_slice(slice);
    }
    out
}

pub fn u16_at(data: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes(bytes_at(data, at))
}

pub fn u32_at(data: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(bytes_at(data, at))
}

pub fn u64_at(data: &[u8], at: usize) -> Option<u64> {
    data.get(at..at + 8)
        .map(|_| u64::from_ne_bytes(bytes_at(data, at)))
}

struct Fd(i32);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned by this value and closed exactly once.
        unsafe { libc::close(self.0) };
    }
}
