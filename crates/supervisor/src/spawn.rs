//! The process shape: the program keeps the launcher's process, the supervisor is nobody's child.
//!
//! ```text
//! launcher ──fork──> intermediate ──fork──> supervisor (setsid; waits for the listener)
//!    │                    └─ exits at once: the launcher reaps it
//!    ├─ installs the filter, gets the listener, sends it over a socketpair (SCM_RIGHTS)
//!    ├─ waits for the supervisor's "ready"
//!    └─ execs the program (same PID; exit status and signals its own)
//! ```
//! The supervisor is forked before the filter exists, so it is not filtered itself; it is
//! reparented to init (or the nearest subreaper) when the intermediate exits, so a program that
//! waits for any child never meets it; `setsid` takes it out of the program's session and
//! process group, so ^C or `kill -TERM -PGID` aimed at the program do not reach it. It lives
//! until the kernel reports that no task uses the filter any more (`POLLHUP`): the program and
//! everything it started are gone. It keeps no descriptor of the program's but the listener
//! (stdin and stdout are /dev/null; stderr too, unless it logs there), and sits in `/`.

use super::listener::{self, Listener};
use super::supervisor::Supervisor;
use crate::config::{Config, Mode};
use crate::{logging, sys};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// How long the launcher waits for the supervisor to say it is ready.
const READY_TIMEOUT_MS: libc::c_int = 10_000;
/// The byte the supervisor sends once it runs (before the filter exists: if it never comes, the
/// launcher can still give up cleanly).
const ALIVE: u8 = b'A';
/// The byte the supervisor sends once it holds the listener.
const READY: u8 = b'R';

/// What the launcher needs to know after starting the supervisor.
pub struct Started {
    /// Whether `no_new_privs` was set (no `CAP_SYS_ADMIN`).
    pub no_new_privs: bool,
}

/// Why the supervisor did not start, and whether this process is filtered already.
pub struct NotStarted {
    pub error: io::Error,
    /// The filter is installed: this process cannot make TCP sockets any more (ENOSYS without a
    /// supervisor), so it must not run the program. When false nothing changed here.
    pub filtered: bool,
}

/// Starts the supervisor and installs the filter on the calling process. On success the caller
/// must exec the program next (any `socket()` it makes meanwhile goes through the supervisor too);
/// on failure it must not when the filter is installed already, but report and exit.
pub fn start(mode: Mode, log: Config) -> Result<Started, NotStarted> {
    let before = |error| NotStarted {
        error,
        filtered: false,
    };
    let after = |error| NotStarted {
        error,
        filtered: true,
    };
    let (launcher_end, supervisor_end) = socket_pair().map_err(before)?;
    // SAFETY: fork() in the launcher, which is single-threaded at this point; the child only
    // forks again and exits (async-signal-safe), and the grandchild runs on its own.
    match unsafe { libc::fork() } {
        -1 => return Err(before(io::Error::last_os_error())),
        0 => {
            // SAFETY: as above.
            if unsafe { libc::fork() } == 0 {
                drop(launcher_end);
                let status = run_supervisor(supervisor_end, mode, log);
                // SAFETY: _exit ends this process without running the launcher's atexit handlers.
                unsafe { libc::_exit(status) };
            }
            // SAFETY: the intermediate's only job is done.
            unsafe { libc::_exit(0) };
        }
        intermediate => {
            drop(supervisor_end);
            let mut status = 0;
            // SAFETY: waiting for the child we just forked; `status` is a valid int.
            while unsafe { libc::waitpid(intermediate, &mut status, 0) } < 0
                && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
            {}
        }
    }
    expect(&launcher_end, ALIVE).map_err(before)?;
    // A filter that is not installed changes nothing (EBUSY: this process is supervised already,
    // by a filter of its own ancestors, which keeps serving it).
    let directions = matches!(mode, Mode::Listen | Mode::Connect);
    let program = super::filter::program(&super::refused::this_kernel(), directions);
    let installed = listener::install(&program).map_err(before)?;
    // From here on this process is filtered: a failure leaves it unable to make TCP sockets
    // (ENOSYS without a listener), so the caller must not exec the program after one.
    send_fd(&launcher_end, installed.listener.as_raw_fd()).map_err(after)?;
    drop(installed.listener);
    expect(&launcher_end, READY).map_err(after)?;
    Ok(Started {
        no_new_privs: installed.no_new_privs,
    })
}

/// The supervisor process, start to end; returns its exit status.
fn run_supervisor(channel: OwnedFd, mode: Mode, log: Config) -> libc::c_int {
    // SAFETY: setsid and chdir take no pointers but a NUL-terminated literal.
    unsafe {
        libc::setsid();
        libc::chdir(c"/".as_ptr());
    }
    let logs_to_stderr = log.log_filter.is_some() && log.log_file.is_none();
    // A launcher started with stdin (or another standard descriptor) closed hands out its
    // number: move ours above them before pointing 0-2 at /dev/null.
    let Ok(channel) = above_stdio(channel) else {
        return 1;
    };
    send_byte(&channel, ALIVE);
    let listener = match receive_fd(&channel).and_then(|fd| fd.map(above_stdio).transpose()) {
        Ok(Some(fd)) => fd,
        // The launcher gave up before installing the filter: nothing to supervise.
        Ok(None) | Err(_) => return 0,
    };
    if let Err(error) = keep_only(&listener, &channel, logs_to_stderr) {
        eprintln!("mptcpize-rs[{}]: supervisor: {error}", sys::pid());
        return 1;
    }
    logging::init(log.log_filter, log.log_file);
    let supervisor = match Supervisor::new(Listener::new(listener), mode) {
        Ok(supervisor) => supervisor,
        Err(error) => {
            log::error!("seccomp supervisor cannot start: {error}");
            return 1;
        }
    };
    log::debug!("seccomp supervisor ready (mode {mode:?})");
    send_byte(&channel, READY);
    drop(channel);
    match supervisor.serve() {
        Ok(()) => {
            log::debug!("seccomp supervisor: no filtered process left, exiting");
            0
        }
        Err(error) => {
            log::error!("seccomp supervisor stops: {error}");
            1
        }
    }
}

/// Points stdin, stdout (and stderr unless it is our log) at /dev/null and closes every other
/// descriptor inherited from the launcher but the listener and the channel.
fn keep_only(listener: &OwnedFd, channel: &OwnedFd, keep_stderr: bool) -> io::Result<()> {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    let mut targets = vec![libc::STDIN_FILENO, libc::STDOUT_FILENO];
    if !keep_stderr {
        targets.push(libc::STDERR_FILENO);
    }
    for target in targets {
        // SAFETY: dup2 onto a standard descriptor number from a descriptor we hold.
        if unsafe { libc::dup2(null.as_raw_fd(), target) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    drop(null);
    let keep = [listener.as_raw_fd(), channel.as_raw_fd()];
    // Everything above stderr that is not ours: the launcher's (and so the program's) other files.
    let mut first = 3;
    let mut kept = keep;
    kept.sort_unstable();
    for fd in kept {
        close_range(first, fd - 1);
        first = fd + 1;
    }
    close_range(first, RawFd::MAX);
    Ok(())
}

/// `fd` itself if it is above stderr, else a copy that is (close-on-exec), the original closed.
fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > libc::STDERR_FILENO {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC on a descriptor we own returns a new one numbered 3 or above.
    let copy = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if copy < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(copy) })
}

fn close_range(first: RawFd, last: RawFd) {
    if first <= last {
        // SAFETY: closing descriptors this process does not use (the caller keeps its own out
        // of the range).
        unsafe {
            libc::syscall(
                libc::SYS_close_range,
                first as libc::c_uint,
                last as libc::c_uint,
                0,
            )
        };
    }
}

fn socket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    // SAFETY: `fds` has room for the two descriptors socketpair writes.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: two fresh descriptors, owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Room for one descriptor in a control message, aligned as `cmsghdr` needs.
#[repr(C)]
union FdControl {
    header: libc::cmsghdr,
    bytes: [u8; 32],
}

fn send_fd(channel: &OwnedFd, fd: RawFd) -> io::Result<()> {
    let mut byte = 0u8;
    let mut iov = libc::iovec {
        iov_base: (&raw mut byte).cast(),
        iov_len: 1,
    };
    let mut control = FdControl { bytes: [0; 32] };
    // SAFETY: msghdr is plain old data; the fields we need are set below.
    let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
    message.msg_iov = &mut iov;
    message.msg_iovlen = 1;
    message.msg_control = (&raw mut control).cast();
    // SAFETY: CMSG_SPACE is arithmetic on a constant size.
    message.msg_controllen = unsafe { libc::CMSG_SPACE(size_of::<RawFd>() as u32) } as usize;
    // SAFETY: msg_control points to `control`, large and aligned enough for one cmsghdr and an
    // int; CMSG_FIRSTHDR/CMSG_DATA stay inside it.
    unsafe {
        let header = libc::CMSG_FIRSTHDR(&message);
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN(size_of::<RawFd>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(header).cast::<RawFd>(), fd);
    }
    // SAFETY: `message` and everything it points to are alive for the call.
    if unsafe { libc::sendmsg(channel.as_raw_fd(), &message, libc::MSG_NOSIGNAL) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The descriptor sent over `channel`, or `None` when the launcher closed its end instead.
fn receive_fd(channel: &OwnedFd) -> io::Result<Option<OwnedFd>> {
    let mut byte = 0u8;
    let mut iov = libc::iovec {
        iov_base: (&raw mut byte).cast(),
        iov_len: 1,
    };
    let mut control = FdControl { bytes: [0; 32] };
    // SAFETY: msghdr is plain old data; the fields we need are set below.
    let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
    message.msg_iov = &mut iov;
    message.msg_iovlen = 1;
    message.msg_control = (&raw mut control).cast();
    message.msg_controllen = size_of::<FdControl>();
    let received = loop {
        // SAFETY: `message` and its buffers are alive and writable for the call.
        let received =
            unsafe { libc::recvmsg(channel.as_raw_fd(), &mut message, libc::MSG_CMSG_CLOEXEC) };
        if received >= 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            break received;
        }
    };
    if received < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel filled msg_control; CMSG_FIRSTHDR returns null or a header inside it.
    unsafe {
        let header = libc::CMSG_FIRSTHDR(&message);
        if received == 0
            || header.is_null()
            || (*header).cmsg_level != libc::SOL_SOCKET
            || (*header).cmsg_type != libc::SCM_RIGHTS
        {
            return Ok(None);
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(header).cast::<RawFd>());
        Ok(Some(OwnedFd::from_raw_fd(fd)))
    }
}

fn send_byte(channel: &OwnedFd, byte: u8) {
    // SAFETY: writing one byte from a live buffer to our end of the pair. A failure shows on
    // the other end as a missing byte.
    unsafe { libc::write(channel.as_raw_fd(), (&raw const byte).cast(), 1) };
}

/// Waits (bounded) for the supervisor to send `expected`.
fn expect(channel: &OwnedFd, expected: u8) -> io::Result<()> {
    let mut poll = libc::pollfd {
        fd: channel.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let ready = unsafe { libc::poll(&mut poll, 1, READY_TIMEOUT_MS) };
    let mut byte = 0u8;
    // SAFETY: reading at most one byte into a live buffer.
    if ready == 1
        && unsafe { libc::read(channel.as_raw_fd(), (&raw mut byte).cast(), 1) } == 1
        && byte == expected
    {
        Ok(())
    } else {
        Err(io::Error::other("the supervisor process did not answer"))
    }
}
