//! Sockets made with the caller's credentials: a daemon that drops privileges before it makes
//! its sockets (a mail server that becomes its own user and group) is served like any other.
//!
//! A socket carries the credentials of the task that made it (the file's, netfilter's owner
//! match, `sk_uid`). Linux keeps credentials per thread at the system-call level (glibc's
//! `setuid()` and the like change every thread of a process by signalling each; the raw system
//! calls change only the caller), so a worker thread of the supervisor can take on exactly one
//! caller's credentials and make its sockets. One worker per (credentials, network namespace):
//! it enters the namespace while it still may (`setns` needs `CAP_SYS_ADMIN`), then takes on the
//! groups, group ids and user ids, and proves it by reading its own `/proc/thread-self/status`,
//! which must now show the caller's credential lines exactly. It never changes back; a worker is
//! dropped (its thread ends) when more than [`MOST_WORKERS`] are needed.
//!
//! Only a supervisor that may take on other credentials (effective uid 0, with `CAP_SETUID`,
//! `CAP_SETGID` and `CAP_SYS_ADMIN`: one started by root) uses workers; any other keeps giving a
//! caller of another identity its own TCP socket. What is still not the caller's: the cgroup
//! (a socket's cgroup is its maker's, and a thread cannot join a cgroup apart from its process)
//! and an LSM label; a caller in another cgroup still gets its own TCP socket.

use super::caller::{self, NamespaceKey};
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::mpsc::{self, Receiver, Sender};

/// Workers kept at once: past it, all are dropped and made again as needed.
const MOST_WORKERS: usize = 8;

/// A request to a worker: `socket(domain, ty, protocol)`, answered with the socket or the errno.
type Request = (libc::c_int, libc::c_int, libc::c_int);
type Reply = Result<OwnedFd, libc::c_int>;

struct Worker {
    requests: Sender<Request>,
    replies: Receiver<Reply>,
}

/// The workers, by the credential lines they carry and their network namespace.
#[derive(Default)]
pub struct Workers {
    workers: HashMap<(Vec<u8>, NamespaceKey), Worker>,
}

/// Ids read from `/proc/<tid>/status` credential lines: real, effective, saved, filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Credentials {
    uids: [libc::uid_t; 4],
    gids: [libc::gid_t; 4],
    groups: Vec<libc::gid_t>,
}

impl Credentials {
    /// Parses the `Uid:`, `Gid:` and `Groups:` lines.
    fn parse(lines: &[u8]) -> Option<Credentials> {
        let text = std::str::from_utf8(lines).ok()?;
        let mut uids = None;
        let mut gids = None;
        let mut groups = None;
        for line in text.lines() {
            let (key, rest) = line.split_once(':')?;
            let numbers: Option<Vec<u32>> =
                rest.split_whitespace().map(|n| n.parse().ok()).collect();
            let numbers = numbers?;
            match key {
                "Uid" => uids = Some(<[u32; 4]>::try_from(numbers).ok()?),
                "Gid" => gids = Some(<[u32; 4]>::try_from(numbers).ok()?),
                "Groups" => groups = Some(numbers),
                _ => return None,
            }
        }
        Some(Credentials {
            uids: uids?,
            gids: gids?,
            groups: groups?,
        })
    }

    /// Takes them on in the calling thread only (raw system calls): groups first, then group
    /// ids, then user ids (after which nothing else may be changed).
    fn take_on(&self) -> io::Result<()> {
        let check = |result: libc::c_long| {
            if result < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(())
            }
        };
        let [rgid, egid, sgid, fsgid] = self.gids;
        let [ruid, euid, suid, fsuid] = self.uids;
        // SAFETY: setgroups reads `groups.len()` ids from the vector, alive for the call; the
        // others take integers. Each changes the calling thread's credentials only.
        unsafe {
            check(libc::syscall(
                libc::SYS_setgroups,
                self.groups.len(),
                self.groups.as_ptr(),
            ))?;
            check(libc::syscall(libc::SYS_setresgid, rgid, egid, sgid))?;
            // setfsgid answers the previous id, never an error: the proof is read afterwards.
            libc::syscall(libc::SYS_setfsgid, fsgid);
            check(libc::syscall(libc::SYS_setresuid, ruid, euid, suid))?;
            libc::syscall(libc::SYS_setfsuid, fsuid);
        }
        Ok(())
    }
}

impl Workers {
    /// Whether this process may take on other credentials in a worker.
    pub fn possible() -> bool {
        // SAFETY: geteuid cannot fail.
        unsafe { libc::geteuid() == 0 }
    }

    /// A stream socket of `protocol` for `socket(domain, ty)` made with `credentials` (the
    /// caller's credential lines) inside `namespace`, the network namespace of thread `tid`. The
    /// outer error: no worker could take on those credentials there; the inner one, the
    /// kernel's errno.
    pub fn socket(
        &mut self,
        tid: u32,
        namespace: NamespaceKey,
        credentials: &[u8],
        (domain, ty, protocol): Request,
    ) -> io::Result<Reply> {
        let key = (credentials.to_vec(), namespace);
        if !self.workers.contains_key(&key) {
            if self.workers.len() >= MOST_WORKERS {
                self.workers.clear();
            }
            let worker = start(tid, namespace, credentials)?;
            self.workers.insert(key.clone(), worker);
        }
        let asked = self.workers.get(&key).and_then(|worker| {
            worker.requests.send((domain, ty, protocol)).ok()?;
            worker.replies.recv().ok()
        });
        match asked {
            Some(reply) => Ok(reply),
            None => {
                self.workers.remove(&key);
                Err(io::Error::other("the worker thread ended"))
            }
        }
    }
}

/// Starts a worker in thread `tid`'s network namespace (checked to be `namespace`) with
/// `credentials`, and waits until it has them, or says why it cannot.
fn start(tid: u32, namespace: NamespaceKey, credentials: &[u8]) -> io::Result<Worker> {
    let parsed = Credentials::parse(credentials)
        .ok_or_else(|| io::Error::other("unreadable credential lines"))?;
    let net = File::open(format!("/proc/{tid}/ns/net"))?;
    if NamespaceKey::of_file(&net)? != namespace {
        return Err(io::Error::from_raw_os_error(libc::ESTALE));
    }
    let (request_sender, requests) = mpsc::channel::<Request>();
    let (reply_sender, replies) = mpsc::channel::<Reply>();
    let (ready_sender, ready) = mpsc::channel::<io::Result<()>>();
    let expected = credentials.to_vec();
    std::thread::Builder::new()
        .name("mptcpize-worker".into())
        .spawn(move || {
            let became = crate::sys::enter_network_namespace(net.as_raw_fd())
                .and_then(|()| parsed.take_on())
                .and_then(|()| {
                    let own = caller::Identity::credentials_of_this_thread()?;
                    if own == expected {
                        Ok(())
                    } else {
                        Err(io::Error::other("its credentials read back otherwise"))
                    }
                });
            drop(net);
            let failed = became.is_err();
            if ready_sender.send(became).is_err() || failed {
                return;
            }
            for (domain, ty, protocol) in requests {
                if reply_sender
                    .send(caller::stream_socket(domain, ty, protocol))
                    .is_err()
                {
                    return;
                }
            }
        })?;
    ready
        .recv()
        .map_err(|_| io::Error::other("the worker thread ended"))??;
    Ok(Worker {
        requests: request_sender,
        replies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_lines_are_read_as_ids() {
        let lines = b"Uid:\t1\t2\t3\t4\nGid:\t5\t6\t7\t8\nGroups:\t9 10 ";
        assert_eq!(
            Credentials::parse(lines),
            Some(Credentials {
                uids: [1, 2, 3, 4],
                gids: [5, 6, 7, 8],
                groups: vec![9, 10],
            })
        );
        assert_eq!(
            Credentials::parse(b"Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t").map(|c| c.groups),
            Some(vec![])
        );
        assert_eq!(
            Credentials::parse(b"Uid:\t1\t2\t3\nGid:\t5\t6\t7\t8\nGroups:"),
            None
        );
        assert_eq!(Credentials::parse(b"Uid:\t1\t2\t3\t4\nGroups:\t"), None);
    }
}
