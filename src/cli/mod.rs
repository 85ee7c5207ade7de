//! The launcher's verbs, wired to its arguments; errors are values, turned into one stderr line
//! and an exit status here, in one place.
//!
//! Messages start with the name the launcher was called by (`mptcpize-rs`, or `mptcpize-rs.sh`
//! when the entry-point script execs it), like a shell's.

mod args;
mod check;
mod diag;
mod elf;
mod environment;
mod locate;
mod procs;
mod run;
mod status;
mod systemd;
mod unit_file;

use std::ffi::OsString;
use std::sync::OnceLock;

/// The version `--version` prints: the crate's.
const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The name of the drop-in `enable` writes and `disable` removes.
pub const DROPIN_NAME: &str = "50-mptcpize-rs.conf";
/// The hidden first argument by which the entry-point script gives its name.
const INVOKED_AS: &str = "--invoked-as";
/// The library's file name.
pub const LIB_NAME: &str = "libmptcpize_rs.so";

/// Why a verb stopped.
#[derive(Debug)]
pub enum Failure {
    /// A usage error: the line, a hint, exit 2.
    Usage(String),
    /// Any other failure: the line and its exit status.
    Fatal(String, i32),
}

/// A failure with exit status 1.
pub fn fatal(message: impl Into<String>) -> Failure {
    Failure::Fatal(message.into(), 1)
}

/// A usage error.
pub fn usage_error(message: impl Into<String>) -> Failure {
    Failure::Usage(message.into())
}

static PROG: OnceLock<String> = OnceLock::new();

/// The name we were called by, for messages.
pub fn prog() -> &'static str {
    PROG.get().map_or("mptcpize-rs", String::as_str)
}

/// One warning line on stderr.
pub fn warn(message: &str) {
    eprintln!("{}: warning: {message}", prog());
}

/// Runs the launcher with the process's arguments; returns the exit status (when it did not exec).
pub fn main() -> i32 {
    let mut arguments = std::env::args_os().peekable();
    let mut argv0 = arguments.next().unwrap_or_default();
    // mptcpize-rs.sh (POSIX sh, which cannot set argv[0]) passes its own name first.
    if arguments.next_if(|a| a == INVOKED_AS).is_some() {
        argv0 = arguments.next().unwrap_or_default();
    }
    let argv0 = argv0.to_string_lossy();
    let name = argv0.rsplit('/').next().unwrap_or("mptcpize-rs");
    let _ = PROG.set(if name.is_empty() { "mptcpize-rs" } else { name }.to_string());
    let arguments: Vec<OsString> = arguments.collect();
    match args::parse(arguments).and_then(dispatch) {
        Ok(status) => status,
        Err(Failure::Usage(message)) => {
            eprintln!("{}: {message}", prog());
            eprintln!("Try '{} --help'.", prog());
            2
        }
        Err(Failure::Fatal(message, status)) => {
            eprintln!("{}: {message}", prog());
            status
        }
    }
}

fn dispatch(command: args::Command) -> Result<i32, Failure> {
    use args::Command;
    match command {
        Command::Help => {
            print!("{}", args::usage(prog()));
            Ok(0)
        }
        Command::Version => {
            println!("mptcpize-rs {VERSION}");
            Ok(0)
        }
        Command::Run { options, program } => run::run(&options, program),
        Command::Env { options } => environment::print_env(&options),
        Command::Enable { unit, options } => systemd::enable(&unit, &options),
        Command::Disable { unit, options } => systemd::disable(&unit, &options),
        Command::Check => check::check(),
        Command::Status { target, json } => status::status(&target, json),
    }
}
