//! Our env_logger set-up: quiet by default, never on stdout, never driven by the host's `RUST_LOG`.
//!
//! Where it runs: in our own programs (the launcher, the seccomp supervisor) and in the companion
//! library `libmptcpize_rs_log.so`, which the preload loads into a host process only when logs
//! are asked for or a warning must be shown; never in the preload itself (which is `no_std`).
//! One crate, so every line of the project has one format and one filter syntax.
//! `MPTCPIZE_LOG` is an env_logger filter (default `warn`), `MPTCPIZE_LOG_FILE` a file to append
//! to instead of stderr. Every line carries a `mptcpize-rs[pid]` prefix so it cannot be mistaken
//! for the host program's output. Set up once per process; a bad filter or an
//! unopenable file (a directory, a missing directory, a FIFO nobody reads) is reported on stderr
//! and replaced by the defaults, never fatal and never blocking.
//!
//! Never a write to a descriptor we do not own: before each line, [`Sink`] checks that fd 2 is
//! not a network socket (a daemon that closed stderr gets its next TCP socket on fd 2: a log line
//! there would be written into its connection), and that the log file's descriptor still is the
//! file we opened (a host running `close_range(3, ~0)` may reuse the number for its own file); if
//! not, the file is opened again, or the line is dropped.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::IntoRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The filter when `MPTCPIZE_LOG` is unset: real warnings only.
const DEFAULT_FILTER: &str = "warn";

/// Whether every directive of a filter can select some of our lines: a level (`debug`), or a
/// target of ours (`mptcpize_rs::rewrite=debug`). env_logger takes any other word as a target
/// (`verbose`, `yes`), which would silently log nothing; such a filter is reported instead.
fn names_ours(spec: &str) -> bool {
    let directives = spec.split('/').next().unwrap_or_default();
    directives
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .all(|directive| match directive.split_once('=') {
            Some((target, level)) => {
                target.trim().starts_with("mptcpize_rs")
                    && level.trim().parse::<log::LevelFilter>().is_ok()
            }
            None => {
                directive.parse::<log::LevelFilter>().is_ok()
                    || directive.starts_with("mptcpize_rs")
            }
        })
}

/// Installs our logger for this process (the first call wins; later calls do nothing), with the
/// filter and file of `MPTCPIZE_LOG` and `MPTCPIZE_LOG_FILE` (raw bytes, as in the environment);
/// returns the most verbose level it lets through.
pub fn init(filter: Option<&[u8]>, file: Option<&[u8]>) -> log::LevelFilter {
    let mut problems = Vec::new();
    let filter = filter.map(String::from_utf8_lossy);
    let filter = match filter.as_deref() {
        Some(spec) if env_filter::Builder::new().try_parse(spec).is_ok() && names_ours(spec) => {
            spec
        }
        Some(spec) => {
            problems.push(format!(
                "invalid MPTCPIZE_LOG={spec:?} (a level such as debug, or \
                 mptcpize_rs::MODULE=LEVEL); using {DEFAULT_FILTER}"
            ));
            DEFAULT_FILTER
        }
        None => DEFAULT_FILTER,
    };
    let mut builder = env_logger::Builder::new();
    builder.parse_filters(filter).format(|out, record| {
        writeln!(
            out,
            "mptcpize-rs[{}]: {} {}",
            sys::pid(),
            record.level(),
            record.args()
        )
    });
    let mut sink = Sink::Stderr;
    if let Some(path) = file {
        let path = Path::new(std::ffi::OsStr::from_bytes(path));
        match LogFile::open(path) {
            Ok(file) => sink = Sink::File(file),
            Err(error) => problems.push(format!(
                "cannot open MPTCPIZE_LOG_FILE={}: {error}; logging to stderr",
                path.display()
            )),
        }
    }
    builder.target(env_logger::Target::Pipe(Box::new(sink)));
    if builder.try_init().is_ok() {
        for problem in problems {
            log::warn!("{problem}");
        }
    }
    log::max_level()
}

/// Where log lines go, checked before every line.
enum Sink {
    Stderr,
    File(LogFile),
}

impl Write for Sink {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Stderr if stderr_is_a_log() => write_once(libc::STDERR_FILENO, line),
            Sink::Stderr => Ok(line.len()), // dropped: fd 2 is someone's connection
            Sink::File(file) => file.write(line),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Whether fd 2 may take a log line: open, and not an IPv4/IPv6 socket (a UNIX socket, such as
/// journald's stream, is a log).
fn stderr_is_a_log() -> bool {
    sys::keeping_errno(|| {
        mptcpize_core::errno::stderr_takes_logs(sys::get_int_option(
            libc::STDERR_FILENO,
            libc::SOL_SOCKET,
            libc::SO_DOMAIN,
        ))
    })
}

/// One `write()` of a whole line (lines are short: a partial write keeps what was written).
fn write_once(fd: libc::c_int, line: &[u8]) -> io::Result<usize> {
    sys::keeping_errno(|| {
        // SAFETY: `line` is a live slice; the descriptor was checked to be a log just before.
        unsafe { libc::write(fd, line.as_ptr().cast(), line.len()) };
    });
    Ok(line.len())
}

/// Our log file: its descriptor, and the identity (device, inode) of the file it must refer to.
struct LogFile {
    path: PathBuf,
    fd: libc::c_int,
    identity: (u64, u64),
}

impl LogFile {
    fn open(path: &Path) -> io::Result<LogFile> {
        // O_NONBLOCK: a FIFO with no reader fails at once (ENXIO) instead of hanging the host;
        // for a regular file it changes nothing. std opens with O_CLOEXEC.
        let file: File = OpenOptions::new()
            .append(true)
            .create(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)?;
        let metadata = file.metadata()?;
        Ok(LogFile {
            path: path.to_path_buf(),
            identity: (metadata.dev(), metadata.ino()),
            fd: file.into_raw_fd(),
        })
    }

    /// Whether our descriptor still refers to the file we opened.
    fn still_ours(&self) -> bool {
        sys::keeping_errno(|| {
            // SAFETY: struct stat is plain data for which all-zero bytes are valid.
            let mut stat: libc::stat = unsafe { core::mem::zeroed() };
            // SAFETY: fstat only writes the struct; a closed or reused number is what we test.
            let rc = unsafe { libc::fstat(self.fd, &mut stat) };
            rc == 0 && (stat.st_dev, stat.st_ino) == self.identity
        })
    }

    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        if !self.still_ours() {
            // The number was closed by the host (and maybe reused): never write to it or close
            // it; open the file again, or drop the line.
            match sys::keeping_errno(|| LogFile::open(&self.path)) {
                Ok(reopened) => *self = reopened,
                Err(_) => return Ok(line.len()),
            }
        }
        write_once(self.fd, line)
    }
}

/// What the logger needs of the system: a few libc calls (the preload's own `sys` is `no_std`
/// and resolves through `dlsym`, which the logger does not need).
mod sys {
    use libc::c_int;

    pub fn pid() -> i32 {
        // SAFETY: getpid cannot fail and has no preconditions.
        unsafe { libc::getpid() }
    }

    pub fn errno() -> c_int {
        // SAFETY: __errno_location always returns a valid pointer to this thread's errno.
        unsafe { *libc::__errno_location() }
    }

    /// Runs `f` and restores errno afterwards, so logging never changes what the host sees.
    pub fn keeping_errno<T>(f: impl FnOnce() -> T) -> T {
        let saved = errno();
        let result = f();
        // SAFETY: as in `errno()`.
        unsafe { *libc::__errno_location() = saved };
        result
    }

    /// An integer socket option (through the preload's `getsockopt`, which passes it on).
    pub fn get_int_option(fd: c_int, level: c_int, name: c_int) -> Result<c_int, c_int> {
        let mut value: c_int = 0;
        let mut len = size_of::<c_int>() as libc::socklen_t;
        // SAFETY: value/len describe a writable int, as getsockopt requires.
        let rc = unsafe { libc::getsockopt(fd, level, name, (&raw mut value).cast(), &mut len) };
        if rc < 0 { Err(errno()) } else { Ok(value) }
    }
}

#[cfg(test)]
mod tests {
    use super::names_ours;

    #[test]
    fn filters_that_select_nothing_of_ours_are_refused() {
        for good in [
            "debug",
            "WARN",
            "off",
            "mptcpize_rs=trace",
            "info,mptcpize_rs::rewrite=debug",
            "debug/socket",
        ] {
            assert!(names_ours(good), "{good}");
        }
        for bad in [
            "verbose",
            "yes",
            "debug,bogus",
            "other=debug",
            "mptcpize_rs=loud",
        ] {
            assert!(!names_ours(bad), "{bad}");
        }
    }
}
