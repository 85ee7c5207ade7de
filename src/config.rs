//! The environment, read once per process, turned into a [`Config`].
//!
//! One knob, `MPTCPIZE`, a GODEBUG-like tristate extended with `force`; when it is unset, empty or
//! `default`, Go's `GODEBUG=multipathtcp=N` decides, so one setting governs Go and libc programs
//! alike. An invalid value is reported once and the process runs as if the library were absent:
//! a bad setting never changes behaviour. Parsing is pure (the environment is passed in as a
//! lookup function) so it is unit-tested as tables; [`mode`] reads the real environment once,
//! lazily, on the first intercepted call (no code runs at load time).

pub use crate::mode::{Mode, ModeValue, godebug_mptcp, parse_mode};
use crate::{events, logging, sys};
use once_cell::race::OnceBox;
use std::cell::Cell;
use std::ffi::{CStr, OsString};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

/// The mode: `default`/unset, `0`/`off`, `1`/`on`, `2`/`listen`, `3`/`connect`, `force`.
pub const MPTCPIZE: &CStr = c"MPTCPIZE";
/// Our log filter, in env_logger syntax (default `warn`). `RUST_LOG` is the host's, never ours.
pub const MPTCPIZE_LOG: &CStr = c"MPTCPIZE_LOG";
/// Append log lines to this file instead of stderr. Ignored in secure-execution mode.
pub const MPTCPIZE_LOG_FILE: &CStr = c"MPTCPIZE_LOG_FILE";
/// Go's runtime settings; its `multipathtcp=N` is our default when `MPTCPIZE` says nothing.
pub const GODEBUG: &CStr = c"GODEBUG";

/// The accepted values, as shown to a user who gave another one.
const ACCEPTED_MODES: &str = "default, 0/off, 1/on, 2/listen, 3/connect, force";
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

/// Everything read from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub mode: Mode,
    pub origin: Origin,
    /// The log filter (`MPTCPIZE_LOG`), if given and allowed.
    pub log_filter: Option<String>,
    /// Where to append log lines (`MPTCPIZE_LOG_FILE`), if given and allowed.
    pub log_file: Option<PathBuf>,
    /// Problems to report once logging is set up (a bad value, an ignored variable).
    pub warnings: Vec<String>,
}

impl Config {
    /// The configuration of a process where the library stays out of the way.
    fn absent() -> Config {
        Config {
            mode: Mode::Off,
            origin: Origin::Invalid,
            log_filter: None,
            log_file: None,
            warnings: Vec::new(),
        }
    }

    /// Builds the configuration from a variable lookup; `secure` is secure-execution mode, where
    /// every `MPTCPIZE_*` variable but the mode is ignored.
    pub fn from_lookup(lookup: impl Fn(&CStr) -> Option<Vec<u8>>, secure: bool) -> Config {
        let mut warnings = Vec::new();
        let mptcpize = lookup(MPTCPIZE).unwrap_or_default();
        let (mode, origin) = match parse_mode(&mptcpize) {
            ModeValue::Set(mode) => (mode, Origin::Mptcpize),
            ModeValue::Invalid => {
                warnings.push(invalid_value(MPTCPIZE, &mptcpize));
                (Mode::Off, Origin::Invalid)
            }
            // Unset, empty or `default`: Go's setting, else on.
            ModeValue::Unset => match lookup(GODEBUG).as_deref().and_then(godebug_mptcp) {
                Some(value) => match crate::mode::parse_go_mode(value) {
                    ModeValue::Set(mode) => (mode, Origin::Godebug),
                    _ => {
                        warnings.push(invalid_value(c"GODEBUG multipathtcp", value));
                        (Mode::Off, Origin::Invalid)
                    }
                },
                None => (Mode::On, Origin::Default),
            },
        };
        let text = |name: &CStr| lookup(name).map(|v| String::from_utf8_lossy(&v).into_owned());
        let (log_filter, log_file) = if secure {
            (None, None)
        } else {
            (
                text(MPTCPIZE_LOG).filter(|f| !f.trim().is_empty()),
                lookup(MPTCPIZE_LOG_FILE)
                    .filter(|p| !p.is_empty())
                    .map(|p| PathBuf::from(OsString::from_vec(p))),
            )
        };
        Config {
            mode,
            origin,
            log_filter,
            log_file,
            warnings,
        }
    }
}

/// The one line that reports an invalid value, naming the variable and the accepted values.
fn invalid_value(name: &CStr, value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    let mut shown: String = text.chars().take(SHOWN_VALUE_CHARS).collect();
    if text.chars().nth(SHOWN_VALUE_CHARS).is_some() {
        shown.push_str("...");
    }
    format!(
        "invalid {}={:?} (accepted: {ACCEPTED_MODES}); MPTCP left off for this process",
        name.to_string_lossy(),
        shown
    )
}

/// The configuration, once built (published with one compare-and-swap: no lock).
static CONFIG: OnceBox<Config> = OnceBox::new();

thread_local! {
    /// Whether this thread is building it (const-initialised: no allocation, no lock).
    static BUILDING_HERE: Cell<bool> = const { Cell::new(false) };
}

/// The process's mode, read from the environment on first use; that first use also sets up
/// logging and reports bad values, exactly once.
///
/// After start-up this is one atomic load. Set-up never waits for another thread: threads that
/// arrive together each build the configuration from the same environment and the first to
/// finish publishes it (so a child forked in the middle finds either nothing, and builds its own,
/// or the finished configuration; it can never wait for a thread it does not have). A `socket()`
/// re-entered on the building thread itself (from a signal handler) passes straight through as
/// `off`.
pub fn mode() -> Mode {
    if let Some(config) = CONFIG.get() {
        return config.mode;
    }
    if BUILDING_HERE.with(Cell::get) {
        return Mode::Off;
    }
    BUILDING_HERE.with(|here| here.set(true));
    // Set-up runs inside the host's first socket() call: its own failures (a log file that
    // cannot be opened) must not show in the caller's errno. A panic (a bug of ours) yields the
    // "library absent" configuration.
    let mode = sys::keeping_errno(|| {
        let built =
            std::panic::catch_unwind(|| Config::from_lookup(sys::getenv, sys::secure_execution()))
                .unwrap_or_else(|_| Config::absent());
        events::watch_forks();
        if CONFIG.set(Box::new(built)).is_ok()
            && let Some(config) = CONFIG.get()
        {
            let _ = std::panic::catch_unwind(|| {
                logging::init(config);
                for warning in &config.warnings {
                    log::warn!("{warning}");
                }
                log::debug!("mode {:?} (from {:?})", config.mode, config.origin);
            });
        }
        CONFIG.get().map_or(Mode::Off, |config| config.mode)
    });
    BUILDING_HERE.with(|here| here.set(false));
    mode
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&CStr, &[u8])], secure: bool) -> Config {
        let env: HashMap<&CStr, Vec<u8>> = vars.iter().map(|(k, v)| (*k, v.to_vec())).collect();
        Config::from_lookup(|name| env.get(name).cloned(), secure)
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
            assert_eq!(
                config.warnings.len(),
                usize::from(*origin == Origin::Invalid)
            );
        }
    }

    #[test]
    fn invalid_value_warning_is_one_short_line() {
        let huge = vec![b'x'; 1 << 20];
        let config = config(&[(MPTCPIZE, &huge)], false);
        let warning = &config.warnings[0];
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
        assert_eq!(normal.log_filter.as_deref(), Some("debug"));
        assert_eq!(normal.log_file, Some(PathBuf::from("/tmp/x.log")));
        let secure = config(vars, true);
        assert_eq!(secure.mode, Mode::Force);
        assert_eq!((secure.log_filter, secure.log_file), (None, None));
    }
}

#[cfg(test)]
mod fuzz {
    //! Property tests: the environment parsers take any bytes without panicking (a panic would be
    //! caught at the C boundary, but must not happen at all).
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
                    b"MPTCPIZE" => Some(mode.clone()),
                    b"GODEBUG" => Some(godebug.clone().into_bytes()),
                    b"MPTCPIZE_LOG" => Some(filter.clone().into_bytes()),
                    _ => None,
                },
                secure,
            );
            prop_assert!(config.warnings.len() <= 1);
            prop_assert_eq!(config.warnings.len() == 1, config.origin == Origin::Invalid);
            prop_assert!(config.warnings.iter().all(|w| w.len() < 300 && !w.contains('\n')));
        }

        #[test]
        fn any_log_filter_is_validated_without_panic(filter in "\\PC{0,60}") {
            let _ = env_filter::Builder::new().try_parse(&filter);
        }
    }
}
