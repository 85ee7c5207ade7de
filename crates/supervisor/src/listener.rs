//! The kernel's side of the conversation: installing the filter, and the notification listener.
//!
//! The filter is installed by the process that will become the program (so the program and
//! everything it starts inherit it) with `SECCOMP_FILTER_FLAG_NEW_LISTENER`, which hands back the
//! listener descriptor; the supervisor then answers each notification exactly once: with a
//! descriptor it made (`SECCOMP_IOCTL_NOTIF_ADDFD` + `SECCOMP_ADDFD_FLAG_SEND`, Linux ≥ 5.14, which
//! installs it and answers in one step), with `SECCOMP_USER_NOTIF_FLAG_CONTINUE` (the kernel runs
//! the caller's own call), or with an errno. Every `unsafe` block is one system call.

use crate::filter::Kind;
use libc::c_int;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Tells the kernel that a notified task which has been received may only be interrupted by a
/// fatal signal (Linux ≥ 5.19): otherwise a signal arriving while the supervisor works would
/// restart or fail the caller's `socket()` (`EINTR`), which the real call never does.
const WAIT_KILLABLE_RECV: libc::c_ulong = libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;

/// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` (linux/seccomp.h, Linux 6.6); `libc` lacks it.
const SYNC_WAKE_UP: libc::c_ulong = 1;

/// How the filter went in.
pub struct Installed {
    pub listener: OwnedFd,
    /// Whether `no_new_privs` had to be set (the caller lacks `CAP_SYS_ADMIN`): from now on,
    /// setuid/setgid/file-capability programs started under the filter gain nothing.
    pub no_new_privs: bool,
}

/// Installs `program` on the calling thread (and every thread, process and program it starts
/// afterwards) and returns the listener. Without `CAP_SYS_ADMIN` the kernel requires
/// `no_new_privs`, which is then set; with it, setuid programs keep working.
pub fn install(program: &[libc::sock_filter]) -> io::Result<Installed> {
    let fprog = libc::sock_fprog {
        len: u16::try_from(program.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?,
        filter: program.as_ptr().cast_mut(),
    };
    let attempt = |flags: libc::c_ulong| -> io::Result<OwnedFd> {
        // SAFETY: seccomp(2) reads `fprog` and the `len` instructions it points to, both alive for
        // the call; on success it returns a new descriptor that we own.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                flags,
                &raw const fprog,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor returned by the kernel, owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
    };
    let with_flags = |flags| match attempt(flags | WAIT_KILLABLE_RECV) {
        // Linux 5.14–5.18 do not know the flag: the same filter without it.
        Err(error) if error.raw_os_error() == Some(libc::EINVAL) => attempt(flags),
        other => other,
    };
    let new_listener = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
    match with_flags(new_listener) {
        Ok(listener) => Ok(Installed {
            listener,
            no_new_privs: false,
        }),
        Err(error) if error.raw_os_error() == Some(libc::EACCES) => {
            // SAFETY: prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) takes integers only.
            if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
                return Err(io::Error::last_os_error());
            }
            with_flags(new_listener).map(|listener| Installed {
                listener,
                no_new_privs: true,
            })
        }
        Err(error) => Err(error),
    }
}

/// One call waiting for our answer.
#[derive(Debug, Clone, Copy)]
pub struct Notification {
    pub id: u64,
    /// The calling thread, in the supervisor's PID namespace.
    pub tid: u32,
    /// The call: a native `socket()` or `setsockopt()`, or one that changes who the task is (see
    /// [`crate::filter`]).
    pub kind: Kind,
    pub number: c_int,
    /// `socket()`'s arguments; for `setsockopt()`: the descriptor, level and option name.
    pub domain: c_int,
    pub ty: c_int,
    pub protocol: c_int,
    /// `setsockopt()`'s value pointer (in the caller's memory) and length.
    pub value: u64,
    pub length: u32,
}

/// What waiting on the listener gave.
pub enum Event {
    /// A notification can be received.
    Ready,
    /// No filtered task is left: the supervisor's work is done.
    Gone,
}

/// The supervisor's end of the filter.
pub struct Listener(OwnedFd);

impl Listener {
    /// Takes the listener and asks for synchronous wake-ups (Linux ≥ 6.6: the answered caller
    /// runs on the supervisor's CPU at once, which shortens a notification's round trip by a few
    /// µs here;
    /// older kernels refuse the flag and keep the ordinary wake-up).
    pub fn new(fd: OwnedFd) -> Listener {
        // SAFETY: SECCOMP_IOCTL_NOTIF_SET_FLAGS takes its flags by value, not through a pointer.
        unsafe {
            libc::ioctl(
                fd.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS,
                SYNC_WAKE_UP,
            )
        };
        Listener(fd)
    }

    fn ioctl<T>(&self, request: libc::Ioctl, argument: *mut T) -> io::Result<c_int> {
        // SAFETY: every caller passes the request's own argument type, valid for the call.
        let rc = unsafe { libc::ioctl(self.0.as_raw_fd(), request, argument) };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(rc)
        }
    }

    /// Waits for a notification or for the last filtered task to go.
    pub fn wait(&self) -> io::Result<Event> {
        let mut poll = libc::pollfd {
            fd: self.0.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        loop {
            // SAFETY: one valid pollfd, no timeout.
            if unsafe { libc::poll(&mut poll, 1, -1) } >= 0 {
                break;
            }
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
        if poll.revents & libc::POLLIN != 0 {
            Ok(Event::Ready)
        } else {
            // POLLHUP: the filter has no user left; POLLERR/POLLNVAL cannot be recovered either.
            Ok(Event::Gone)
        }
    }

    /// Receives one notification; `None` when the caller went away in the meantime.
    pub fn receive(&self) -> io::Result<Option<Notification>> {
        // The kernel requires a zeroed structure.
        // SAFETY: seccomp_notif is plain old data, valid when zeroed.
        let mut notification: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        match self.ioctl(libc::SECCOMP_IOCTL_NOTIF_RECV, &mut notification) {
            Ok(_) => {}
            // ENOENT: the task was interrupted or killed before we got it; EINTR: a signal.
            Err(error) if matches!(error.raw_os_error(), Some(libc::ENOENT | libc::EINTR)) => {
                return Ok(None);
            }
            Err(error) => return Err(error),
        }
        // The arguments are `int`s: the low 32 bits are what the kernel reads.
        let int = |value: u64| value as u32 as c_int;
        Ok(Some(Notification {
            id: notification.id,
            tid: notification.pid,
            kind: crate::filter::kind(notification.data.arch, notification.data.nr),
            number: notification.data.nr,
            domain: int(notification.data.args[0]),
            ty: int(notification.data.args[1]),
            protocol: int(notification.data.args[2]),
            value: notification.data.args[3],
            length: notification.data.args[4] as u32,
        }))
    }

    /// Whether the notification still waits: also proves that the task we read about under
    /// `/proc/<tid>` since receiving it is the caller, not a new task that reused its number.
    pub fn still_valid(&self, id: u64) -> bool {
        let mut id = id;
        self.ioctl(libc::SECCOMP_IOCTL_NOTIF_ID_VALID, &mut id)
            .is_ok()
    }

    /// Installs `fd` in the caller as the result of its `socket()` (with `FD_CLOEXEC` when it
    /// asked for `SOCK_CLOEXEC`) and answers the notification; returns the caller's number.
    /// On failure the notification is still pending and must be answered otherwise.
    pub fn answer_with_fd(&self, id: u64, fd: RawFd, cloexec: bool) -> io::Result<c_int> {
        let mut addfd = libc::seccomp_notif_addfd {
            id,
            flags: libc::SECCOMP_ADDFD_FLAG_SEND as u32,
            srcfd: fd as u32,
            newfd: 0,
            newfd_flags: if cloexec { libc::O_CLOEXEC as u32 } else { 0 },
        };
        self.ioctl(libc::SECCOMP_IOCTL_NOTIF_ADDFD, &mut addfd)
    }

    /// Puts `fd` behind the caller's number `number` in place of what it held (the caller's call
    /// still waits, and must be answered after).
    pub fn replace_fd(&self, id: u64, fd: RawFd, number: RawFd, cloexec: bool) -> io::Result<()> {
        let mut addfd = libc::seccomp_notif_addfd {
            id,
            flags: libc::SECCOMP_ADDFD_FLAG_SETFD as u32,
            srcfd: fd as u32,
            newfd: number as u32,
            newfd_flags: if cloexec { libc::O_CLOEXEC as u32 } else { 0 },
        };
        self.ioctl(libc::SECCOMP_IOCTL_NOTIF_ADDFD, &mut addfd)
            .map(drop)
    }

    /// Answers the caller's call with success (0), without running it.
    pub fn answer_success(&self, id: u64) -> io::Result<()> {
        self.respond(id, 0, 0)
    }

    /// Lets the kernel run the caller's own call (a TCP socket).
    pub fn answer_continue(&self, id: u64) -> io::Result<()> {
        self.respond(id, 0, libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32)
    }

    /// Fails the caller's call with `errno`.
    pub fn answer_error(&self, id: u64, errno: c_int) -> io::Result<()> {
        self.respond(id, -errno, 0)
    }

    fn respond(&self, id: u64, error: i32, flags: u32) -> io::Result<()> {
        let mut response = libc::seccomp_notif_resp {
            id,
            val: 0,
            error,
            flags,
        };
        match self.ioctl(libc::SECCOMP_IOCTL_NOTIF_SEND, &mut response) {
            // ENOENT: the caller was interrupted or killed meanwhile; nobody is waiting.
            Err(error) if error.raw_os_error() == Some(libc::ENOENT) => Ok(()),
            other => other.map(drop),
        }
    }
}
