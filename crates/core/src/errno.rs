//! Errno values as our messages name them (`ENOPROTOOPT`), and a name that prints without
//! allocating.

use libc::c_int;

/// An errno value, read right after the call that failed.
pub type Errno = c_int;

/// A fixed name in a log line or message, written as it is (no width or precision: formatting a plain `&str`
/// would bring core's padding code into the library for nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Name(pub &'static str);

impl core::fmt::Display for Name {
    fn fmt(&self, out: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        out.write_str(self.0)
    }
}

/// The symbolic name of the errno values we meet, for log lines.
pub fn errno_name(errno: Errno) -> Name {
    Name(errno_text(errno))
}

fn errno_text(errno: Errno) -> &'static str {
    match errno {
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::ENOPROTOOPT => "ENOPROTOOPT",
        libc::EINVAL => "EINVAL",
        libc::EPERM => "EPERM",
        libc::EACCES => "EACCES",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EMFILE => "EMFILE",
        libc::ENFILE => "ENFILE",
        libc::ENOBUFS => "ENOBUFS",
        libc::ENOMEM => "ENOMEM",
        libc::ENOSYS => "ENOSYS",
        libc::ESOCKTNOSUPPORT => "ESOCKTNOSUPPORT",
        libc::EPROTOTYPE => "EPROTOTYPE",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EBADF => "EBADF",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::ENOENT => "ENOENT",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISCONN => "EISCONN",
        libc::ENOTCONN => "ENOTCONN",
        _ => "errno",
    }
}

/// Whether descriptor 2 may take a log line, from what `getsockopt(2, SOL_SOCKET, SO_DOMAIN)`
/// answered: a file, a terminal or a pipe (`ENOTSOCK`) or a UNIX socket (journald's stream) is
/// a log; an IPv4 or IPv6 socket is a connection that a daemon which closed its stderr got on
/// fd 2, and a line written there would go to its peer; a closed descriptor takes nothing.
pub fn stderr_takes_logs(so_domain: Result<c_int, Errno>) -> bool {
    match so_domain {
        Ok(domain) => domain != libc::AF_INET && domain != libc::AF_INET6,
        Err(errno) => errno == libc::ENOTSOCK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_terminals_pipes_and_unix_sockets_take_logs() {
        assert!(stderr_takes_logs(Err(libc::ENOTSOCK)));
        assert!(stderr_takes_logs(Ok(libc::AF_UNIX)));
        assert!(!stderr_takes_logs(Ok(libc::AF_INET)));
        assert!(!stderr_takes_logs(Ok(libc::AF_INET6)));
        assert!(!stderr_takes_logs(Err(libc::EBADF)));
        assert_eq!(errno_name(libc::ENOPROTOOPT).to_string(), "ENOPROTOOPT");
    }
}
