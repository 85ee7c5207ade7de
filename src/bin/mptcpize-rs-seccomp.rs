//! `mptcpize-rs-seccomp [-m MODE] [-d] [--] COMMAND [ARG...]`: runs COMMAND under the seccomp
//! supervisor (see `crates/supervisor`), whatever its linking: static, musl, raw `socket` syscalls.
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
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

const USAGE: &str = "usage: mptcpize-rs-seccomp [-m MODE] [-d] [--] COMMAND [ARG...]";

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1).peekable();
    let mut mode = None;
    let mut debug = false;
    while let Some(arg) = args.peek() {
        match arg.as_encoded_bytes() {
            b"-d" => debug = true,
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
        Failure::Supervisor(_) => 1,
        Failure::Exec(error) if error.raw_os_error() == Some(libc::ENOENT) => 127,
        Failure::Exec(_) => 126,
    })
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("mptcpize-rs-seccomp: {problem}\n{USAGE}");
    ExitCode::from(2)
}
