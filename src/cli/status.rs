//! `status PID|UNIT`: "is it working?" For every TCP connection and listener of a process (and
//! its descendants) or of a unit's processes: addresses, MPTCP or TCP and, for TCP, why when the
//! kernel can tell; for MPTCP, its subflows with their paths and bytes.
//!
//! Everything comes from the kernel: the socket inodes in `/proc/PID/fd`, matched against the
//! `sock_diag` dumps of TCP and MPTCP sockets taken inside each process's network namespace
//! (`setns` into `/proc/PID/ns/net`, which needs root for another namespace).

use super::diag::{self, DiagSocket, u32_at, u64_at};
use super::procs::{self, UnitProcesses};
use super::{Failure, fatal, warn};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::AsRawFd;

/// `mptcp_info` (linux/mptcp.h): flags at 8, token at 12, bytes sent/received at 56/64 (6.x).
const MPTCP_INFO_FLAGS: usize = 8;
const MPTCP_INFO_TOKEN: usize = 12;
const MPTCP_INFO_BYTES_SENT: usize = 56;
const MPTCP_INFO_BYTES_RECEIVED: usize = 64;
/// `MPTCP_INFO_FLAG_FALLBACK`: the connection runs as plain TCP.
const FLAG_FALLBACK: u32 = 1 << 0;
/// `MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED`: the peer took part in the MPTCP handshake.
const FLAG_REMOTE_KEY_RECEIVED: u32 = 1 << 1;
/// `tcp_info` (linux/tcp.h): bytes_acked at 120, bytes_received at 128, bytes_sent at 200.
const TCP_INFO_BYTES_ACKED: usize = 120;
const TCP_INFO_BYTES_RECEIVED: usize = 128;
const TCP_INFO_BYTES_SENT: usize = 200;
/// `TCP_LISTEN` in the kernel's state numbering.
const LISTEN: u8 = 10;

/// A process's sockets in one network namespace: the path that enters it, `(pid, fd, inode)`.
type NamespaceSockets = (std::path::PathBuf, Vec<(u32, u32, u32)>);

/// One socket of a process, as reported.
struct Connection {
    pid: u32,
    fd: u32,
    mptcp: bool,
    socket: DiagSocket,
    reason: Option<&'static str>,
    subflows: Vec<DiagSocket>,
}

pub fn status(target: &str, json_output: bool) -> Result<i32, Failure> {
    let own = std::process::id();
    let pids: Vec<u32> = processes(target)?
        .into_iter()
        .filter(|&p| p != own)
        .collect();
    let (connections, unreadable) = connections(&pids)?;
    if !unreadable.is_empty() {
        let shown: Vec<String> = unreadable.iter().take(5).map(u32::to_string).collect();
        let more = if unreadable.len() > 5 { ", …" } else { "" };
        let message = format!(
            "cannot read the descriptors of {} process(es) (PID {}{more}): run as root",
            unreadable.len(),
            shown.join(", ")
        );
        if unreadable.len() == pids.len() {
            return Err(fatal(message));
        }
        warn(&message);
    }
    if json_output {
        println!("{}", to_json(target, &pids, &connections));
    } else {
        print!("{}", to_table(target, &pids, &connections));
    }
    Ok(0)
}

/// The processes to look at, or exit 1 when the process or unit does not exist.
fn processes(target: &str) -> Result<Vec<u32>, Failure> {
    if let Ok(pid) = target.parse::<u32>() {
        if pid == 0 || !procs::exists(pid) {
            return Err(fatal(format!("no such process: {target}")));
        }
        return Ok(procs::with_descendants(pid));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || ":_.@\\-".contains(c);
    if target.is_empty() || !target.chars().all(allowed) || target.starts_with(['.', '-']) {
        return Err(Failure::Fatal(
            format!("invalid PID or unit name '{target}'"),
            2,
        ));
    }
    let unit = if target.contains('.') {
        target.to_string()
    } else {
        format!("{target}.service")
    };
    match procs::unit_processes(&unit) {
        UnitProcesses::Unknown(why) => Err(fatal(format!("{unit}: {why}"))),
        UnitProcesses::Running(pids) => Ok(pids),
    }
}

/// The TCP and MPTCP sockets of `pids`, namespace by namespace, and the processes whose
/// descriptors or namespace could not be read (another user's, without root).
fn connections(pids: &[u32]) -> Result<(Vec<Connection>, Vec<u32>), Failure> {
    let mut unreadable = Vec::new();
    let mut by_namespace: BTreeMap<u64, NamespaceSockets> = BTreeMap::new();
    for &pid in pids {
        let sockets = match procs::socket_inodes(pid) {
            Ok(sockets) if sockets.is_empty() => continue,
            Ok(sockets) => sockets,
            Err(_) => {
                unreadable.push(pid);
                continue;
            }
        };
        let Some((namespace, path)) = procs::netns(pid) else {
            unreadable.push(pid);
            continue;
        };
        let entry = by_namespace.entry(namespace).or_insert((path, Vec::new()));
        entry
            .1
            .extend(sockets.into_iter().map(|(fd, inode)| (pid, fd, inode)));
    }
    // The namespace this process is in now (it moves from one to the next).
    let mut current = procs::netns(std::process::id()).map(|(namespace, _)| namespace);
    let mut connections = Vec::new();
    for (namespace, (path, sockets)) in by_namespace {
        if sockets.is_empty() {
            continue;
        }
        if Some(namespace) != current {
            enter(&path)?;
            current = Some(namespace);
        }
        let dump = |protocol| {
            diag::dump(protocol).map_err(|e| fatal(format!("cannot list sockets (sock_diag): {e}")))
        };
        let mptcp = dump(libc::IPPROTO_MPTCP)?;
        let tcp = dump(libc::IPPROTO_TCP)?;
        for (pid, fd, inode) in sockets {
            if let Some(socket) = mptcp.iter().find(|s| s.inode == inode) {
                connections.push(mptcp_connection(pid, fd, socket, &tcp));
            } else if let Some(socket) = tcp.iter().find(|s| s.inode == inode) {
                connections.push(Connection {
                    pid,
                    fd,
                    mptcp: false,
                    socket: socket.clone(),
                    reason: Some(tcp_reason(socket, &mptcp)),
                    subflows: Vec::new(),
                });
            }
        }
    }
    Ok((connections, unreadable))
}

/// Why a plain TCP socket is not MPTCP, as far as the kernel shows: a connection accepted by
/// an MPTCP listener on its address came from a peer without MPTCP (the kernel hands such a
/// connection over as plain TCP); any other was opened as TCP.
fn tcp_reason(socket: &DiagSocket, mptcp: &[DiagSocket]) -> &'static str {
    let accepted_by_mptcp = socket.state != LISTEN
        && mptcp.iter().any(|listener| {
            listener.state == LISTEN
                && listener.local.port() == socket.local.port()
                && (listener.local.ip() == socket.local.ip()
                    || listener.local.ip().is_unspecified())
        });
    if accepted_by_mptcp {
        "fell back to TCP: the peer connected without MPTCP (accepted by an MPTCP listener)"
    } else {
        "never MPTCP: the program opened it as plain TCP (not under the library, or its mode \
         kept TCP there)"
    }
}

fn mptcp_connection(pid: u32, fd: u32, socket: &DiagSocket, tcp: &[DiagSocket]) -> Connection {
    let flags =
        (socket.info.len() >= MPTCP_INFO_FLAGS + 4).then(|| u32_at(&socket.info, MPTCP_INFO_FLAGS));
    let token =
        (socket.info.len() >= MPTCP_INFO_TOKEN + 4).then(|| u32_at(&socket.info, MPTCP_INFO_TOKEN));
    let fallback = flags.is_some_and(|f| f & FLAG_FALLBACK != 0);
    let reason = fallback.then(|| {
        if flags.is_some_and(|f| f & FLAG_REMOTE_KEY_RECEIVED != 0) {
            "fell back to TCP after the MPTCP handshake (MPTCP options lost on the path)"
        } else {
            "fell back to TCP: the peer answered without MPTCP"
        }
    });
    let subflows = match token {
        Some(token) if token != 0 && socket.state != LISTEN => tcp
            .iter()
            .filter(|s| s.subflow_token == Some(token) && s.state != LISTEN)
            .cloned()
            .collect(),
        _ => Vec::new(),
    };
    Connection {
        pid,
        fd,
        mptcp: !fallback,
        socket: socket.clone(),
        reason,
        subflows,
    }
}

/// Moves this (single-threaded) process into the network namespace at `path`.
fn enter(path: &std::path::Path) -> Result<(), Failure> {
    let file =
        File::open(path).map_err(|e| fatal(format!("cannot open {}: {e}", path.display())))?;
    // The launcher runs no other thread: the whole process enters.
    if let Err(error) = crate::seccomp::sys::enter_network_namespace(file.as_raw_fd()) {
        return Err(fatal(format!(
            "cannot enter the network namespace of {}: {error} (run as root)",
            path.display()
        )));
    }
    Ok(())
}

fn state_name(state: u8) -> &'static str {
    match state {
        1 => "ESTAB",
        2 => "SYN-SENT",
        3 => "SYN-RECV",
        4 => "FIN-WAIT-1",
        5 => "FIN-WAIT-2",
        6 => "TIME-WAIT",
        7 => "CLOSE",
        8 => "CLOSE-WAIT",
        9 => "LAST-ACK",
        LISTEN => "LISTEN",
        11 => "CLOSING",
        _ => "UNKNOWN",
    }
}

/// Bytes sent and received: `mptcp_info`'s for an MPTCP socket, `tcp_info`'s for a subflow.
fn bytes(socket: &DiagSocket, mptcp: bool) -> (Option<u64>, Option<u64>) {
    if mptcp {
        (
            u64_at(&socket.info, MPTCP_INFO_BYTES_SENT),
            u64_at(&socket.info, MPTCP_INFO_BYTES_RECEIVED),
        )
    } else {
        (
            u64_at(&socket.info, TCP_INFO_BYTES_SENT)
                .or_else(|| u64_at(&socket.info, TCP_INFO_BYTES_ACKED)),
            u64_at(&socket.info, TCP_INFO_BYTES_RECEIVED),
        )
    }
}

fn path_text(socket: &DiagSocket) -> String {
    if socket.state == LISTEN {
        format!("{}", socket.local)
    } else {
        format!("{} -> {}", socket.local, socket.remote)
    }
}

/// Bytes sent and received over a connection: its own count, or where the kernel's `mptcp_info`
/// has none (6.1's ends before them) the sum of its subflows' counts.
fn connection_bytes(connection: &Connection) -> (Option<u64>, Option<u64>) {
    let own = bytes(&connection.socket, connection.mptcp);
    if !connection.mptcp || own.0.is_some() || connection.subflows.is_empty() {
        return own;
    }
    let counts: Vec<(Option<u64>, Option<u64>)> = connection
        .subflows
        .iter()
        .map(|subflow| bytes(subflow, false))
        .collect();
    (
        counts.iter().map(|c| c.0).sum(),
        counts.iter().map(|c| c.1).sum(),
    )
}

fn bytes_text(counts: (Option<u64>, Option<u64>)) -> String {
    match counts {
        (Some(sent), Some(received)) => format!("  sent {sent} B, received {received} B"),
        _ => String::new(),
    }
}

fn to_table(target: &str, pids: &[u32], connections: &[Connection]) -> String {
    let mut out = String::new();
    for &pid in pids {
        let own: Vec<&Connection> = connections.iter().filter(|c| c.pid == pid).collect();
        if own.is_empty() {
            continue;
        }
        out.push_str(&format!("PID {pid} {}\n", procs::command(pid)));
        for connection in own {
            let socket = &connection.socket;
            let protocol = if connection.mptcp { "MPTCP" } else { "TCP" };
            out.push_str(&format!(
                "  fd {:<3} {protocol:<5} {:<10} {}",
                connection.fd,
                state_name(socket.state),
                path_text(socket)
            ));
            if connection.mptcp && socket.state != LISTEN {
                let count = connection.subflows.len();
                out.push_str(&format!(
                    "  {count} subflow{}{}",
                    if count == 1 { "" } else { "s" },
                    bytes_text(connection_bytes(connection))
                ));
            }
            if let Some(reason) = connection.reason {
                out.push_str(&format!("  {reason}"));
            }
            out.push('\n');
            for subflow in &connection.subflows {
                out.push_str(&format!(
                    "         subflow {} {}{}\n",
                    state_name(subflow.state),
                    path_text(subflow),
                    bytes_text(bytes(subflow, false))
                ));
            }
        }
    }
    if out.is_empty() {
        match pids.first() {
            None => out.push_str(&format!("{target}: no processes (not running)\n")),
            Some(&pid) => out.push_str(&format!(
                "PID {pid} {}: no TCP connections or listeners{}\n",
                procs::command(pid),
                if pids.len() > 1 {
                    " (nor in its other processes)"
                } else {
                    ""
                }
            )),
        }
    }
    out
}

fn socket_json(
    socket: &DiagSocket,
    (sent, received): (Option<u64>, Option<u64>),
) -> serde_json::Map<String, Value> {
    let mut object = serde_json::Map::new();
    object.insert("state".into(), json!(state_name(socket.state)));
    object.insert("local".into(), json!(socket.local.to_string()));
    object.insert("remote".into(), json!(socket.remote.to_string()));
    object.insert("bytes_sent".into(), json!(sent));
    object.insert("bytes_received".into(), json!(received));
    object
}

fn to_json(target: &str, pids: &[u32], connections: &[Connection]) -> Value {
    let processes: Vec<Value> = pids
        .iter()
        .map(|&pid| {
            let sockets: Vec<Value> = connections
                .iter()
                .filter(|c| c.pid == pid)
                .map(|c| {
                    let mut object = socket_json(&c.socket, connection_bytes(c));
                    object.insert("fd".into(), json!(c.fd));
                    object.insert("inode".into(), json!(c.socket.inode));
                    object.insert(
                        "protocol".into(),
                        json!(if c.mptcp { "mptcp" } else { "tcp" }),
                    );
                    object.insert("reason".into(), json!(c.reason));
                    let subflows: Vec<Value> = c
                        .subflows
                        .iter()
                        .map(|s| Value::Object(socket_json(s, bytes(s, false))))
                        .collect();
                    object.insert("subflows".into(), json!(subflows));
                    Value::Object(object)
                })
                .collect();
            json!({ "pid": pid, "command": procs::command(pid), "sockets": sockets })
        })
        .collect();
    json!({ "target": target, "processes": processes })
}
