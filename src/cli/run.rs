//! `run`: find the program like a shell, say when the library cannot reach it, set the
//! variables, and `exec` it (same PID; its exit status and signals are its own).

use super::args::Options;
use super::elf::{self, GoRelease, Program};
use super::environment::{Variables, inherited};
use super::{Failure, locate, warn};
use crate::mode::{Mode, godebug_with};
use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A shell's search path when `PATH` is unset.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Exit statuses of a shell that could not run a command.
const NOT_FOUND: i32 = 127;
const CANNOT_RUN: i32 = 126;

pub fn run(options: &Options, program: Vec<OsString>) -> Result<i32, Failure> {
    let mut program = program.into_iter();
    let command = program.next().unwrap_or_default();
    let shown = command.to_string_lossy().into_owned();
    let path = resolve(&command)
        .map_err(|(message, status)| Failure::Fatal(format!("{shown}: {message}"), status))?;
    let library = locate::library()?;
    let program_kind = elf::inspect(&path);
    let supervision = supervision(&path, program_kind, options)?;
    let preload = supervision.is_none() && reach_warnings(&path, program_kind, options.mode);
    let variables = Variables::new(options, &inherited, preload.then_some(library.as_os_str()));
    let arguments: Vec<OsString> = program.collect();
    let exec_program = || exec(&path, &command, &arguments, &variables.assignments());
    let error = match supervision {
        None => exec_program(),
        Some(supervision) => {
            if let Some(reason) = crate::seccomp::unsupported(supervision.mode) {
                return Err(Failure::Usage(format!("{shown}: {reason}")));
            }
            warn(&crate::seccomp::reach_note(&match program_kind {
                Program::Go(release) => format!(
                    "{shown} (a {release} program: Go has no GODEBUG=multipathtcp before 1.21)"
                ),
                _ => shown.clone(),
            }));
            if options.advisory {
                warn(&format!(
                    "{shown}: +advisory is a policy of the library, which this program does not \
                     load: the supervisor answers socket() only, so MPTCP's refusals reach it"
                ));
            }
            match crate::seccomp::exec_supervised(&supervision, exec_program) {
                crate::seccomp::Failure::Exec(error) => error,
                // Supervised already (an ancestor's filter has a supervisor): it serves this
                // program too.
                crate::seccomp::Failure::NotStarted(error)
                    if error.raw_os_error() == Some(libc::EBUSY) =>
                {
                    exec_program()
                }
                failure => return Err(Failure::Fatal(format!("{shown}: {failure}"), 1)),
            }
        }
    };
    if error.raw_os_error() == Some(libc::ENOEXEC) {
        // No `#!` line: a shell script, as execvp(3) and shells run it.
        let mut shell_arguments = vec![path.clone().into_os_string()];
        shell_arguments.extend(arguments);
        let error = exec(
            Path::new("/bin/sh"),
            &command,
            &shell_arguments,
            &variables.assignments(),
        );
        return Err(Failure::Fatal(format!("{shown}: {error}"), CANNOT_RUN));
    }
    let status = match error.raw_os_error() {
        Some(libc::ENOENT) => NOT_FOUND,
        _ => CANNOT_RUN,
    };
    Err(Failure::Fatal(format!("{shown}: {error}"), status))
}

/// execve(2) of `path` with `argv[0]` = `name`, the environment with `set` applied; returns only
/// on failure. Unlike std's `Command`, it keeps the inherited signal mask and dispositions (as a
/// shell's `exec` does; the launcher has no Rust runtime start-up that would ignore SIGPIPE).
fn exec(
    path: &Path,
    name: &OsStr,
    arguments: &[OsString],
    set: &[(&'static str, Vec<u8>)],
) -> std::io::Error {
    let c_string = |bytes: &[u8]| CString::new(bytes).ok();
    let invalid = || std::io::Error::from_raw_os_error(libc::EINVAL);
    let Some(c_path) = c_string(path.as_os_str().as_bytes()) else {
        return invalid();
    };
    let mut argv = Vec::with_capacity(arguments.len() + 1);
    for argument in std::iter::once(name).chain(arguments.iter().map(OsString::as_os_str)) {
        match c_string(argument.as_bytes()) {
            Some(argument) => argv.push(argument),
            None => return invalid(),
        }
    }
    let mut envp = Vec::new();
    for (key, value) in std::env::vars_os() {
        if !set
            .iter()
            .any(|(name, _)| key.as_bytes() == name.as_bytes())
        {
            envp.extend(c_string(&[key.as_bytes(), b"=", value.as_bytes()].concat()));
        }
    }
    for (name, value) in set {
        match c_string(&[name.as_bytes(), b"=", value].concat()) {
            Some(entry) => envp.push(entry),
            None => return invalid(),
        }
    }
    let pointers = |strings: &[CString]| -> Vec<*const libc::c_char> {
        strings
            .iter()
            .map(|s| s.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect()
    };
    let (argv_pointers, envp_pointers) = (pointers(&argv), pointers(&envp));
    // SAFETY: every pointer is a NUL-terminated string owned above, each array NULL-terminated.
    unsafe {
        libc::execve(
            c_path.as_ptr(),
            argv_pointers.as_ptr(),
            envp_pointers.as_ptr(),
        )
    };
    std::io::Error::last_os_error()
}

/// The file a shell would run for `command`, or the message and status it would fail with.
fn resolve(command: &OsStr) -> Result<PathBuf, (&'static str, i32)> {
    if command.as_bytes().contains(&b'/') {
        return check(Path::new(command));
    }
    let search = std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into());
    let mut not_executable = None;
    for dir in search.as_bytes().split(|&b| b == b':') {
        let dir = if dir.is_empty() { b"." as &[u8] } else { dir };
        let candidate = Path::new(OsStr::from_bytes(dir)).join(command);
        match check(&candidate) {
            Ok(path) => return Ok(path),
            Err(failure) if failure.1 == CANNOT_RUN && !candidate.is_dir() => {
                not_executable.get_or_insert(failure);
            }
            Err(_) => {}
        }
    }
    Err(not_executable.unwrap_or(("command not found", NOT_FOUND)))
}

fn check(path: &Path) -> Result<PathBuf, (&'static str, i32)> {
    let metadata = match path.metadata() {
        Ok(metadata) => metadata,
        Err(error) => {
            // As a shell: only a missing file is "not found" (127); a symbolic link loop, a
            // path through a non-directory or a denied directory cannot be run (126).
            return Err(match error.raw_os_error() {
                Some(libc::ELOOP) => ("too many levels of symbolic links", CANNOT_RUN),
                Some(libc::ENOTDIR) => ("not a directory", CANNOT_RUN),
                Some(libc::EACCES) => ("permission denied", CANNOT_RUN),
                _ => ("command not found", NOT_FOUND),
            });
        }
    };
    if metadata.is_dir() {
        return Err(("is a directory", CANNOT_RUN));
    }
    if metadata.permissions().mode() & 0o111 == 0 {
        return Err(("not executable", CANNOT_RUN));
    }
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| ("command not found", NOT_FOUND))?;
    // SAFETY: `c_path` is a valid NUL-terminated string for the duration of the call.
    if unsafe { libc::access(c_path.as_ptr(), libc::X_OK) } != 0 {
        return Err(("permission denied", CANNOT_RUN));
    }
    Ok(path.to_path_buf())
}

/// Whether to run the program under the seccomp supervisor: always with `--seccomp` (refused
/// later, clearly, for the listen/connect modes), and for programs neither the library nor
/// `GODEBUG` reach (static, musl, Go before 1.21; before 1.24 in `listen` and `connect`).
///
/// Never for a setuid/setgid or file-capability program run by another user than root: the filter
/// needs `no_new_privs`, under which it would silently run without its privileges (asked for
/// with `--seccomp`, that is an error; otherwise the usual warnings say the library cannot reach
/// it). Nor in the `off` mode, which needs no filter.
fn supervision(
    path: &Path,
    program_kind: Program,
    options: &Options,
) -> Result<Option<crate::seccomp::Options>, Failure> {
    let unreachable = program_kind.needs_supervisor();
    let mode = options.mode.unwrap_or_else(|| {
        let config = crate::config::Config::from_lookup(crate::seccomp::sys::getenv, false);
        if unreachable || options.seccomp {
            // No library will be there to report a bad inherited setting: say it here.
            if let Some(problem) = config.warning {
                warn(&problem.to_string());
            }
        }
        config.mode
    });
    let unreachable = program_kind.needs_supervisor_in(mode);
    let wanted = options.seccomp || (unreachable && crate::seccomp::unsupported(mode).is_none());
    if !wanted || mode == Mode::Off {
        return Ok(None);
    }
    // SAFETY: getuid cannot fail.
    if gains_privileges(path) && unsafe { libc::getuid() } != 0 {
        if options.seccomp {
            return Err(Failure::Fatal(
                format!(
                    "{}: setuid, setgid or with file capabilities: under the seccomp filter \
                     (no_new_privs) it would run without its privileges; not run",
                    path.display()
                ),
                1,
            ));
        }
        return Ok(None);
    }
    Ok(Some(crate::seccomp::Options {
        mode,
        debug: options.debug,
    }))
}

/// Whether exec'ing `path` would change the caller's privileges: setuid/setgid bits or file
/// capabilities (`security.capability`).
fn gains_privileges(path: &Path) -> bool {
    let special = path
        .metadata()
        .is_ok_and(|m| m.mode() & (libc::S_ISUID | libc::S_ISGID) != 0);
    let Ok(c_path) = CString::new(path.as_os_str().as_bytes()) else {
        return special;
    };
    // SAFETY: both strings are NUL-terminated; a null buffer of size 0 asks only for the size.
    let capabilities = unsafe {
        libc::getxattr(
            c_path.as_ptr(),
            c"security.capability".as_ptr(),
            std::ptr::null_mut(),
            0,
        )
    };
    special || capabilities > 0
}

/// One stderr line for each reason the library cannot reach the program; false when the
/// library must not be preloaded at all (a musl program would fail to load our glibc library).
fn reach_warnings(path: &Path, program_kind: Program, mode: Option<Mode>) -> bool {
    let shown = path.display();
    if let Ok(metadata) = path.metadata() {
        if metadata.mode() & (libc::S_ISUID | libc::S_ISGID) != 0 {
            warn(&format!(
                "{shown} is setuid/setgid: the loader ignores LD_PRELOAD for it (unless the \
                 library is in /etc/ld.so.preload)"
            ));
        }
    }
    match program_kind {
        Program::Go(release) => {
            let mode = mode.unwrap_or_else(|| {
                crate::config::Config::from_lookup(crate::seccomp::sys::getenv, false).mode
            });
            if let Some(note) = go_note(&shown.to_string(), release, mode) {
                warn(&note);
            }
        }
        Program::Static => warn(&format!(
            "{shown} is statically linked: the library cannot reach it (use a dynamically \
             linked build)"
        )),
        Program::Musl => {
            warn(&format!(
                "{shown} is a musl program: the library is built for glibc and cannot load \
                 there; running it without MPTCP"
            ));
            return false;
        }
        Program::Dynamic | Program::NotElf => {}
    }
    true
}

/// What a Go program run without the supervisor gets: Go makes its own sockets, so `GODEBUG`
/// decides, from Go 1.21 (its listen and connect values from 1.24). None when there is nothing
/// to say (mode off for a Go that has no `GODEBUG` switch: it stays TCP either way).
fn go_note(shown: &str, release: GoRelease, mode: Mode) -> Option<String> {
    let godebug = String::from_utf8_lossy(&godebug_with::<Vec<u8>>(b"", mode)).into_owned();
    let directional = matches!(mode, Mode::Listen | Mode::Connect);
    Some(
        if release.follows_godebug_directions() || (release.follows_godebug() && !directional) {
            format!(
                "{shown} is a {release} program: Go makes its own sockets and follows \
             GODEBUG={godebug}, not the library"
            )
        } else if release.follows_godebug() {
            format!(
                "{shown} is a {release} program: Go knows the listen and connect values of \
             GODEBUG=multipathtcp only from 1.24; it runs over TCP (-m on gives it MPTCP)"
            )
        } else if mode == Mode::Off {
            return None;
        } else if directional {
            format!(
                "{shown} is a {release} program: Go has no GODEBUG=multipathtcp before 1.21, and the \
             seccomp supervisor that reaches it serves modes on and force only; it runs over TCP"
            )
        } else {
            format!(
                "{shown} is a {release} program: Go has no GODEBUG=multipathtcp before 1.21 and the \
             seccomp supervisor cannot reach it here; it runs over TCP"
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_go_release_is_told_what_it_gets() {
        let note = |minor, mode| go_note("prog", GoRelease::Minor(minor), mode);
        let says = |minor, mode, words: &str| {
            let note = note(minor, mode).unwrap_or_default();
            assert!(note.contains(words), "Go 1.{minor}, {mode:?}: {note}");
        };
        says(24, Mode::Listen, "follows GODEBUG=multipathtcp=2");
        says(21, Mode::On, "follows GODEBUG=multipathtcp=1");
        says(21, Mode::Off, "follows GODEBUG=multipathtcp=0");
        says(23, Mode::Connect, "only from 1.24; it runs over TCP");
        says(20, Mode::Listen, "serves modes on and force only");
        says(19, Mode::On, "cannot reach it here");
        assert_eq!(note(19, Mode::Off), None);
        assert!(
            go_note("prog", GoRelease::Unknown, Mode::Connect)
                .is_some_and(|note| note.contains("Go (release unknown"))
        );
    }
}
