//! Processes as `/proc` and the cgroup tree show them: a process and its descendants, a unit's
//! processes (its control group, as systemd names it), each one's socket inodes (its
//! `/proc/PID/fd` links) and network namespace.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where systemd's control groups are, by host layout.
const CGROUP_ROOTS: [&str; 3] = [
    "/sys/fs/cgroup",
    "/sys/fs/cgroup/unified",
    "/sys/fs/cgroup/systemd",
];
/// The deepest control group tree walked for a unit (bounds a hostile tree).
const MAX_CGROUP_DEPTH: usize = 32;

pub fn exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).is_dir()
}

/// `pid` and every process below it, parents first.
pub fn with_descendants(pid: u32) -> Vec<u32> {
    let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(child) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(parent) = parent_of(child) {
                children.entry(parent).or_default().push(child);
            }
        }
    }
    let mut all = vec![pid];
    let mut seen = BTreeSet::from([pid]);
    let mut next = 0;
    while let Some(&current) = all.get(next) {
        next += 1;
        for &child in children.get(&current).into_iter().flatten() {
            if seen.insert(child) {
                all.push(child);
            }
        }
    }
    all
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses; the last ')' ends it.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// The short command name of a process.
pub fn command(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| c.trim_end().to_string())
        .unwrap_or_default()
}

/// `(fd, socket inode)` for each socket the process holds; an error when its descriptors
/// cannot be read (another user's process, without root).
pub fn socket_inodes(pid: u32) -> std::io::Result<Vec<(u32, u32)>> {
    let mut sockets = Vec::new();
    let entries = match fs::read_dir(format!("/proc/{pid}/fd")) {
        Ok(entries) => entries,
        // Gone since it was listed: nothing to show.
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(sockets),
        Err(error) => return Err(error),
    };
    for entry in entries.flatten() {
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let target = match fs::read_link(entry.path()) {
            Ok(target) => target,
            // Closed since it was listed.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            // The listing is allowed but the links are not (no ptrace access): say so rather
            // than report a process without sockets.
            Err(error) => return Err(error),
        };
        let target = target.to_string_lossy();
        if let Some(inode) = target
            .strip_prefix("socket:[")
            .and_then(|t| t.strip_suffix(']'))
            .and_then(|n| n.parse().ok())
        {
            sockets.push((fd, inode));
        }
    }
    sockets.sort_unstable();
    Ok(sockets)
}

/// The network namespace's identity (its inode), and a path that enters it.
pub fn netns(pid: u32) -> Option<(u64, PathBuf)> {
    let path = PathBuf::from(format!("/proc/{pid}/ns/net"));
    let metadata = fs::metadata(&path).ok()?;
    Some((metadata.ino(), path))
}

/// What systemd says about a unit.
pub enum UnitProcesses {
    /// systemd knows no such unit (or cannot be asked).
    Unknown(String),
    /// The unit's processes (none when it is not running).
    Running(Vec<u32>),
}

/// The processes in a unit's control group (and the groups below it).
pub fn unit_processes(unit: &str) -> UnitProcesses {
    let output = Command::new("systemctl")
        .args(["show", "-p", "LoadState", "-p", "ControlGroup", "--", unit])
        .output();
    let output = match output {
        Ok(output) if output.status.success() => output,
        Ok(output) => {
            return UnitProcesses::Unknown(
                String::from_utf8_lossy(&output.stderr).trim().to_string(),
            );
        }
        Err(error) => return UnitProcesses::Unknown(format!("cannot run systemctl: {error}")),
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_default()
            .to_string()
    };
    if field("LoadState") != "loaded" {
        return UnitProcesses::Unknown(format!("no such unit ({})", field("LoadState")));
    }
    let group = field("ControlGroup");
    let mut pids = Vec::new();
    let relative = group.trim_start_matches('/');
    // The unified hierarchy (cgroup v2), else a hybrid host's, else the v1 name=systemd one.
    let found = CGROUP_ROOTS
        .iter()
        .map(|root| Path::new(root).join(relative))
        .find(|dir| dir.join("cgroup.procs").is_file());
    if let (false, Some(dir)) = (group.is_empty(), found) {
        collect_cgroup(&dir, 0, &mut pids);
    }
    UnitProcesses::Running(pids)
}

fn collect_cgroup(dir: &Path, depth: usize, pids: &mut Vec<u32>) {
    if depth > MAX_CGROUP_DEPTH {
        return;
    }
    if let Ok(procs) = fs::read_to_string(dir.join("cgroup.procs")) {
        pids.extend(procs.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                collect_cgroup(&entry.path(), depth + 1, pids);
            }
        }
    }
}
