//! `mptcpize-rs-seccomp [-m MODE] [-d] [--] COMMAND [ARG...]`: runs COMMAND under the seccomp
//! supervisor (see `crates/supervisor`), whatever its linking: static, musl, raw `socket` syscalls.
//!
//! `mptcpize-rs-seccomp --path FILE -- ARGV0 [ARG...]` is how the preload hands over a program it
//! cannot reach at `execve()` (crates/preload/src/reach.rs): FILE is run with the argument vector
//! as given (its `argv[0]` kept) and the environment this helper got, by the system call itself
//! (libc's `execve` would be the preload's hook again). There the program runs whatever happens:
//! when the supervisor cannot start and nothing changed (this process is supervised already,
//! `EBUSY`, or a mode the supervisor does not serve), FILE runs as it would have without us; only
//! a supervisor that failed after the filter was installed stops it (its sockets would fail).
//! It is installed beside the library, which finds it there.
//!
//! The entry point for the seccomp path until the launcher (`mptcpize-rs run --seccomp`) calls
//! [`seccomp::exec_supervised`] itself. The mode comes from `-m`, else from `MPTCPIZE`/`GODEBUG`
//! as the library reads them. Exit status: the program's own; 127 when the command is missing,
//! 126 when it cannot be run, 2 for a usage error, 1 when the supervisor cannot start.
//!
//! It depends on the rules (mptcpize-core) and the supervisor (mptcpize-supervisor), never on the
//! library crate: linking it would bring its exported `socket`/`setsockopt`/`listen` hooks into
//! this binary, interposing our own calls (tests/seccomp.rs checks the symbols are absent).

use mptcpize_core::config;
use mptcpize_supervisor as seccomp;

use config::ModeValue;
use seccomp::Failure;
use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitCode};

const USAGE: &str = "usage: mptcpize-rs-seccomp [-m MODE] [-d] [--] COMMAND [ARG...]\n       \
                     mptcpize-rs-seccomp --path FILE -- ARGV0 [ARG...]";

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1).peekable();
    let mut mode = None;
    let mut debug = false;
    let mut path = None;
    while let Some(arg) = args.peek() {
        match arg.as_encoded_bytes() {
            b"-d" => debug = true,
            b"--path" => {
                args.next();
                let Some(file) = args.peek() else {
                    return usage("--path needs a file");
                };
                path = Some(file.clone());
            }
            b"-m" => {
                args.next();
                let Some(value) = args.peek() else {
                    return usage("-m needs a mode");
                };
                // The supervisor answers socket() only: `+advisory` (a setsockopt() policy of
                // the library) changes nothing here.
                mode = match config::parse_setting(value.as_encoded_bytes()).0 {
                    ModeValue::Set(mode) => Some(mode),
                    ModeValue::Unset => None,
                    ModeValue::Invalid => {
                        return usage(&format!(
                            "bad mode (accepted: {})",
                            mptcpize_core::mode::ACCEPTED_SETTINGS
                        ));
                    }
                };
            }
            b"-h" | b"--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            b"--" => {
                args.next();
                break;
            }
            bytes if bytes.starts_with(b"-") => return usage("unknown option"),
            _ => break,
        }
        args.next();
    }
    let Some(program) = args.next() else {
        return usage("no command");
    };
    if let Some(path) = path {
        return handed_over(&path, program, args.collect());
    }
    let mode = mode.unwrap_or_else(|| {
        let config = config::Config::from_lookup(seccomp::sys::getenv, false);
        if let Some(warning) = config.warning {
            eprintln!("mptcpize-rs: {warning}");
        }
        config.mode
    });
    let shown = program.to_string_lossy().into_owned();
    if debug && mode != config::Mode::Off {
        eprintln!("mptcpize-rs: {}", seccomp::reach_note(&shown));
    }
    let mut command = Command::new(&program);
    command.args(args);
    let options = seccomp::Options { mode, debug };
    let failure = seccomp::exec_supervised(&options, || command.exec());
    eprintln!("mptcpize-rs: {shown}: {failure}");
    ExitCode::from(match failure {
        Failure::Unsupported(_) => 2,
        Failure::Supervisor(_) | Failure::NotStarted(_) => 1,
        Failure::Exec(error) if error.raw_os_error() == Some(libc::ENOENT) => 127,
        Failure::Exec(_) => 126,
    })
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("mptcpize-rs-seccomp: {problem}\n{USAGE}");
    ExitCode::from(2)
}

/// `--path FILE -- ARGV0 [ARG...]`, from the preload: FILE under the supervisor in the mode the
/// environment says, or as it would have run without us; never a message unless something failed.
fn handed_over(path: &OsStr, argv0: OsString, arguments: Vec<OsString>) -> ExitCode {
    let config = config::Config::from_lookup(seccomp::sys::getenv, false);
    let argv: Vec<OsString> = std::iter::once(argv0).chain(arguments).collect();
    let exec = || execve(path, &argv);
    let options = seccomp::Options {
        mode: config.mode,
        debug: false,
    };
    let shown = Path::new(path).display();
    let error = match seccomp::exec_supervised(&options, exec) {
        Failure::Exec(error) => error,
        Failure::Unsupported(_) => exec(),
        Failure::NotStarted(error) => {
            if error.raw_os_error() != Some(libc::EBUSY) {
                eprintln!("mptcpize-rs: {shown}: {error}: it runs without MPTCP");
            }
            exec()
        }
        Failure::Supervisor(error) => {
            eprintln!("mptcpize-rs: {shown}: cannot start the seccomp supervisor: {error}");
            return ExitCode::from(1);
        }
    };
    // As the exec the program's parent made would have failed: the same message a shell prints.
    eprintln!("{shown}: {error}");
    ExitCode::from(match error.raw_os_error() {
        Some(libc::ENOENT) => 127,
        _ => 126,
    })
}

/// execve(2) of `path` with `argv` and this process's environment, by the system call (never
/// through libc's `execve`, which the preload interposes); returns only the error.
fn execve(path: &OsStr, argv: &[OsString]) -> io::Error {
    let invalid = || io::Error::from_raw_os_error(libc::EINVAL);
    let Ok(c_path) = CString::new(path.as_bytes()) else {
        return invalid();
    };
    let Ok(c_argv) = argv
        .iter()
        .map(|argument| CString::new(argument.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
    else {
        return invalid();
    };
    let mut pointers: Vec<*const libc::c_char> = c_argv.iter().map(|a| a.as_ptr()).collect();
    pointers.push(std::ptr::null());
    unsafe extern "C" {
        static environ: *const *const libc::c_char;
    }
    // SAFETY: a NUL-terminated path and a NULL-terminated array of NUL-terminated strings, all
    // alive for the call; `environ` is libc's own environment, unchanged since start-up.
    unsafe {
        libc::syscall(
            libc::SYS_execve,
            c_path.as_ptr(),
            pointers.as_ptr(),
            environ,
        )
    };
    io::Error::last_os_error()
}
