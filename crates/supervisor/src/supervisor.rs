//! The supervisor's loop: one answer per notified `socket()`, until no filtered task is left.
//!
//! It runs in a helper process of its own (see [`super::spawn`]), single-threaded, answering
//! calls one at a time in the order the kernel queues them. For each call it applies the
//! preload's rules: the same decision ([`crate::policy::decide`]), the same errno classes and
//! availability memory ([`crate::fallback`], kept here per network namespace, since
//! `net.mptcp.enabled` is a per-namespace setting), the same log lines. The caller's own call
//! (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`) is the answer whenever MPTCP cannot be had, or could only
//! be had with an identity that is not the caller's; in `force` mode those cases fail the call
//! instead (the kernel's errno, or `EPERM` for a foreign identity).

use super::caller::{self, HomeNamespace, Identity, NamespaceKey};
use super::listener::{Event, Listener, Notification};
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

pub struct Supervisor {
    listener: Listener,
    mode: Mode,
    /// The supervisor's own namespace, where it returns after each call made elsewhere.
    home: HomeNamespace,
    /// The supervisor's identity: a socket it makes carries this.
    identity: Identity,
    memory: HashMap<NamespaceKey, Availability>,
}

impl Supervisor {
    pub fn new(listener: Listener, mode: Mode) -> io::Result<Supervisor> {
        Ok(Supervisor {
            listener,
            mode,
            home: HomeNamespace::open()?,
            identity: Identity::of(None)?,
            memory: HashMap::new(),
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
        let strict = match policy::decide(self.mode, call.domain, call.ty, call.protocol) {
            Decision::Rewrite => false,
            Decision::RewriteStrict => true,
            // The filter asks only about calls the preload rewrites; anything else is the
            // caller's own call.
            Decision::Defer | Decision::PassThrough(_) => {
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
        let namespace = match NamespaceKey::of(call.tid) {
            Ok(namespace) => namespace,
            Err(error) => {
                cannot_read(error);
                return self.listener.answer_continue(call.id);
            }
        };
        if !strict
            && !self
                .availability(namespace)
                .should_try(call.domain, sys::monotonic_ms)
        {
            debug!("{} -> MPTCP known unavailable, TCP", describe(&call));
            return self.listener.answer_continue(call.id);
        }
        match Identity::of(Some(call.tid)) {
            Ok(identity) if identity == self.identity => {}
            Ok(_) => {
                let why = "the caller's credentials or cgroup differ from the supervisor's";
                return self.not_mptcp(&call, strict, libc::EPERM, why);
            }
            Err(error) => {
                cannot_read(error);
                return self.listener.answer_continue(call.id);
            }
        }
        // What was read under /proc/<tid> belongs to the caller only if the call still waits.
        if !self.listener.still_valid(call.id) {
            return Ok(());
        }
        let make = || caller::mptcp_socket(call.domain, call.ty);
        let made = match self.home.visit(call.tid, namespace, make)? {
            Ok(made) => made,
            Err(error) => {
                let errno = error.raw_os_error().unwrap_or(libc::EPERM);
                let why = "cannot enter the caller's network namespace";
                return self.not_mptcp(&call, strict, errno, why);
            }
        };
        let socket = match made {
            Ok(socket) => socket,
            Err(errno) => {
                if !strict {
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
                debug!("{} -> MPTCP fd {fd}", describe(&call));
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
