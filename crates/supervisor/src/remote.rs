//! A caller's descriptors, seen from the supervisor: a copy of the socket behind one number
//! (`pidfd_getfd`, Linux ≥ 5.6: the same open file, so its options, status flags and owner are
//! the caller's), that number's close-on-exec flag (`/proc/<pid>/fdinfo`), and every other place
//! the socket is held where the supervisor can look: another number of the same process, a
//! descendant process (a fork shares the socket), an epoll registration (keyed by the number and
//! the open file, which a replacement would silently drop).
//!
//! `pidfd_getfd` needs the same permission as `ptrace` attach (the caller's user and dumpable,
//! or `CAP_SYS_PTRACE`: a supervisor started by root); where it is refused the socket is not
//! switched.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A process, by a pidfd (it cannot be mistaken for a later process with the same number).
pub struct Process {
    pid: u32,
    pidfd: OwnedFd,
}

impl Process {
    /// The process thread `tid` belongs to. Trust what is read through it only once the
    /// notification that named `tid` is found still valid afterwards.
    pub fn of_thread(tid: u32) -> io::Result<Process> {
        let status = fs::read_to_string(format!("/proc/{tid}/status"))?;
        let pid = status
            .lines()
            .find_map(|line| line.strip_prefix("Tgid:"))
            .and_then(|value| value.trim().parse::<u32>().ok())
            .ok_or_else(|| io::Error::other("no Tgid in its status"))?;
        // SAFETY: pidfd_open takes integers only; it returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Process {
            pid,
            // SAFETY: a fresh descriptor, owned by nobody else.
            pidfd: unsafe { OwnedFd::from_raw_fd(fd as RawFd) },
        })
    }

    /// A copy of the open file behind the process's number `fd`.
    pub fn copy(&self, fd: RawFd) -> io::Result<OwnedFd> {
        // SAFETY: pidfd_getfd takes integers only; it returns a new descriptor or -1.
        let copy = unsafe { libc::syscall(libc::SYS_pidfd_getfd, self.pidfd.as_raw_fd(), fd, 0) };
        if copy < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor, owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(copy as RawFd) })
    }

    /// Whether its number `fd` is close-on-exec (`flags:` in its fdinfo, octal).
    pub fn close_on_exec(&self, fd: RawFd) -> io::Result<bool> {
        let info = fs::read_to_string(format!("/proc/{}/fdinfo/{fd}", self.pid))?;
        let flags = info
            .lines()
            .find_map(|line| line.strip_prefix("flags:"))
            .and_then(|value| u32::from_str_radix(value.trim(), 8).ok())
            .ok_or_else(|| io::Error::other("no flags in its fdinfo"))?;
        Ok(flags & libc::O_CLOEXEC as u32 != 0)
    }

    /// Where else socket `inode` is held, besides the number `fd`: `None` when nowhere the
    /// supervisor can see, else what it found.
    pub fn other_holder(&self, fd: RawFd, inode: u64) -> io::Result<Option<&'static str>> {
        let wanted = format!("socket:[{inode}]");
        for (number, target) in links(self.pid)? {
            if number == fd {
                continue;
            }
            if target == wanted {
                return Ok(Some("another descriptor of the process"));
            }
            if target == "anon_inode:[eventpoll]" && registers(self.pid, number, inode) {
                return Ok(Some("an epoll registration"));
            }
        }
        let mut descendants = children(self.pid);
        let mut seen = 0;
        while let Some(child) = descendants.pop() {
            seen += 1;
            if seen > 4096 {
                return Ok(Some("too many descendants to look through"));
            }
            // A descendant gone meanwhile holds nothing.
            if let Ok(numbers) = links(child)
                && numbers.iter().any(|(_, target)| *target == wanted)
            {
                return Ok(Some("a descendant process"));
            }
            descendants.extend(children(child));
        }
        Ok(None)
    }
}

/// The socket's inode number (what `/proc/<pid>/fd` links name).
pub fn inode(socket: &OwnedFd) -> io::Result<u64> {
    // SAFETY: a zeroed stat is valid; fstat fills it.
    let mut status: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a descriptor we hold, a writable stat.
    if unsafe { libc::fstat(socket.as_raw_fd(), &mut status) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(status.st_ino)
}

/// Every number of process `pid` and what it links to.
fn links(pid: u32) -> io::Result<Vec<(RawFd, String)>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(format!("/proc/{pid}/fd"))? {
        let entry = entry?;
        let Some(number) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if let Ok(target) = fs::read_link(entry.path()) {
            found.push((number, target.to_string_lossy().into_owned()));
        }
    }
    Ok(found)
}

/// Whether the epoll instance at `pid`'s number `epoll` has a registration of socket `inode`
/// (`tfd: … ino:HEX` lines of its fdinfo). An unreadable one counts as holding it.
fn registers(pid: u32, epoll: RawFd, inode: u64) -> bool {
    let Ok(info) = fs::read_to_string(format!("/proc/{pid}/fdinfo/{epoll}")) else {
        return true;
    };
    let wanted = format!("ino:{inode:x}");
    info.lines()
        .filter(|line| line.starts_with("tfd:"))
        .any(|line| line.split_whitespace().any(|word| word == wanted))
}

/// The children of every thread of process `pid`.
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for task in tasks.flatten() {
        if let Ok(list) = fs::read_to_string(task.path().join("children")) {
            found.extend(
                list.split_whitespace()
                    .filter_map(|n| n.parse::<u32>().ok()),
            );
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn a_process_sees_its_own_numbers() {
        let process = Process::of_thread(std::process::id()).unwrap();
        // SAFETY: socket() takes integers only.
        let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
        assert!(raw >= 0);
        // SAFETY: a fresh descriptor.
        let socket = unsafe { OwnedFd::from_raw_fd(raw) };
        let copy = process.copy(raw).unwrap();
        let number = inode(&socket).unwrap();
        assert_eq!(inode(&copy).unwrap(), number);
        assert!(process.close_on_exec(raw).unwrap());
        // The copy is another number of this same process.
        assert!(process.other_holder(raw, number).unwrap().is_some());
        drop(copy);
        assert_eq!(process.other_holder(raw, number).unwrap(), None);
        let duplicate = socket.as_fd().try_clone_to_owned().unwrap();
        assert_eq!(
            process.other_holder(raw, number).unwrap(),
            Some("another descriptor of the process")
        );
        drop(duplicate);
    }
}
