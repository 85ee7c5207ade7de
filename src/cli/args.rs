//! The command line: verbs, their options and their usage errors, exactly as the interface
//! documents them (README's synopsis, docs/usage.md). Options come before the command for `run` (everything
//! after the command is the program's), before or after the unit for `enable`/`disable`.

use super::{Failure, usage_error};
use crate::mode::{Mode, ModeValue, parse_setting};
use lexopt::{Arg, Parser};
use std::ffi::OsString;
use std::path::PathBuf;

/// The options shared by the verbs (each verb accepts only its own).
#[derive(Debug, Default)]
pub struct Options {
    pub mode: Option<Mode>,
    /// The mode was given with `+advisory`: the advisory-options policy.
    pub advisory: bool,
    pub debug: bool,
    /// `--seccomp`: run under the seccomp supervisor whatever the program's linking.
    pub seccomp: bool,
    pub log_file: Option<OsString>,
    pub root: Option<PathBuf>,
    pub systemd: bool,
}

#[derive(Debug)]
pub enum Command {
    Help,
    Version,
    Run {
        options: Options,
        program: Vec<OsString>,
    },
    Env {
        options: Options,
    },
    Enable {
        unit: String,
        options: Options,
    },
    Disable {
        unit: String,
        options: Options,
    },
    Check,
    Status {
        target: String,
        json: bool,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Verb {
    Run,
    Env,
    Enable,
    Disable,
}

/// Parses the arguments after the program name.
pub fn parse(arguments: Vec<OsString>) -> Result<Command, Failure> {
    let Some(first) = arguments.first() else {
        return Err(usage_error("no COMMAND given"));
    };
    let rest = || arguments[1..].to_vec();
    match first.to_str() {
        Some("--version") => Ok(Command::Version),
        Some("run") => parse_run(rest()),
        Some("env") => {
            let mut parser = Parser::from_args(rest());
            let options = parse_options(Verb::Env, &mut parser)?;
            match options {
                Parsed::Help => Ok(Command::Help),
                Parsed::Options(options, None) => Ok(Command::Env { options }),
                Parsed::Options(_, Some(extra)) => Err(usage_error(format!(
                    "env takes no argument '{}'",
                    extra.to_string_lossy()
                ))),
            }
        }
        Some("enable") => parse_unit_verb(Verb::Enable, rest()),
        Some("disable") => parse_unit_verb(Verb::Disable, rest()),
        Some("check") => match arguments.get(1).map(|a| a.to_str()) {
            None => Ok(Command::Check),
            Some(Some("-h" | "--help")) => Ok(Command::Help),
            Some(_) => Err(usage_error("check takes no argument")),
        },
        Some("status") => parse_status(rest()),
        _ => parse_run(arguments),
    }
}

/// What an option loop found: help, or the options and the first positional argument.
enum Parsed {
    Help,
    Options(Options, Option<OsString>),
}

fn parse_run(arguments: Vec<OsString>) -> Result<Command, Failure> {
    let mut parser = Parser::from_args(arguments);
    match parse_options(Verb::Run, &mut parser)? {
        Parsed::Help => Ok(Command::Help),
        Parsed::Options(_, None) => Err(usage_error("no COMMAND given")),
        Parsed::Options(options, Some(command)) => {
            let mut program = vec![command];
            program.extend(parser.raw_args().map_err(lexopt_error)?);
            Ok(Command::Run { options, program })
        }
    }
}

fn parse_unit_verb(verb: Verb, arguments: Vec<OsString>) -> Result<Command, Failure> {
    let name = if verb == Verb::Enable {
        "enable"
    } else {
        "disable"
    };
    let mut parser = Parser::from_args(arguments);
    let (before, unit) = match parse_options(verb, &mut parser)? {
        Parsed::Help => return Ok(Command::Help),
        Parsed::Options(_, None) => return Err(usage_error(format!("{name} needs a UNIT"))),
        Parsed::Options(options, Some(unit)) => (options, unit),
    };
    let unit = unit.to_string_lossy().into_owned();
    let (after, extra) = match parse_options(verb, &mut parser)? {
        Parsed::Help => return Ok(Command::Help),
        Parsed::Options(options, extra) => (options, extra),
    };
    if let Some(extra) = extra {
        return Err(usage_error(format!(
            "{name} takes one UNIT, not also '{}'",
            extra.to_string_lossy()
        )));
    }
    let options = Options {
        mode: after.mode.or(before.mode),
        advisory: if after.mode.is_some() {
            after.advisory
        } else {
            before.advisory
        },
        root: after.root.or(before.root),
        ..Options::default()
    };
    Ok(if verb == Verb::Enable {
        Command::Enable { unit, options }
    } else {
        Command::Disable { unit, options }
    })
}

fn parse_status(arguments: Vec<OsString>) -> Result<Command, Failure> {
    let mut parser = Parser::from_args(arguments);
    let mut target = None;
    let mut json = false;
    while let Some(arg) = parser.next().map_err(lexopt_error)? {
        match arg {
            Arg::Long("json") => json = true,
            Arg::Short('h') | Arg::Long("help") => return Ok(Command::Help),
            Arg::Value(value) if target.is_none() => {
                target = Some(value.to_string_lossy().into_owned())
            }
            Arg::Value(value) => {
                return Err(usage_error(format!(
                    "status takes one PID or UNIT, not also '{}'",
                    value.to_string_lossy()
                )));
            }
            other => return Err(unknown(&other)),
        }
    }
    match target {
        Some(target) => Ok(Command::Status { target, json }),
        None => Err(usage_error("status needs a PID or a UNIT")),
    }
}

/// Reads options until the first positional argument (returned) or the end.
fn parse_options(verb: Verb, parser: &mut Parser) -> Result<Parsed, Failure> {
    let mut options = Options::default();
    while let Some(arg) = parser.next().map_err(lexopt_error)? {
        let shown = display(&arg);
        match arg {
            Arg::Short('m') | Arg::Long("mode") => {
                if verb == Verb::Disable {
                    return Err(usage_error(format!(
                        "option '{shown}' is for run, env and enable"
                    )));
                }
                let value = parser
                    .value()
                    .map_err(|_| usage_error(format!("option '{shown}' needs a MODE")))?;
                let (mode, advisory) = mode_argument(&value)?;
                options.mode = Some(mode);
                options.advisory = advisory;
            }
            Arg::Short('d') | Arg::Long("debug") => {
                only(verb == Verb::Run, &shown, "run")?;
                options.debug = true;
            }
            Arg::Long("seccomp") => {
                only(verb == Verb::Run, &shown, "run")?;
                options.seccomp = true;
            }
            Arg::Long("log-file") => {
                only(verb == Verb::Run, &shown, "run")?;
                let value = parser.value().ok().filter(|v| !v.is_empty());
                let value =
                    value.ok_or_else(|| usage_error(format!("option '{shown}' needs a FILE")))?;
                options.log_file = Some(value);
            }
            Arg::Long("root") => {
                only(
                    matches!(verb, Verb::Enable | Verb::Disable),
                    &shown,
                    "enable and disable",
                )?;
                let value = parser.value().ok().filter(|v| !v.is_empty());
                let value =
                    value.ok_or_else(|| usage_error(format!("option '{shown}' needs a DIR")))?;
                let root = PathBuf::from(&value);
                if !root.is_dir() {
                    return Err(usage_error(format!(
                        "--root {}: no such directory",
                        root.display()
                    )));
                }
                let root = root
                    .canonicalize()
                    .map_err(|e| usage_error(format!("--root {}: {e}", root.display())))?;
                options.root = Some(root);
            }
            Arg::Long("systemd") => {
                only(verb == Verb::Env, &shown, "env")?;
                options.systemd = true;
            }
            Arg::Short('h') | Arg::Long("help") => return Ok(Parsed::Help),
            Arg::Value(value) => return Ok(Parsed::Options(options, Some(value))),
            other => return Err(unknown(&other)),
        }
    }
    Ok(Parsed::Options(options, None))
}

/// A mode given with `-m`, and whether it ends in `+advisory`: the library's own names;
/// `default` is not a mode to ask for.
fn mode_argument(value: &std::ffi::OsStr) -> Result<(Mode, bool), Failure> {
    let (mode, advisory) = parse_setting(value.as_encoded_bytes());
    match mode {
        ModeValue::Set(mode) if value.as_encoded_bytes().trim_ascii().len() == value.len() => {
            Ok((mode, advisory))
        }
        _ => Err(usage_error(format!(
            "invalid mode '{}' (accepted: {})",
            value.to_string_lossy(),
            crate::mode::ACCEPTED_MODES
        ))),
    }
}

fn only(allowed: bool, shown: &str, verbs: &str) -> Result<(), Failure> {
    if allowed {
        Ok(())
    } else {
        Err(usage_error(format!("option '{shown}' is for {verbs}")))
    }
}

fn display(arg: &Arg) -> String {
    match arg {
        Arg::Short(c) => format!("-{c}"),
        Arg::Long(name) => format!("--{name}"),
        Arg::Value(value) => value.to_string_lossy().into_owned(),
    }
}

fn unknown(arg: &Arg) -> Failure {
    usage_error(format!("unknown option '{}'", display(arg)))
}

fn lexopt_error(error: lexopt::Error) -> Failure {
    match error {
        lexopt::Error::UnexpectedValue { option, .. } => {
            usage_error(format!("option '{option}' takes no value"))
        }
        other => usage_error(other.to_string()),
    }
}

/// The text of `--help`.
pub fn usage(prog: &str) -> String {
    format!(
        "\
usage: {prog} [run] [-m MODE] [-d] [--seccomp] [--log-file FILE] [--] COMMAND [ARG...]
       {prog} env [-m MODE] [--systemd]
       {prog} enable UNIT [-m MODE] [--root DIR]
       {prog} disable UNIT [--root DIR]
       {prog} check
       {prog} status PID|UNIT [--json]
       {prog} -h | --help | --version

Runs COMMAND with its TCP sockets opened as Multipath TCP (MPTCP) sockets, falling back to
plain TCP wherever MPTCP cannot be had.

  run                 run COMMAND under the library (the default verb)
  env                 print the variables that enable the library, as shell export lines,
                      or with --systemd as Environment= lines for a unit
  enable UNIT         add a systemd drop-in that runs UNIT under the library
                      (/etc/systemd/system/UNIT.d/{dropin}); restart UNIT to apply
  disable UNIT        remove that drop-in, and nothing else
  check               is MPTCP usable here, and will it use more than one path?
                      (exit 0 when MPTCP sockets can be made, 1 otherwise)
  status PID|UNIT     the TCP connections and listeners of a process (and its children) or
                      of a unit's processes: MPTCP or TCP (and why), MPTCP's subflows with
                      their paths and bytes; --json for scripts (exit 1: no such process/unit)

  -m, --mode MODE     on|1 (default): MPTCP, falling back to TCP; off|0;
                      listen|2: MPTCP for listening sockets only; connect|3: MPTCP for
                      outgoing connections only; force: MPTCP or fail, no fallback.
                      MODE+advisory (on+advisory; not force): options MPTCP refuses that
                      only tune timing (TCP_USER_TIMEOUT, TCP_SYNCNT, IP_TTL...) keep MPTCP
  -d, --debug         log every decision to stderr (MPTCPIZE_LOG=debug)
  --seccomp           (run) reach any program through the seccomp supervisor (automatic
                      for static and musl programs)
  --log-file FILE     append log lines to FILE instead of stderr (MPTCPIZE_LOG_FILE)
  --root DIR          (enable, disable) act on the systemd tree under DIR, as systemctl --root
  -h, --help          show this help
  --version           show the version

Environment: MPTCPIZE (the mode), MPTCPIZE_LOG (log filter), MPTCPIZE_LOG_FILE,
MPTCPIZE_LIBRARY (use this library file instead of the one installed with the launcher).

Exit status: COMMAND's own; 127 if COMMAND is not found, 126 if it cannot be run,
2 for a usage error, 1 if the library cannot be found or used.
",
        dropin = super::DROPIN_NAME
    )
}
