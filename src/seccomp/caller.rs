//! Who made the call: its identity, and the network namespace its socket belongs in.
//!
//! A socket carries the identity of the task that created it: its credentials (netfilter's
//! owner match, `sk_uid`, the file's credentials), its cgroup (cgroup BPF programs, net_cls) and
//! its network namespace. The supervisor creates the socket on the caller's behalf, so it reads
//! the calling thread's credentials and cgroup under `/proc/<tid>` and compares them with its
//! own: when they differ (a program that dropped root, moved itself to another cgroup), the call
//! continues as the caller's own TCP socket instead of getting one that would lie about its
//! owner. The network namespace is the caller's, entered with `setns` for the one call.
//! Everything read under `/proc/<tid>` is trusted only once the notification is checked to be
//! still valid afterwards (the number could otherwise belong to a new task).

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

/// What a socket made by a task would carry of that task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The `Uid:`, `Gid:` and `Groups:` lines of `/proc/<tid>/status` (real, effective, saved
    /// and filesystem ids; supplementary groups).
    credentials: String,
    /// `/proc/<tid>/cgroup`.
    cgroup: Vec<u8>,
}

impl Identity {
    /// The identity of thread `tid`, or of the calling thread with `None`.
    pub fn of(tid: Option<u32>) -> io::Result<Identity> {
        let dir = match tid {
            Some(tid) => format!("/proc/{tid}"),
            None => "/proc/thread-self".to_string(),
        };
        let status = fs::read_to_string(format!("{dir}/status"))?;
        Ok(Identity {
            credentials: credential_lines(&status),
            cgroup: fs::read(format!("{dir}/cgroup"))?,
        })
    }
}

/// The lines of a `/proc/<pid>/status` that name credentials.
fn credential_lines(status: &str) -> String {
    status
        .lines()
        .filter(|line| {
            ["Uid:", "Gid:", "Groups:"]
                .iter()
                .any(|key| line.starts_with(key))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A network namespace: an open `/proc/…/ns/net`, and the inode that names it.
pub struct NetNamespace {
    fd: OwnedFd,
    pub key: (u64, u64),
}

impl NetNamespace {
    /// The namespace of thread `tid`, or of the calling thread with `None`.
    pub fn of(tid: Option<u32>) -> io::Result<NetNamespace> {
        let path = match tid {
            Some(tid) => format!("/proc/{tid}/ns/net"),
            None => "/proc/thread-self/ns/net".to_string(),
        };
        let file = fs::File::open(path)?;
        let metadata = file.metadata()?;
        Ok(NetNamespace {
            fd: file.into(),
            key: (metadata.dev(), metadata.ino()),
        })
    }

    /// Runs `make` inside this namespace, then comes back to `home`. Coming back cannot fail
    /// for a process that could leave (it keeps its capabilities); if it ever did, staying would
    /// put later sockets in the wrong namespace, so the supervisor stops (`Err` of the outer
    /// result) and the program's calls fail instead of lying.
    pub fn enter<T>(
        &self,
        home: &NetNamespace,
        make: impl FnOnce() -> T,
    ) -> Result<io::Result<T>, io::Error> {
        if self.key == home.key {
            return Ok(Ok(make()));
        }
        if let Err(error) = set_namespace(&self.fd) {
            // EPERM: no CAP_SYS_ADMIN over that namespace (an unprivileged supervisor).
            return Ok(Err(error));
        }
        let made = make();
        set_namespace(&home.fd)?;
        Ok(Ok(made))
    }
}

fn set_namespace(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: setns on a namespace descriptor we hold open; it changes only this thread's
    // namespace (the supervisor has one thread).
    if unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Makes the MPTCP socket for a caller's `socket(domain, ty, …)`: its `SOCK_NONBLOCK` kept (the
/// flag travels with the open file), always close-on-exec here (the caller's fd flag is set when
/// the descriptor is installed). Returns the descriptor or the kernel's errno.
pub fn mptcp_socket(domain: libc::c_int, ty: libc::c_int) -> Result<OwnedFd, libc::c_int> {
    let flags = (ty & libc::SOCK_NONBLOCK) | libc::SOCK_CLOEXEC;
    // SAFETY: socket() takes integers only.
    let fd = unsafe { libc::socket(domain, libc::SOCK_STREAM | flags, libc::IPPROTO_MPTCP) };
    if fd < 0 {
        Err(io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO))
    } else {
        // SAFETY: a fresh descriptor, owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_lines_keep_ids_and_groups_only() {
        let status = "Name:\tcat\nUmask:\t0022\nPid:\t7\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n\
                      FDSize:\t64\nGroups:\t4 24\nVmPeak:\t1 kB\n";
        assert_eq!(
            credential_lines(status),
            "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t4 24"
        );
    }

    #[test]
    fn a_thread_has_the_identity_and_namespace_of_itself() {
        let tid = std::process::id();
        assert_eq!(
            Identity::of(Some(tid)).unwrap(),
            Identity::of(None).unwrap()
        );
        assert_eq!(
            NetNamespace::of(Some(tid)).unwrap().key,
            NetNamespace::of(None).unwrap().key
        );
    }
}
