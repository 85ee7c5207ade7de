//! Programs this process starts that the preload cannot reach — static, musl, Go before 1.21
//! ([`mptcpize_core::program`]) — are handed to the seccomp supervisor on the way: an `execve()`
//! (and `execv`, `execvp`, `execvpe`, `posix_spawn`, `posix_spawnp`) of such a program runs
//! `mptcpize-rs-seccomp --path FILE -- ARGV…` instead, the helper installed beside this library,
//! which starts a supervisor, installs the filter and execs FILE with the same arguments and
//! environment (same PID). So a Go 1.19 server started by a shell script, or a static tool run
//! by a Python program, gets MPTCP as the script did.
//!
//! The rule follows the environment the new program gets, as a dynamic program's reach does:
//! only when it still names this library in `LD_PRELOAD` (so `env -i` leaves the program alone)
//! and its mode is not `off` (in `listen` and `connect`, a Go program before 1.24 is handed over
//! too: its `GODEBUG` has no such values). Never in secure-execution mode (a setuid program
//! picks nothing a user chose), and never a setuid/setgid or file-capability program when not
//! root (the filter's `no_new_privs` would run it without its privileges). When anything is
//! missing — the helper, a readable file, room for the arguments — or the helper's exec fails,
//! the program's own call runs as it would without us; the log says why. A script is what its `#!` interpreter is (a busybox `sh`
//! script is handed over). Only `exec` pays for this: a program's headers are read (five reads,
//! six for Go; a script's interpreter's too), and nothing is allocated (paths and the argument vector are built on the stack,
//! which is also safe in a `vfork()` child).

use crate::logging::info;
use crate::{setup, sys};
use core::ffi::{CStr, c_char};
use mptcpize_core::config::{Config, Mode};
use mptcpize_core::program::{self, Program, ReadAt};

/// The helper's file name, looked up beside this library (and above cargo's `deps/`).
const HELPER: &[u8] = b"mptcpize-rs-seccomp";
/// This library's file name, looked for in the new program's `LD_PRELOAD`.
const LIBRARY: &[u8] = b"libmptcpize_rs.so";
/// The longest argument vector handed over (pointers on the stack: 4 KiB).
const MOST_ARGUMENTS: usize = 500;
/// The helper's own arguments before the program's: its path, `--path`, FILE, `--`.
const HELPER_ARGUMENTS: usize = 4;
const PATH_BYTES: usize = libc::PATH_MAX as usize;

/// The argument vector for the helper, built on the stack.
pub struct HandOver {
    helper: [u8; PATH_BYTES],
    argv: [*const c_char; HELPER_ARGUMENTS + MOST_ARGUMENTS + 1],
}

/// Room for the helper's path and argument vector (12 KiB of stack with [`Searched`]).
impl Default for HandOver {
    fn default() -> HandOver {
        HandOver {
            helper: [0; PATH_BYTES],
            argv: [core::ptr::null(); HELPER_ARGUMENTS + MOST_ARGUMENTS + 1],
        }
    }
}

impl HandOver {
    /// The helper's path (NUL-terminated), to exec.
    pub fn helper(&self) -> *const c_char {
        self.helper.as_ptr().cast()
    }

    /// The helper's argument vector (NULL-terminated), to exec.
    pub fn argv(&self) -> *const *const c_char {
        self.argv.as_ptr()
    }
}

/// What to exec instead of `file` run with `argv` and `envp` (`None`: the caller's own call).
/// `file` is the program's path as the exec will open it.
///
/// # Safety
/// `file` is a NUL-terminated string, `argv` and `envp` NULL-terminated arrays of them (`envp`
/// may be null: then this process's environment is the new program's).
pub unsafe fn hand_over(
    file: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
    out: &mut HandOver,
) -> Option<()> {
    if file.is_null() || argv.is_null() || sys::secure_execution() {
        return None;
    }
    // SAFETY: the caller's contract.
    let environment = unsafe { Environment::of(envp) };
    let config = Config::from_lookup(|name| environment.get(name.to_bytes()), false);
    if config.mode == Mode::Off || !environment.preloads_us() {
        return None;
    }
    // SAFETY: the caller's contract.
    let path = unsafe { CStr::from_ptr(file) };
    let kind = sys::keeping_errno(|| inspect(path))?;
    if !kind.needs_supervisor_in(config.mode) || sys::keeping_errno(|| gains_privileges(path)) {
        return None;
    }
    // Only now, with something to log: the set-up reads this process's own settings (the log
    // among them) once, and a process that only runs reachable programs never pays for it.
    setup::mode();
    let shown = Shown(path.to_bytes());
    if sys::keeping_errno(|| find_helper(&mut out.helper)).is_none() {
        info!(
            "execve({shown}): {kind:?}, which only the seccomp supervisor reaches, but {} is not beside this library",
            Shown(HELPER)
        );
        return None;
    }
    let mut count = 0;
    // SAFETY: `argv` is NULL-terminated (the caller's contract); at most MOST_ARGUMENTS + 1 read.
    while count <= MOST_ARGUMENTS && !unsafe { *argv.add(count) }.is_null() {
        count += 1;
    }
    if count > MOST_ARGUMENTS {
        info!(
            "execve({shown}): more than {MOST_ARGUMENTS} arguments; not handed to the supervisor"
        );
        return None;
    }
    let [
        helper,
        path_option,
        path_value,
        end_of_options,
        program @ ..,
    ] = &mut out.argv;
    *helper = out.helper.as_ptr().cast();
    *path_option = c"--path".as_ptr();
    *path_value = file;
    *end_of_options = c"--".as_ptr();
    for (index, slot) in program.iter_mut().take(count).enumerate() {
        // SAFETY: index < count, within the caller's array.
        *slot = unsafe { *argv.add(index) };
    }
    if count == 0 {
        // No argv[0] at all: the helper needs one to pass on; the file's name stands in.
        *program.first_mut()? = file;
        count = 1;
    }
    *program.get_mut(count)? = core::ptr::null();
    let helper_path = out.helper.split(|&b| b == 0).next().unwrap_or_default();
    info!(
        "execve({shown}): {kind:?}, which only the seccomp supervisor reaches: through {}",
        Shown(helper_path)
    );
    Some(())
}

/// Whether exec'ing `path` would raise privileges (setuid/setgid bits or file capabilities) for
/// a process that is not root: under the filter's `no_new_privs` it would run without them, so
/// it is left to run as it would without us.
fn gains_privileges(path: &CStr) -> bool {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return false;
    }
    // SAFETY: a zeroed stat is valid; `path` is NUL-terminated and stat fills `status`.
    let mut status: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::stat(path.as_ptr(), &mut status) } != 0 {
        return true; // cannot tell: leave it alone
    }
    // SAFETY: a NUL-terminated path and name; a null buffer of size 0 asks for the size only.
    let capabilities = unsafe {
        libc::getxattr(
            path.as_ptr(),
            c"security.capability".as_ptr(),
            core::ptr::null_mut(),
            0,
        )
    };
    status.st_mode & (libc::S_ISUID | libc::S_ISGID) != 0 || capabilities > 0
}

/// The kind of program at `path` (`None` when it cannot be opened).
/// A script is what its `#!` interpreter is (one level: the kernel's own limit is 4, and an
/// interpreter that is itself a script is rare).
fn inspect(path: &CStr) -> Option<Program> {
    let mut start = [0u8; program::SCRIPT_LINE_BYTES];
    let kind = with_file(path, |file| {
        let length = file.read_some_at(0, &mut start);
        let interpreter = start.get(..length).and_then(program::script_interpreter);
        match interpreter {
            None => Some(program::inspect(file)),
            Some(_) => None,
        }
    })?;
    if let Some(kind) = kind {
        return Some(kind);
    }
    let interpreter = program::script_interpreter(&start)?;
    let mut path = [0u8; PATH_BYTES];
    let (name, nul) = path.split_at_mut_checked(interpreter.len())?;
    name.copy_from_slice(interpreter);
    *nul.first_mut()? = 0;
    let interpreter = CStr::from_bytes_until_nul(&path).ok()?;
    with_file(interpreter, |file| Some(program::inspect(file)))?
}

/// Runs `read` on the file at `path`, opened for it alone.
fn with_file<T>(path: &CStr, read: impl FnOnce(&mut File) -> T) -> Option<T> {
    // SAFETY: a NUL-terminated path; the descriptor is ours until closed below.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    let result = read(&mut File(fd));
    // SAFETY: closing the descriptor opened above (through the next `close`: not a socket).
    unsafe { sys::raw_close(fd) };
    Some(result)
}

/// A descriptor read at offsets.
struct File(libc::c_int);

impl File {
    /// Up to `buffer.len()` bytes from `offset`: how many were read (0 on an error).
    fn read_some_at(&mut self, offset: libc::off_t, buffer: &mut [u8]) -> usize {
        loop {
            // SAFETY: `buffer` is writable for its length.
            let read =
                unsafe { libc::pread(self.0, buffer.as_mut_ptr().cast(), buffer.len(), offset) };
            if read >= 0 {
                return read as usize;
            }
            if sys::errno() != libc::EINTR {
                return 0;
            }
        }
    }
}

impl ReadAt for File {
    fn read_exact_at(&mut self, offset: u64, buffer: &mut [u8]) -> Option<()> {
        let mut done = 0;
        while done < buffer.len() {
            let at = libc::off_t::try_from(offset.checked_add(done as u64)?).ok()?;
            let rest = buffer.get_mut(done..)?;
            // SAFETY: `rest` is writable for its length.
            let read = unsafe { libc::pread(self.0, rest.as_mut_ptr().cast(), rest.len(), at) };
            match read {
                n if n > 0 => done += n as usize,
                -1 if sys::errno() == libc::EINTR => {}
                _ => return None,
            }
        }
        Some(())
    }
}

/// Writes the helper's path into `path` (NUL-terminated): beside this library, or above it when
/// this library is cargo's copy in `deps/`.
fn find_helper(path: &mut [u8; PATH_BYTES]) -> Option<()> {
    // SAFETY: Dl_info is plain data for which all-zero bytes are valid.
    let mut info: libc::Dl_info = unsafe { core::mem::zeroed() };
    // SAFETY: dladdr reads the address of one of our own functions and fills `info`.
    let found = unsafe { libc::dladdr(find_helper as *const libc::c_void, &mut info) };
    if found == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dli_fname is the NUL-terminated path of the object holding that address.
    let ours = unsafe { CStr::from_ptr(info.dli_fname) }.to_bytes();
    let directory = ours.get(..ours.iter().rposition(|&b| b == b'/')?)?;
    let directories = [Some(directory), directory.strip_suffix(b"/deps")];
    for directory in directories.into_iter().flatten() {
        // SAFETY: `join` left a NUL-terminated path in `path`.
        if join(directory, HELPER, path).is_some()
            && unsafe { libc::access(path.as_ptr().cast(), libc::X_OK) } == 0
        {
            return Some(());
        }
    }
    None
}

/// Writes `directory/name` and a NUL into `path`; `None` when it does not fit.
fn join(directory: &[u8], name: &[u8], path: &mut [u8; PATH_BYTES]) -> Option<()> {
    let (start, rest) = path.split_at_mut_checked(directory.len())?;
    start.copy_from_slice(directory);
    let (slash, rest) = rest.split_first_mut()?;
    *slash = b'/';
    let (middle, rest) = rest.split_at_mut_checked(name.len())?;
    middle.copy_from_slice(name);
    *rest.first_mut()? = 0;
    Some(())
}

/// The path an `execvp()`-like call opens for `file`, found as it finds it.
pub struct Searched([u8; PATH_BYTES]);

impl Default for Searched {
    fn default() -> Searched {
        Searched([0; PATH_BYTES])
    }
}

impl Searched {
    /// `file` itself when it holds a slash, else the file found on `PATH` (null when none is).
    ///
    /// # Safety
    /// `file` is null or a NUL-terminated string.
    pub unsafe fn find(&mut self, file: *const c_char) -> *const c_char {
        if file.is_null() {
            return file;
        }
        // SAFETY: the caller's contract.
        let name = unsafe { CStr::from_ptr(file) };
        if name.to_bytes().contains(&b'/') {
            return file;
        }
        match sys::keeping_errno(|| search_path(name, &mut self.0)) {
            Some(()) => self.0.as_ptr().cast(),
            None => core::ptr::null(),
        }
    }
}

/// The file `execvp()` would run for `file` (no slash in it): the first executable regular file
/// on `PATH` (glibc's default `/bin:/usr/bin` when unset), written NUL-terminated into `path`.
fn search_path(file: &CStr, path: &mut [u8; PATH_BYTES]) -> Option<()> {
    let name = file.to_bytes();
    if name.is_empty() || name.contains(&b'/') {
        return None;
    }
    let search = sys::getenv(c"PATH").unwrap_or(b"/bin:/usr/bin");
    for directory in search.split(|&b| b == b':') {
        let directory = if directory.is_empty() {
            b"."
        } else {
            directory
        };
        if join(directory, name, path).is_none() {
            continue;
        }
        // SAFETY: a zeroed stat is valid; `path` is NUL-terminated.
        let mut status: libc::stat = unsafe { core::mem::zeroed() };
        // SAFETY: as above; stat fills `status`.
        let regular = unsafe { libc::stat(path.as_ptr().cast(), &mut status) } == 0
            && status.st_mode & libc::S_IFMT == libc::S_IFREG;
        // SAFETY: a NUL-terminated path.
        if regular && unsafe { libc::access(path.as_ptr().cast(), libc::X_OK) } == 0 {
            return Some(());
        }
    }
    None
}

/// The new program's environment: `envp`, or this process's own when null.
struct Environment(*const *const c_char);

impl Environment {
    /// # Safety
    /// `envp` is null or a NULL-terminated array of NUL-terminated strings that outlives this.
    unsafe fn of(envp: *const *const c_char) -> Environment {
        unsafe extern "C" {
            static environ: *const *const c_char;
        }
        // SAFETY: reading libc's environment pointer (this process's environment).
        Environment(if envp.is_null() {
            unsafe { environ }
        } else {
            envp
        })
    }

    /// The value of `name`, if the environment has it.
    fn get(&self, name: &[u8]) -> Option<&[u8]> {
        let mut index = 0;
        while !self.0.is_null() {
            // SAFETY: a NULL-terminated array (the constructor's contract): index stops at NULL.
            let entry = unsafe { *self.0.add(index) };
            if entry.is_null() {
                break;
            }
            // SAFETY: each entry is NUL-terminated.
            let entry = unsafe { CStr::from_ptr(entry) }.to_bytes();
            if let Some(value) = entry
                .strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(b"="))
            {
                return Some(value);
            }
            index += 1;
        }
        None
    }

    /// Whether its `LD_PRELOAD` names this library.
    fn preloads_us(&self) -> bool {
        self.get(b"LD_PRELOAD").is_some_and(|list| {
            list.split(|&b| b == b':' || b.is_ascii_whitespace())
                .any(|entry| entry.ends_with(LIBRARY))
        })
    }
}

/// Bytes shown in a log line, invalid UTF-8 replaced.
struct Shown<'a>(&'a [u8]);

impl core::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for chunk in self.0.utf8_chunks() {
            f.write_str(chunk.valid())?;
            if !chunk.invalid().is_empty() {
                f.write_str("\u{fffd}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_is_read_as_given() {
        let entries = [
            c"PATH=/bin".as_ptr(),
            c"LD_PRELOAD=/x/libother.so:/usr/lib/mptcpize-rs/libmptcpize_rs.so".as_ptr(),
            c"MPTCPIZE=force".as_ptr(),
            core::ptr::null(),
        ];
        // SAFETY: a NULL-terminated array of literals.
        let environment = unsafe { Environment::of(entries.as_ptr()) };
        assert_eq!(environment.get(b"PATH"), Some(&b"/bin"[..]));
        assert_eq!(environment.get(b"PAT"), None);
        assert!(environment.preloads_us());
        let others = [
            c"LD_PRELOAD=/x/libmptcpize_rs.so.bak".as_ptr(),
            core::ptr::null(),
        ];
        // SAFETY: as above.
        assert!(!unsafe { Environment::of(others.as_ptr()) }.preloads_us());
    }
}
