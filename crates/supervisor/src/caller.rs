//! Who made the call: its identity, and the network namespace its socket belongs in.
//!
//! A socket carries the identity of the task that created it: its credentials (netfilter's
//! owner match, `sk_uid`, the file's credentials), its cgroup (cgroup BPF programs, net_cls) and
//! its network namespace. The supervisor creates the socket on the caller's behalf, so it reads
//! the calling thread's credentials and cgroup under `/proc/<tid>` and compares them with its
//! own: when the cgroups differ (a program that moved itself to another cgroup), the call
//! continues as the caller's own TCP socket instead of getting one that would lie about its
//! owner; when the credentials differ (a program that dropped root), a worker that has taken
//! them on makes the socket ([`crate::workers`]), or the call continues likewise. The network namespace is the caller's, entered with `setns` for the one call.
//! Everything read under `/proc/<tid>` is trusted only once the notification is checked to be
//! still valid afterwards (the number could otherwise belong to a new task).
//!
//! A [`Task`] holds the file `/proc/<tid>/cgroup` open: it names that one task for as long as the
//! descriptor lives (a new task given the same number later has other files, and reads through
//! the old descriptor fail once its task is gone). So what was read of the task when it was
//! opened can be kept, and each later read of its cgroup, one `pread()`, also proves the task is
//! still there.

use std::fs;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileExt, MetadataExt};

/// Room for `/proc/<tid>/status` (about 1.5 KiB) or `cgroup` in one read; longer files are read
/// to their end.
const SMALL_FILE: usize = 4096;

/// What a socket made by a task would carry of that task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The `Uid:`, `Gid:` and `Groups:` lines of `/proc/<tid>/status` (real, effective, saved
    /// and filesystem ids; supplementary groups).
    credentials: Vec<u8>,
    /// `/proc/<tid>/cgroup`.
    cgroup: Vec<u8>,
}

impl Identity {
    /// The identity of thread `tid`, or of the calling thread with `None`.
    pub fn of(tid: Option<u32>) -> io::Result<Identity> {
        Ok(Identity {
            credentials: credential_lines(&read_small(&proc_path(tid, "status"))?),
            cgroup: read_small(&proc_path(tid, "cgroup"))?,
        })
    }

    /// The calling thread's credential lines (a worker's proof that it took on a caller's).
    pub fn credentials_of_this_thread() -> io::Result<Vec<u8>> {
        Ok(credential_lines(&read_small(&proc_path(None, "status"))?))
    }

    /// Whether `task` is in this identity's cgroup, read now (another process may move it at
    /// any time, so this is never remembered). Fails once the task is gone.
    pub fn cgroup_matches(&self, task: &Task) -> io::Result<bool> {
        Ok(task.cgroup()? == self.cgroup)
    }
}

/// One task, by its `/proc/<tid>/cgroup` held open.
#[derive(Debug)]
pub struct Task {
    cgroup: fs::File,
}

/// What was read of a task when it was opened.
pub struct Opened {
    pub task: Task,
    pub namespace: NamespaceKey,
    /// Its credential lines (`Uid:`, `Gid:`, `Groups:` of its status).
    pub credentials: Vec<u8>,
    /// Its credentials are those of `identity`.
    pub same_credentials: bool,
}

impl Task {
    /// Opens thread `tid`: its cgroup file, kept; its network namespace and credentials, read
    /// now and compared with `identity`'s. Trust it only once the notification that named
    /// `tid` is found still valid afterwards.
    pub fn open(tid: u32, identity: &Identity) -> io::Result<Opened> {
        let cgroup = fs::File::open(proc_path(Some(tid), "cgroup"))?;
        let namespace = NamespaceKey::of(tid)?;
        let credentials = credential_lines(&read_small(&proc_path(Some(tid), "status"))?);
        Ok(Opened {
            task: Task { cgroup },
            namespace,
            same_credentials: credentials == identity.credentials,
            credentials,
        })
    }

    /// `/proc/<tid>/cgroup` now, in one `pread()` (procfs makes the whole small file afresh at
    /// offset 0).
    fn cgroup(&self) -> io::Result<Vec<u8>> {
        let mut content = vec![0; SMALL_FILE];
        let length = self.cgroup.read_at(&mut content, 0)?;
        if length == SMALL_FILE {
            // Longer than one read: the rest, in order.
            let mut offset = length as u64;
            loop {
                let mut more = vec![0; SMALL_FILE];
                let got = self.cgroup.read_at(&mut more, offset)?;
                if got == 0 {
                    break;
                }
                content.extend_from_slice(&more[..got]);
                offset += got as u64;
            }
        } else {
            content.truncate(length);
        }
        Ok(content)
    }
}

/// `/proc/<tid>/<name>`, or the calling thread's with `None`.
fn proc_path(tid: Option<u32>, name: &str) -> String {
    match tid {
        Some(tid) => format!("/proc/{tid}/{name}"),
        None => format!("/proc/thread-self/{name}"),
    }
}

/// A procfs file, in one `read` when it fits (procfs hands out a whole small file at once):
/// this runs for every notified call.
fn read_small(path: &str) -> io::Result<Vec<u8>> {
    let mut file = fs::File::open(path)?;
    let mut content = vec![0; SMALL_FILE];
    let length = file.read(&mut content)?;
    if length < SMALL_FILE {
        content.truncate(length);
    } else {
        file.read_to_end(&mut content)?;
    }
    Ok(content)
}

/// The lines of a `/proc/<pid>/status` that name credentials.
fn credential_lines(status: &[u8]) -> Vec<u8> {
    let keys: [&[u8]; 3] = [b"Uid:", b"Gid:", b"Groups:"];
    status
        .split(|&byte| byte == b'\n')
        .filter(|line| keys.iter().any(|key| line.starts_with(key)))
        .collect::<Vec<_>>()
        .join(&b'\n')
}

/// A network namespace, named by the device and inode of its `/proc/…/ns/net`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NamespaceKey(u64, u64);

impl NamespaceKey {
    /// The network namespace of thread `tid` (a `stat`, cheaper than opening it).
    pub fn of(tid: u32) -> io::Result<NamespaceKey> {
        let metadata = fs::metadata(proc_path(Some(tid), "ns/net"))?;
        Ok(NamespaceKey(metadata.dev(), metadata.ino()))
    }

    /// The network namespace an open `/proc/…/ns/net` names.
    pub fn of_file(file: &fs::File) -> io::Result<NamespaceKey> {
        let metadata = file.metadata()?;
        Ok(NamespaceKey(metadata.dev(), metadata.ino()))
    }
}

/// The supervisor's own network namespace, held open to come back to.
pub struct HomeNamespace {
    fd: OwnedFd,
    pub key: NamespaceKey,
}

impl HomeNamespace {
    pub fn open() -> io::Result<HomeNamespace> {
        let file = fs::File::open(proc_path(None, "ns/net"))?;
        let metadata = file.metadata()?;
        Ok(HomeNamespace {
            fd: file.into(),
            key: NamespaceKey(metadata.dev(), metadata.ino()),
        })
    }

    /// Runs `make` inside thread `tid`'s network namespace `key`, then comes back home. The
    /// inner result is `Err` when that namespace cannot be entered (`EPERM`: no `CAP_SYS_ADMIN`
    /// over it; `ESTALE`: the thread is no longer in it). The outer one is `Err` only when
    /// coming back failed, which cannot happen to a process that could leave (it keeps its
    /// capabilities); if it did, staying would put later sockets in the wrong namespace, so the
    /// supervisor stops and the program's calls fail instead of lying.
    pub fn visit<T>(
        &self,
        tid: u32,
        key: NamespaceKey,
        make: impl FnOnce() -> T,
    ) -> io::Result<io::Result<T>> {
        if key == self.key {
            return Ok(Ok(make()));
        }
        let entered = fs::File::open(proc_path(Some(tid), "ns/net")).and_then(|file| {
            let metadata = file.metadata()?;
            if NamespaceKey(metadata.dev(), metadata.ino()) != key {
                return Err(io::Error::from_raw_os_error(libc::ESTALE));
            }
            set_namespace(file.as_raw_fd())
        });
        if let Err(error) = entered {
            return Ok(Err(error));
        }
        let made = make();
        set_namespace(self.fd.as_raw_fd())?;
        Ok(Ok(made))
    }
}

fn set_namespace(fd: RawFd) -> io::Result<()> {
    // Entering changes only the calling thread (the supervisor's main one; workers enter their
    // own).
    crate::sys::enter_network_namespace(fd)
}

/// Makes the MPTCP socket for a caller's `socket(domain, ty, …)`: its `SOCK_NONBLOCK` kept (the
/// flag travels with the open file), always close-on-exec here (the caller's fd flag is set when
/// the descriptor is installed). Returns the descriptor or the kernel's errno.
pub fn mptcp_socket(domain: libc::c_int, ty: libc::c_int) -> Result<OwnedFd, libc::c_int> {
    stream_socket(domain, ty, libc::IPPROTO_MPTCP)
}

/// A stream socket of `protocol`, as [`mptcp_socket`] makes it.
pub fn stream_socket(
    domain: libc::c_int,
    ty: libc::c_int,
    protocol: libc::c_int,
) -> Result<OwnedFd, libc::c_int> {
    let flags = (ty & libc::SOCK_NONBLOCK) | libc::SOCK_CLOEXEC;
    let fd = crate::sys::socket(domain, libc::SOCK_STREAM | flags, protocol);
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
        let status = b"Name:\tcat\nUmask:\t0022\nPid:\t7\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n\
                      FDSize:\t64\nGroups:\t4 24\nVmPeak:\t1 kB\n";
        assert_eq!(
            credential_lines(status),
            b"Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t4 24"
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
            NamespaceKey::of(tid).unwrap(),
            HomeNamespace::open().unwrap().key
        );
    }
}
