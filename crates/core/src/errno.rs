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
        _ => "errno",
    }
}
