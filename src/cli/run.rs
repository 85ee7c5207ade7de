//! `run`: find the program like a shell, say when the library cannot reach it, set the
//! variables, and `exec` it (same PID; its exit status and signals are its own).

use super::args::Options;
use super::elf::{self, Program};
use super::environment::{Variables, inherited};
use super::{Failure, locate, warn};
use crate::mode::{Mode, godebug_with};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

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
    let preload = reach_warnings(&path, options.mode);
    let variables = Variables::new(options, &inherited, preload.then_some(library.as_os_str()));
    let mut exec = Command::new(&path);
    exec.arg0(&command).args(program);
    for (name, value) in variables.assignments() {
        exec.env(name, OsStr::from_bytes(&value));
    }
    let error = exec.exec();
    let status = match error.raw_os_error() {
        Some(libc::ENOENT) => NOT_FOUND,
        _ => CANNOT_RUN,
    };
    Err(Failure::Fatal(format!("{shown}: {error}"), status))
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
    let Ok(metadata) = path.metadata() else {
        return Err(("command not found", NOT_FOUND));
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

/// One stderr line for each reason the library cannot reach the program; false when the
/// library must not be preloaded at all (a musl program would fail to load our glibc library).
fn reach_warnings(path: &Path, mode: Option<Mode>) -> bool {
    let shown = path.display();
    if let Ok(metadata) = path.metadata() {
        if metadata.mode() & (libc::S_ISUID | libc::S_ISGID) != 0 {
            warn(&format!(
                "{shown} is setuid/setgid: the loader ignores LD_PRELOAD for it (unless the \
                 library is in /etc/ld.so.preload)"
            ));
        }
    }
    match elf::inspect(path) {
        Program::Go => {
            let godebug = godebug_with(b"", mode.unwrap_or(Mode::On));
            warn(&format!(
                "{shown} is a Go program: Go makes its own sockets and follows GODEBUG={}, not \
                 the library (Go >= 1.21; listen/connect need Go >= 1.24)",
                String::from_utf8_lossy(&godebug)
            ));
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
