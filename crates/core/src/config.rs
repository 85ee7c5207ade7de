//! The environment, read once per process, turned into a [`Config`].
//!
//! One knob, `MPTCPIZE`, a GODEBUG-like tristate extended with `force`; when it is unset, empty or
//! `default`, Go's `GODEBUG=multipathtcp=N` decides, so one setting governs Go and libc programs
//! alike. An invalid value is reported once and the process runs as if the library were absent:
//! a bad setting never changes behaviour. Parsing is pure (the environment is passed in as a
//! lookup function) so it is unit-tested as tables, and allocates nothing: the configuration
//! borrows the environment's bytes, and a [`Warning`] is formatted only when it is logged. The
//! library reads it once, lazily, on the first intercepted call (`setup`: no code runs at load
//! time); the launcher and the seccomp supervisor compile this file too.

pub use crate::mode::{Mode, ModeValue, godebug_mptcp, parse_mode, parse_setting, split_advisory};
use core::ffi::CStr;
use core::fmt::{self, Write};

/// The mode: `default`/unset, `0`/`off`, `1`/`on`, `2`/`listen`, `3`/`connect`, `force`, each
/// optionally followed by `+advisory` (the advisory-options policy, [`crate::advisory`]).
pub const MPTCPIZE: &CStr = c"MPTCPIZE";
/// Our log filter, in env_logger syntax (default `warn`). `RUST_LOG` is the host's, never ours.
pub const MPTCPIZE_LOG: &CStr = c"MPTCPIZE_LOG";
/// Append log lines to this file instead of stderr. Ignored in secure-execution mode.
pub const MPTCPIZE_LOG_FILE: &CStr = c"MPTCPIZE_LOG_FILE";
/// Go's runtime settings; its `multipathtcp=N` is our default when `MPTCPIZE` says nothing.
pub const GODEBUG: &CStr = c"GODEBUG";

/// How much of a bad value a warning repeats (values can be megabytes long).
const SHOWN_VALUE_CHARS: usize = 40;

/// Where the mode came from, for the start-up debug line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Mptcpize,
    Godebug,
    Default,
    /// A value was invalid: the library stays out of the way.
    Invalid,
}

/// Everything read from the environment, borrowing its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config<'env> {
    pub mode: Mode,
    pub origin: Origin,
    /// The advisory-options policy (`+advisory`): options whose refusal costs only timing or
    /// tuning keep the socket MPTCP ([`crate::advisory`]).
    pub advisory: bool,
    /// The log filter (`MPTCPIZE_LOG`), if given, not blank, and allowed.
    pub log_filter: Option<&'env [u8]>,
    /// Where to append log lines (`MPTCPIZE_LOG_FILE`), if given and allowed.
    pub log_file: Option<&'env [u8]>,
    /// A problem to report once logging is set up (a bad value).
    pub warning: Option<Warning<'env>>,
}

/// An invalid mode value: the variable's name and its value, shown in one short line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Warning<'env> {
    pub name: &'static str,
    pub value: &'env [u8],
}

impl<'env> Config<'env> {
    /// Builds the configuration from a variable lookup; `secure` is secure-execution mode, where
    /// every `MPTCPIZE_*` variable but the mode is ignored.
    pub fn from_lookup(lookup: impl Fn(&CStr) -> Option<&'env [u8]>, secure: bool) -> Self {
        let mut warning = None;
        let mptcpize = lookup(MPTCPIZE).unwrap_or_default();
        let (mode_value, advisory) = parse_setting(mptcpize);
        let (mode, origin) = match mode_value {
            ModeValue::Set(mode) => (mode, Origin::Mptcpize),
            ModeValue::Invalid => {
                warning = Some(Warning {
                    name: "MPTCPIZE",
                    value: mptcpize,
                });
                (Mode::Off, Origin::Invalid)
            }
            // Unset, empty or `default`: Go's setting, else on.
            ModeValue::Unset => match lookup(GODEBUG).and_then(godebug_mptcp) {
                Some(value) => match crate::mode::parse_go_mode(value) {
                    ModeValue::Set(mode) => (mode, Origin::Godebug),
                    _ => {
                        warning = Some(Warning {
                            name: "GODEBUG multipathtcp",
                            value,
                        });
                        (Mode::Off, Origin::Invalid)
                    }
                },
                None => (Mode::On, Origin::Default),
            },
        };
        let (log_filter, log_file) = if secure {
            (None, None)
        } else {
            (
                lookup(MPTCPIZE_LOG).filter(|f| !f.trim_ascii().is_empty()),
                lookup(MPTCPIZE_LOG_FILE).filter(|p| !p.is_empty()),
            )
        };
        Config {
            mode,
            origin,
            advisory: advisory && origin != Origin::Invalid,
            log_filter,
            log_file,
            warning,
        }
    }
}

/// `c` as inside a Rust string literal: quotes, backslashes and control characters escaped
/// (core's own `escape_debug` also consults Unicode tables, and keeps a panic path).
fn escaped(out: &mut fmt::Formatter<'_>, c: char) -> fmt::Result {
    match c {
        '"' => out.write_str("\\\""),
        '\\' => out.write_str("\\\\"),
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\t' => out.write_str("\\t"),
        c if c.is_control() => write!(out, "\\u{{{:x}}}", u32::from(c)),
        c => out.write_char(c),
    }
}

/// The one line that reports an invalid value, naming the variable and the accepted values: the
/// value is shown quoted and escaped like a Rust string, cut after [`SHOWN_VALUE_CHARS`]
/// characters, bytes that are not UTF-8 shown as U+FFFD.
impl fmt::Display for Warning<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.write_str("invalid ")?;
        out.write_str(self.name)?;
        out.write_str("=\"")?;
        let mut shown = 0;
        let mut cut = false;
        'chunks: for chunk in self.value.utf8_chunks() {
            let replaced = (!chunk.invalid().is_empty()).then_some(char::REPLACEMENT_CHARACTER);
            for c in chunk.valid().chars().chain(replaced) {
                if shown == SHOWN_VALUE_CHARS {
                    cut = true;
                    break 'chunks;
                }
                escaped(out, c)?;
                shown += 1;
            }
        }
        if cut {
            out.write_str("...")?;
        }
        out.write_str("\" (accepted: ")?;
        out.write_str(crate::mode::ACCEPTED_SETTINGS)?;
        out.write_str("); MPTCP left off for this process")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config<'a>(vars: &[(&CStr, &'a [u8])], secure: bool) -> Config<'a> {
        let env: HashMap<&CStr, &'a [u8]> = vars.iter().copied().collect();
        Config::from_lookup(|name| env.get(name).copied(), secure)
    }

    #[test]
    fn mode_values_table() {
        use ModeValue::{Invalid, Set, Unset};
        let table: &[(&[u8], ModeValue)] = &[
            (b"", Unset),
            (b"  \t", Unset),
            (b"default", Unset),
            (b"DEFAULT", Unset),
            (b"0", Set(Mode::Off)),
            (b"off", Set(Mode::Off)),
            (b" Off ", Set(Mode::Off)),
            (b"1", Set(Mode::On)),
            (b"on", Set(Mode::On)),
            (b"ON", Set(Mode::On)),
            (b"force", Set(Mode::Force)),
            (b"Force\n", Set(Mode::Force)),
            (b"2", Set(Mode::Listen)),
            (b"listen", Set(Mode::Listen)),
            (b"3", Set(Mode::Connect)),
            (b"Connect", Set(Mode::Connect)),
            (b"4", Invalid),
            (b"2x", Invalid),
            (b"-1", Invalid),
            (b"99", Invalid),
            (b"01", Invalid),
            (b"yes", Invalid),
            (b"\xff\xfe", Invalid),
            (b"o n", Invalid),
        ];
        for (value, expected) in table {
            assert_eq!(
                parse_mode(value),
                *expected,
                "{:?}",
                String::from_utf8_lossy(value)
            );
        }
    }

    #[test]
    fn godebug_last_entry_wins() {
        assert_eq!(godebug_mptcp(b"multipathtcp=1"), Some(&b"1"[..]));
        assert_eq!(
            godebug_mptcp(b"http2client=0,multipathtcp=0"),
            Some(&b"0"[..])
        );
        assert_eq!(
            godebug_mptcp(b"multipathtcp=0,x=1,multipathtcp=1"),
            Some(&b"1"[..])
        );
        assert_eq!(godebug_mptcp(b"multipathtcp="), Some(&b""[..]));
        assert_eq!(godebug_mptcp(b"xmultipathtcp=1"), None);
        assert_eq!(godebug_mptcp(b""), None);
    }

    #[test]
    fn mode_sources_table() {
        type Vars<'a> = &'a [(&'a CStr, &'a [u8])];
        let table: &[(Vars, Mode, Origin)] = &[
            (&[], Mode::On, Origin::Default),
            (&[(MPTCPIZE, b"")], Mode::On, Origin::Default),
            (&[(MPTCPIZE, b"off")], Mode::Off, Origin::Mptcpize),
            (&[(MPTCPIZE, b"force")], Mode::Force, Origin::Mptcpize),
            (&[(GODEBUG, b"multipathtcp=0")], Mode::Off, Origin::Godebug),
            (&[(GODEBUG, b"multipathtcp=1")], Mode::On, Origin::Godebug),
            (&[(GODEBUG, b"netdns=go")], Mode::On, Origin::Default),
            (
                &[(GODEBUG, b"multipathtcp=2")],
                Mode::Listen,
                Origin::Godebug,
            ),
            (
                &[(GODEBUG, b"multipathtcp=3")],
                Mode::Connect,
                Origin::Godebug,
            ),
            (&[(MPTCPIZE, b"listen")], Mode::Listen, Origin::Mptcpize),
            (&[(MPTCPIZE, b"on+advisory")], Mode::On, Origin::Mptcpize),
            (
                &[(MPTCPIZE, b"+advisory"), (GODEBUG, b"multipathtcp=3")],
                Mode::Connect,
                Origin::Godebug,
            ),
            (&[(MPTCPIZE, b"on+advice")], Mode::Off, Origin::Invalid),
            (&[(MPTCPIZE, b"force+advisory")], Mode::Off, Origin::Invalid),
            // An explicit MPTCPIZE wins over GODEBUG; `default` defers to it.
            (
                &[(MPTCPIZE, b"1"), (GODEBUG, b"multipathtcp=0")],
                Mode::On,
                Origin::Mptcpize,
            ),
            (
                &[(MPTCPIZE, b"default"), (GODEBUG, b"multipathtcp=0")],
                Mode::Off,
                Origin::Godebug,
            ),
            // Invalid values leave the library out of the way.
            (&[(MPTCPIZE, b"2x")], Mode::Off, Origin::Invalid),
            (
                &[(GODEBUG, b"multipathtcp=abc")],
                Mode::Off,
                Origin::Invalid,
            ),
            (&[(GODEBUG, b"multipathtcp=")], Mode::Off, Origin::Invalid),
            (
                &[(GODEBUG, b"multipathtcp=force")],
                Mode::Off,
                Origin::Invalid,
            ),
        ];
        for (vars, mode, origin) in table {
            let config = config(vars, false);
            assert_eq!((config.mode, config.origin), (*mode, *origin), "{vars:?}");
            assert_eq!(config.warning.is_some(), *origin == Origin::Invalid);
            let asked = vars
                .iter()
                .any(|(name, value)| *name == MPTCPIZE && split_advisory(value).1);
            assert_eq!(
                config.advisory,
                asked && *origin != Origin::Invalid,
                "{vars:?}"
            );
        }
    }

    #[test]
    fn invalid_value_warning_is_one_short_line() {
        let huge = vec![b'x'; 1 << 20];
        let config = config(&[(MPTCPIZE, &huge)], false);
        let warning = config.warning.unwrap().to_string();
        assert!(warning.starts_with("invalid MPTCPIZE=\"xxxx"), "{warning}");
        assert!(warning.contains("accepted: default, 0/off, 1/on, 2/listen, 3/connect, force"));
        assert!(warning.len() < 200 && !warning.contains('\n'));
    }

    #[test]
    fn secure_execution_ignores_log_variables() {
        let vars: &[(&CStr, &[u8])] = &[
            (MPTCPIZE, b"force"),
            (MPTCPIZE_LOG, b"debug"),
            (MPTCPIZE_LOG_FILE, b"/tmp/x.log"),
        ];
        let normal = config(vars, false);
        assert_eq!(normal.log_filter, Some(&b"debug"[..]));
        assert_eq!(normal.log_file, Some(&b"/tmp/x.log"[..]));
        let secure = config(vars, true);
        assert_eq!(secure.mode, Mode::Force);
        assert_eq!((secure.log_filter, secure.log_file), (None, None));
    }
}

#[cfg(test)]
mod fuzz {
    //! Property tests: the environment parsers take any bytes without panicking (a panic would be
    //! a build failure in the library, which is linked so that no panic can exist in it).
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn any_mode_value_parses(value in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse_mode(&value);
        }

        #[test]
        fn any_godebug_parses(value in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = godebug_mptcp(&value);
        }

        #[test]
        fn any_environment_gives_one_config(
            mode in proptest::collection::vec(any::<u8>(), 0..300),
            godebug in "[a-z=,0-9]{0,40}",
            filter in "\\PC{0,40}",
            secure in any::<bool>(),
        ) {
            let config = Config::from_lookup(
                |name| match name.to_bytes() {
                    b"MPTCPIZE" => Some(&mode[..]),
                    b"GODEBUG" => Some(godebug.as_bytes()),
                    b"MPTCPIZE_LOG" => Some(filter.as_bytes()),
                    _ => None,
                },
                secure,
            );
            prop_assert_eq!(config.warning.is_some(), config.origin == Origin::Invalid);
            let line = config.warning.map(|w| w.to_string()).unwrap_or_default();
            prop_assert!(line.len() < 300 && !line.contains('\n'));
        }

    }
}
