//! Our log lines, formatted here and written by env_logger in a companion library loaded on
//! demand: a host that asks for no logs never loads it.
//!
//! The level test is one relaxed load ([`enabled`]); a line that passes it is formatted with
//! `core::fmt` into a fixed buffer on the stack (cut at [`LINE_BYTES`]) and handed, with its
//! module as the target, to `libmptcpize_rs_log.so` (see `crates/log/src/lib.rs`), which filters with
//! `MPTCPIZE_LOG`'s env_logger syntax, adds the `mptcpize-rs[PID]: LEVEL` prefix and writes to
//! stderr or `MPTCPIZE_LOG_FILE`, never to a descriptor we do not own.
//!
//! The companion is loaded at set-up when `MPTCPIZE_LOG` or `MPTCPIZE_LOG_FILE` is given or a
//! warning is due, and otherwise on the first warning; it is looked for next to this library
//! (found with `dladdr`: the installed `PREFIX/lib/mptcpize-rs/`, the `.deb`'s, a checkout's
//! `target/<profile>/`, or the directory above `deps/`). Where it cannot be loaded (copied
//! alone, or secure-execution mode, where we open nothing a user could have chosen) warnings
//! and errors still reach stderr, written here with the same prefix and the same checks on fd 2.
//! Nothing here allocates, and errno is kept.

use crate::config::Config;
use crate::sys;
use core::ffi::{CStr, c_void};
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use libc::c_int;

pub const ERROR: u8 = 1;
pub const WARN: u8 = 2;
pub const INFO: u8 = 3;
pub const DEBUG: u8 = 4;
pub const TRACE: u8 = 5;

/// The most verbose level that can pass; 0 (nothing) until set-up.
static MAX_LEVEL: AtomicU8 = AtomicU8::new(0);

/// Whether a line of `level` may be written: the whole cost of a line that is not.
#[inline(always)]
pub fn enabled(level: u8) -> bool {
    level <= MAX_LEVEL.load(Ordering::Relaxed)
}

/// `log_line!(LEVEL, "format", args…)`: formats and writes the line only when `LEVEL` is enabled.
macro_rules! log_line {
    ($level:expr, $($arg:tt)+) => {
        if $crate::logging::enabled($level) {
            $crate::logging::line($level, module_path!(), format_args!($($arg)+));
        }
    };
}
macro_rules! debug {
    ($($arg:tt)+) => { $crate::logging::log_line!($crate::logging::DEBUG, $($arg)+) };
}
macro_rules! info {
    ($($arg:tt)+) => { $crate::logging::log_line!($crate::logging::INFO, $($arg)+) };
}
macro_rules! warning {
    ($($arg:tt)+) => { $crate::logging::log_line!($crate::logging::WARN, $($arg)+) };
}
pub(crate) use {debug, info, log_line, warning};

/// The longest line handed over (longer ones are cut).
pub const LINE_BYTES: usize = 1024;

/// A line being formatted, on the stack.
struct Line {
    bytes: [u8; LINE_BYTES],
    len: usize,
}

impl Line {
    fn new() -> Line {
        Line {
            bytes: [0; LINE_BYTES],
            len: 0,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

impl Write for Line {
    /// Appends what fits, cutting at a character boundary.
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let room = LINE_BYTES.saturating_sub(self.len);
        let mut take = text.len().min(room);
        while take > 0 && !text.is_char_boundary(take) {
            take -= 1;
        }
        if let (Some(to), Some(from)) = (
            self.bytes.get_mut(self.len..self.len + take),
            text.as_bytes().get(..take),
        ) {
            to.copy_from_slice(from);
            self.len += take;
        }
        Ok(())
    }
}

/// The companion's C ABI (see `crates/log/src/lib.rs`).
type InitFn = unsafe extern "C" fn(*const u8, usize, *const u8, usize) -> u32;
type EnabledFn = unsafe extern "C" fn(u32, *const u8, usize) -> bool;
type LineFn = unsafe extern "C" fn(u32, *const u8, usize, *const u8, usize);

/// Where the companion stands: not tried yet, being loaded, loaded, or not to be had.
const UNTRIED: u8 = 0;
const LOADING: u8 = 1;
const READY: u8 = 2;
const UNAVAILABLE: u8 = 3;
static STATE: AtomicU8 = AtomicU8::new(UNTRIED);
/// The companion's `enabled` and `line`, published before [`STATE`] becomes [`READY`].
static ENABLED: AtomicUsize = AtomicUsize::new(0);
static LINE: AtomicUsize = AtomicUsize::new(0);

/// The companion library's file name.
const COMPANION: &[u8] = b"libmptcpize_rs_log.so";

/// Sets logging up for the process, once, from the configuration (called by the thread that
/// published it). `secure`: secure-execution mode, where no library is loaded.
pub fn init(config: &Config, secure: bool) {
    if secure {
        STATE.store(UNAVAILABLE, Ordering::Release);
    } else if config.log_filter.is_some() || config.log_file.is_some() || config.warning.is_some() {
        load(config.log_filter, config.log_file);
    }
    if STATE.load(Ordering::Acquire) != READY {
        // Warnings and errors pass: the first one loads the companion (or goes to stderr).
        MAX_LEVEL.store(WARN, Ordering::Relaxed);
    }
}

/// Loads the companion and sets it up with `filter` and `file`; only one thread ever does.
fn load(filter: Option<&[u8]>, file: Option<&[u8]>) {
    if STATE
        .compare_exchange(UNTRIED, LOADING, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return;
    }
    let Some(handle) = open_companion() else {
        STATE.store(UNAVAILABLE, Ordering::Release);
        return;
    };
    // SAFETY: dlsym with a live handle and NUL-terminated names; it only looks up.
    let (init, enabled, line) = unsafe {
        (
            libc::dlsym(handle, c"mptcpize_rs_log_init".as_ptr()),
            libc::dlsym(handle, c"mptcpize_rs_log_enabled".as_ptr()),
            libc::dlsym(handle, c"mptcpize_rs_log_line".as_ptr()),
        )
    };
    if init.is_null() || enabled.is_null() || line.is_null() {
        STATE.store(UNAVAILABLE, Ordering::Release);
        return;
    }
    // SAFETY: the symbol is the companion's `mptcpize_rs_log_init`, of type InitFn.
    let init = unsafe { core::mem::transmute::<*mut c_void, InitFn>(init) };
    let (filter_pointer, filter_len) = parts(filter);
    let (file_pointer, file_len) = parts(file);
    // SAFETY: each pointer is null or points to its length of bytes of the environment.
    let most_verbose = unsafe { init(filter_pointer, filter_len, file_pointer, file_len) };
    ENABLED.store(enabled as usize, Ordering::Relaxed);
    LINE.store(line as usize, Ordering::Relaxed);
    STATE.store(READY, Ordering::Release);
    MAX_LEVEL.store(
        u8::try_from(most_verbose).unwrap_or(u8::MAX),
        Ordering::Relaxed,
    );
}

fn parts(bytes: Option<&[u8]>) -> (*const u8, usize) {
    bytes.map_or((core::ptr::null(), 0), |b| (b.as_ptr(), b.len()))
}

/// `dlopen()`s the companion from this library's directory, or from the one above it when that
/// is cargo's `deps/`.
fn open_companion() -> Option<*mut c_void> {
    // SAFETY: Dl_info is plain data for which all-zero bytes are valid.
    let mut info: libc::Dl_info = unsafe { core::mem::zeroed() };
    // SAFETY: dladdr reads the address of one of our own functions and fills `info`.
    let found = unsafe { libc::dladdr(open_companion as *const c_void, &mut info) };
    if found == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dli_fname is the NUL-terminated path of the object holding that address.
    let ours = unsafe { CStr::from_ptr(info.dli_fname) }.to_bytes();
    let directory = ours.rsplit_once_slash()?;
    let mut path = [0u8; libc::PATH_MAX as usize];
    if let Some(handle) = try_open(&mut path, directory) {
        return Some(handle);
    }
    let parent = directory.strip_suffix(b"/deps")?;
    try_open(&mut path, parent)
}

/// `dlopen(DIRECTORY/libmptcpize_rs_log.so)`, the path built in `path`.
fn try_open(path: &mut [u8], directory: &[u8]) -> Option<*mut c_void> {
    let len = directory.len() + 1 + COMPANION.len();
    let (full, _) = path.split_at_mut_checked(len + 1)?;
    let (dir_part, rest) = full.split_at_mut(directory.len());
    dir_part.copy_from_slice(directory);
    let (slash, rest) = rest.split_first_mut()?;
    *slash = b'/';
    let (name, nul) = rest.split_at_mut(COMPANION.len());
    name.copy_from_slice(COMPANION);
    *nul.first_mut()? = 0;
    let path = CStr::from_bytes_with_nul(full).ok()?;
    // SAFETY: a NUL-terminated path; the library runs no code at load time that could
    // interfere with the host (env_logger is set up only through mptcpize_rs_log_init).
    let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    (!handle.is_null()).then_some(handle)
}

/// `dir/name` → `dir`.
trait RsplitSlash {
    fn rsplit_once_slash(&self) -> Option<&[u8]>;
}

impl RsplitSlash for [u8] {
    fn rsplit_once_slash(&self) -> Option<&[u8]> {
        let slash = self.iter().rposition(|&b| b == b'/')?;
        self.get(..slash)
    }
}

/// Writes one line of `level` from module `target` (errno kept). Called through the macros,
/// after [`enabled`] said yes.
#[cold]
#[inline(never)]
pub fn line(level: u8, target: &str, message: fmt::Arguments) {
    sys::keeping_errno(|| {
        if STATE.load(Ordering::Acquire) == UNTRIED {
            load(None, None);
        }
        let mut text = Line::new();
        if STATE.load(Ordering::Acquire) == READY {
            let enabled = ENABLED.load(Ordering::Relaxed);
            let line = LINE.load(Ordering::Relaxed);
            // SAFETY: both were stored from dlsym of these very symbols before READY.
            let (enabled, line) = unsafe {
                (
                    core::mem::transmute::<usize, EnabledFn>(enabled),
                    core::mem::transmute::<usize, LineFn>(line),
                )
            };
            // SAFETY: `target` is a live str; the companion only reads it.
            if !unsafe { enabled(u32::from(level), target.as_ptr(), target.len()) } {
                return;
            }
            let _ = text.write_fmt(message);
            let bytes = text.as_bytes();
            // SAFETY: live str and byte slice, read only for the call.
            unsafe {
                line(
                    u32::from(level),
                    target.as_ptr(),
                    target.len(),
                    bytes.as_ptr(),
                    bytes.len(),
                )
            };
        } else if level <= WARN {
            let _ = write!(text, "mptcpize-rs[{}]: ", sys::pid());
            let _ = text.write_str(level_name(level));
            let _ = write!(text, " {message}");
            to_stderr(&text);
        }
    });
}

fn level_name(level: u8) -> &'static str {
    match level {
        ERROR => "ERROR",
        WARN => "WARN",
        INFO => "INFO",
        DEBUG => "DEBUG",
        _ => "TRACE",
    }
}

/// One `write()` of the line and its newline to fd 2, if fd 2 is open and not an IPv4/IPv6
/// socket (a daemon that closed stderr may have its connection there; a UNIX socket, such as
/// journald's stream, is a log).
fn to_stderr(text: &Line) {
    let may_write = mptcpize_core::errno::stderr_takes_logs(sys::get_int_option(
        libc::STDERR_FILENO,
        libc::SOL_SOCKET,
        libc::SO_DOMAIN,
    ));
    if !may_write {
        return;
    }
    let mut bytes = [0u8; LINE_BYTES + 1];
    let body = text.as_bytes();
    let Some((head, tail)) = bytes.split_at_mut_checked(body.len()) else {
        return;
    };
    head.copy_from_slice(body);
    let Some(newline) = tail.first_mut() else {
        return;
    };
    *newline = b'\n';
    let whole = bytes.get(..=body.len()).unwrap_or_default();
    // SAFETY: a live byte slice; fd 2 was checked just before.
    unsafe {
        libc::write(
            libc::STDERR_FILENO as c_int,
            whole.as_ptr().cast(),
            whole.len(),
        )
    };
}
