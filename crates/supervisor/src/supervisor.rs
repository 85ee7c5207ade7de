//! The supervisor's loop: one answer per notified `socket()`, until no filtered task is left.
//!
//! It runs in a helper process of its own (see [`super::spawn`]), single-threaded, answering
//! calls one at a time in the order the kernel queues them. For each call it applies the
//! preload's rules: the same decision ([`crate::policy::decide`]), the same errno classes and
//! availability memory ([`crate::fallback`], kept here per network namespace, since
//! `net.mptcp.enabled` is a per-namespace setting), the same log lines. The caller's own call
//! (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`) is the answer whenever MPTCP cannot be had, or could only
//! be had with an identity that is not the caller's; in `force` mode those cases fail the call
//! instead (the kernel's errno, or `EPERM` for a foreign identity). A caller whose credentials
//! differ from the supervisor's gets its socket from a worker thread that has taken them on,
//! when the supervisor may ([`super::workers`]: started by root); its cgroup must still be the
//! supervisor's.
//!
//! Reading a caller's credentials (`/proc/<tid>/status`) and namespace cost about half of each
//! call, so they are remembered per thread, with the thread's `/proc/<tid>/cgroup` held open
//! ([`caller::Task`]): a number reused by a new task never finds an old entry valid (reads
//! through the old file fail once its task is gone). A thread's credentials and network namespace
//! change only through its own calls, and the filter notifies each of them (`setuid()`…
//! `setgroups()`, `setns()`, `unshare()`, `execve()`, which may also hand a thread's number to
//! another): any such call forgets everything remembered before it runs. The cgroup, which
//! another process may change at any time, is read afresh on every call, through that file.

use super::caller::{self, HomeNamespace, Identity, NamespaceKey};
use super::filter::Kind;
use super::listener::{Event, Listener, Notification};
use super::switch::{self, Made};
use super::unchanged;
use super::workers::Workers;
use crate::config::Mode;
use crate::fallback::{self, Availability};
use crate::policy::{self, Decision};
use crate::sys;
use log::{debug, warn};
use std::collections::HashMap;
use std::io;

/// How many network namespaces' availability memories are kept (a program that makes thousands
/// of namespaces would otherwise grow the map forever); past it the memory starts afresh.
const REMEMBERED_NAMESPACES: usize = 64;
/// How many threads are remembered, each with a descriptor of its `/proc/<tid>/cgroup`; past it
/// the entries of threads that are gone are dropped, and if none are, all of them.
const REMEMBERED_TASKS: usize = 256;

pub struct Supervisor {
    listener: Listener,
    mode: Mode,
    /// The supervisor's own namespace, where it returns after each call made elsewhere.
    home: HomeNamespace,
    /// The supervisor's identity: a socket it makes carries this.
    identity: Identity,
    memory: HashMap<NamespaceKey, Availability>,
    /// By thread id (see the module's notes).
    tasks: HashMap<u32, caller::Opened>,
    /// Threads that make sockets with other credentials, when this process may take them on.
    workers: Option<Workers>,
    /// The sockets made here, which a refused option may switch to TCP.
    made: Made,
}

/// What the supervisor knows of a caller.
struct Known {
    namespace: NamespaceKey,
    /// Its credential lines, and whether they are the supervisor's.
    credentials: Vec<u8>,
    same_credentials: bool,
    /// Whether its cgroup is the supervisor's, read now.
    same_cgroup: bool,
}

impl Supervisor {
    pub fn new(listener: Listener, mode: Mode) -> io::Result<Supervisor> {
        Ok(Supervisor {
            listener,
            mode,
            home: HomeNamespace::open()?,
            identity: Identity::of(None)?,
            memory: HashMap::new(),
            tasks: HashMap::new(),
            workers: Workers::possible().then(Workers::default),
            made: Made::default(),
        })
    }

    /// Answers notifications until the last filtered task is gone. An error means the
    /// supervisor cannot go on safely (the listener failed, or it could not return to its own
    /// network namespace).
    pub fn serve(mut self) -> io::Result<()> {
        loop {
            match self.listener.wait()? {
                Event::Gone => return Ok(()),
                Event::Ready => {
                    if let Some(notification) = self.listener.receive()? {
                        self.answer(notification)?;
                    }
                }
            }
        }
    }

    fn answer(&mut self, call: Notification) -> io::Result<()> {
        if call.kind == Kind::Setsockopt {
            return self.option_refused(call);
        }
        if call.kind == Kind::Listen {
            return self.listening(call);
        }
        if call.kind == Kind::Identity {
            // The caller is about to change its credentials or program: forget every identity
            // read so far, then let the call run.
            debug!(
                "pid {}: system call {} may change who it is: identities forgotten",
                call.tid, call.number
            );
            self.tasks.clear();
            return self.listener.answer_continue(call.id);
        }
        let decision = policy::decide(self.mode, call.domain, call.ty, call.protocol);
        let (strict, protocol) = match decision {
            Decision::Rewrite => (false, libc::IPPROTO_MPTCP),
            Decision::RewriteStrict => (true, libc::IPPROTO_MPTCP),
            // listen mode: a TCP socket made here, so that listen() may switch it to MPTCP.
            Decision::Defer => (false, libc::IPPROTO_TCP),
            // The filter asks only about calls the preload rewrites; anything else is the
            // caller's own call.
            Decision::PassThrough(_) => {
                return self.listener.answer_continue(call.id);
            }
        };
        // The task is gone (or /proc is not readable): let the kernel answer for it.
        let cannot_read = |error: io::Error| {
            debug!(
                "{} -> cannot read /proc/{} ({error}): TCP",
                describe(&call),
                call.tid
            );
        };
        let known = match self.known(&call) {
            Ok(Some(known)) => known,
            // Gone meanwhile: nothing to answer.
            Ok(None) => return Ok(()),
            Err(error) => {
                cannot_read(error);
                return self.listener.answer_continue(call.id);
            }
        };
        let namespace = known.namespace;
        if !strict
            && protocol == libc::IPPROTO_MPTCP
            && !self
                .availability(namespace)
                .should_try(call.domain, sys::monotonic_ms)
        {
            debug!("{} -> MPTCP known unavailable, TCP", describe(&call));
            return self.listener.answer_continue(call.id);
        }
        if !known.same_cgroup {
            let why = "the caller's cgroup differs from the supervisor's";
            return self.not_mptcp(&call, strict, libc::EPERM, why);
        }
        let made = if known.same_credentials {
            let make = || caller::stream_socket(call.domain, call.ty, protocol);
            match self.home.visit(call.tid, namespace, make)? {
                Ok(made) => made,
                Err(error) => {
                    let errno = error.raw_os_error().unwrap_or(libc::EPERM);
                    let why = "cannot enter the caller's network namespace";
                    return self.not_mptcp(&call, strict, errno, why);
                }
            }
        } else {
            let Some(workers) = self.workers.as_mut() else {
                let why = "the caller's credentials differ from the supervisor's, which cannot \
                           take them on (not root)";
                return self.not_mptcp(&call, strict, libc::EPERM, why);
            };
            let request = (call.domain, call.ty, protocol);
            let asked = workers.socket(call.tid, namespace, &known.credentials, request);
            match asked {
                Ok(made) => made,
                Err(error) => {
                    let why = format!("no worker can take on the caller's credentials ({error})");
                    return self.not_mptcp(&call, strict, libc::EPERM, &why);
                }
            }
        };
        let socket = match made {
            Ok(socket) => socket,
            Err(errno) => {
                if !strict && protocol == libc::IPPROTO_MPTCP {
                    let now = sys::monotonic_ms();
                    self.availability(namespace).record(
                        call.domain,
                        fallback::classify(errno),
                        now,
                    );
                }
                return self.not_mptcp(&call, strict, errno, "MPTCP refused");
            }
        };
        let cloexec = call.ty & libc::SOCK_CLOEXEC != 0;
        match self.listener.answer_with_fd(
            call.id,
            std::os::fd::AsRawFd::as_raw_fd(&socket),
            cloexec,
        ) {
            Ok(fd) => {
                let made = if protocol == libc::IPPROTO_MPTCP {
                    "MPTCP"
                } else {
                    "TCP until listen()"
                };
                debug!("{} -> {made} fd {fd}", describe(&call));
                self.made.remember(&socket);
                Ok(())
            }
            // The caller was interrupted or killed meanwhile.
            Err(error) if error.raw_os_error() == Some(libc::ENOENT) => Ok(()),
            // EMFILE and the like: the caller's own call meets the same limit, and reports it.
            Err(error) => {
                debug!(
                    "{} -> cannot install the MPTCP socket ({error}): the caller's own call",
                    describe(&call)
                );
                self.listener.answer_continue(call.id)
            }
        }
    }

    /// `setsockopt(fd, level, name)` of an option this kernel's MPTCP refuses before a socket
    /// starts: a socket made here that never started becomes TCP first ([`switch`]), as the
    /// preload does (not in `force` mode, which keeps MPTCP and its refusals); then the call
    /// runs, on whichever socket the number holds.
    fn option_refused(&mut self, call: Notification) -> io::Result<()> {
        let (fd, level, name) = (call.domain, call.ty, call.protocol);
        let what = format!(
            "pid {}: setsockopt(fd {fd}, level {level}, option {name})",
            call.tid
        );
        if self.mode == Mode::Force {
            return self.listener.answer_continue(call.id);
        }
        let known = match self.known(&call) {
            Ok(Some(known)) => known,
            Ok(None) => return Ok(()),
            Err(_) => return self.listener.answer_continue(call.id),
        };
        if !known.same_cgroup {
            debug!("{what}: MPTCP refuses it; not switched: the caller's cgroup is not ours");
            return self.listener.answer_continue(call.id);
        }
        let receive_buffer =
            level == libc::SOL_SOCKET && (name == libc::SO_RCVBUF || name == libc::SO_RCVBUFFORCE);
        if self.switch(&call, fd, libc::IPPROTO_TCP, &known, &what) || receive_buffer {
            // A receive buffer MPTCP takes: the call runs as it is.
            return self.listener.answer_continue(call.id);
        }
        // Not switched: a value that changes nothing succeeds, as over TCP.
        let unchanged_call = unchanged::Call {
            id: call.id,
            tid: call.tid,
            fd,
            level,
            name,
            value: call.value,
            length: call.length,
        };
        let (home, workers) = (&self.home, &mut self.workers);
        let tcp_default =
            |domain| socket_where(home, workers, call.tid, &known, domain, libc::IPPROTO_TCP);
        match unchanged::changes_nothing(&self.listener, &unchanged_call, tcp_default) {
            Ok(true) => {
                debug!("{what}: a value that changes nothing: success, as over TCP");
                self.listener.answer_success(call.id)
            }
            _ => self.listener.answer_continue(call.id),
        }
    }

    /// `listen(fd)` in a direction mode: in `listen`, a TCP socket made here becomes MPTCP; in
    /// `connect`, an MPTCP one becomes TCP ([`switch`], the preload's rules). Then it runs.
    fn listening(&mut self, call: Notification) -> io::Result<()> {
        let fd = call.domain;
        let what = format!("pid {}: listen(fd {fd})", call.tid);
        let protocol = match self.mode {
            Mode::Listen => libc::IPPROTO_MPTCP,
            Mode::Connect => libc::IPPROTO_TCP,
            _ => return self.listener.answer_continue(call.id),
        };
        let known = match self.known(&call) {
            Ok(Some(known)) => known,
            Ok(None) => return Ok(()),
            Err(_) => return self.listener.answer_continue(call.id),
        };
        if !known.same_cgroup {
            debug!("{what}: not switched: the caller's cgroup is not ours");
            return self.listener.answer_continue(call.id);
        }
        self.switch(&call, fd, protocol, &known, &what);
        self.listener.answer_continue(call.id)
    }

    /// Switches the caller's `fd` to `protocol`, the new socket made where the caller's own
    /// would be; says what happened in the log. Whether it switched.
    fn switch(
        &mut self,
        call: &Notification,
        fd: i32,
        protocol: i32,
        known: &Known,
        what: &str,
    ) -> bool {
        let (home, workers, made) = (&self.home, &mut self.workers, &mut self.made);
        let make =
            |domain, protocol| socket_where(home, workers, call.tid, known, domain, protocol);
        let name = if protocol == libc::IPPROTO_TCP {
            "TCP"
        } else {
            "MPTCP"
        };
        match switch::to(protocol, &self.listener, call.id, call.tid, fd, made, make) {
            Ok(()) => {
                debug!("{what}: fd {fd} is now {name}");
                true
            }
            Err(reason) => {
                debug!("{what}: as it is ({reason})");
                false
            }
        }
    }

    /// The caller's network namespace and whether its credentials and cgroup are the
    /// supervisor's: from memory while the thread read before is still there (its cgroup read
    /// now), else read afresh and remembered. `None` when the call no longer waits (the number
    /// may belong to another task).
    fn known(&mut self, call: &Notification) -> io::Result<Option<Known>> {
        let of = |opened: &caller::Opened, same_cgroup| Known {
            namespace: opened.namespace,
            credentials: opened.credentials.clone(),
            same_credentials: opened.same_credentials,
            same_cgroup,
        };
        if let Some(known) = self.tasks.get(&call.tid) {
            match self.identity.cgroup_matches(&known.task) {
                Ok(cgroup) => {
                    return Ok(Some(of(known, cgroup)));
                }
                // That task is gone: the number is another task's now.
                Err(_) => {
                    self.tasks.remove(&call.tid);
                }
            }
        }
        let opened = caller::Task::open(call.tid, &self.identity)?;
        let cgroup = self.identity.cgroup_matches(&opened.task)?;
        // What was read belongs to the caller only if the call still waits.
        if !self.listener.still_valid(call.id) {
            return Ok(None);
        }
        let answer = of(&opened, cgroup);
        if self.tasks.len() >= REMEMBERED_TASKS {
            let identity = &self.identity;
            self.tasks
                .retain(|_, known| identity.cgroup_matches(&known.task).is_ok());
            if self.tasks.len() >= REMEMBERED_TASKS {
                self.tasks.clear();
            }
        }
        self.tasks.insert(call.tid, opened);
        Ok(Some(answer))
    }

    /// Answers a call that gets no MPTCP socket: its own TCP call, or in `force` mode `errno`.
    fn not_mptcp(
        &self,
        call: &Notification,
        strict: bool,
        errno: libc::c_int,
        why: &str,
    ) -> io::Result<()> {
        let errno_name = sys::errno_name(errno);
        if strict {
            warn!("{} -> {why} ({errno_name}): failed (force)", describe(call));
            self.listener.answer_error(call.id, errno)
        } else {
            debug!("{} -> {why} ({errno_name}): TCP", describe(call));
            self.listener.answer_continue(call.id)
        }
    }

    /// The availability memory of one network namespace.
    fn availability(&mut self, namespace: NamespaceKey) -> &Availability {
        if self.memory.len() >= REMEMBERED_NAMESPACES && !self.memory.contains_key(&namespace) {
            self.memory.clear();
        }
        self.memory.entry(namespace).or_default()
    }
}

/// A stream socket of `protocol` and family `domain`, made where thread `tid`'s own would be:
/// in its network namespace, with its credentials (here, or by a worker).
fn socket_where(
    home: &HomeNamespace,
    workers: &mut Option<Workers>,
    tid: u32,
    known: &Known,
    domain: libc::c_int,
    protocol: libc::c_int,
) -> io::Result<std::os::fd::OwnedFd> {
    let ty = libc::SOCK_STREAM;
    let made = if known.same_credentials {
        let make = || caller::stream_socket(domain, ty, protocol);
        home.visit(tid, known.namespace, make)??
    } else {
        let workers = workers
            .as_mut()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EPERM))?;
        let request = (domain, ty, protocol);
        workers.socket(tid, known.namespace, &known.credentials, request)?
    };
    made.map_err(io::Error::from_raw_os_error)
}

/// `pid 42: socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, 0)`, for log lines.
fn describe(call: &Notification) -> String {
    format!(
        "pid {}: socket({}, {}, {})",
        call.tid,
        policy::family_name(call.domain),
        policy::type_name(call.ty),
        call.protocol
    )
}
