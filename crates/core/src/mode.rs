//! Mode names, the advisory-options suffix, and Go's `GODEBUG=multipathtcp=N`: the one
//! definition, shared by the library, the launcher and the supervisor (each depends on this crate;
//! the launcher never links the library, whose exported `socket`/`setsockopt`/`listen` would
//! interpose its own calls).
//!
//! A setting is a mode, optionally followed by [`ADVISORY_SUFFIX`] (`on+advisory`): the opt-in
//! policy of [`crate::advisory`]. One value carries both, so `MPTCPIZE`, the launcher's `-m` and
//! the drop-in `enable` writes pass it along unchanged. Not after `force`, whose promise is the
//! kernel's own answers, unchanged ([`parse_setting`]).

/// The values `MPTCPIZE` takes, as every message that refuses one lists them (`default`: follow
/// `GODEBUG`, else `on`).
pub const ACCEPTED_SETTINGS: &str =
    "default, 0/off, 1/on, 2/listen, 3/connect, force; +advisory after any but force";
/// The modes a command line may ask for (`-m`): the same without `default`.
pub const ACCEPTED_MODES: &str =
    "0/off, 1/on, 2/listen, 3/connect, force; +advisory after any but force";
/// The suffix that turns the advisory-options policy on (ASCII case forgiven).
pub const ADVISORY_SUFFIX: &str = "+advisory";

/// What the library does with TCP stream sockets. The numbers (never 0) are how the library
/// stores the mode in one byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Every call passes straight through.
    Off = 1,
    /// MPTCP, falling back to TCP where it cannot be had.
    On = 2,
    /// MPTCP for listening sockets only (decided at `listen()`); outgoing connections stay TCP.
    Listen = 3,
    /// MPTCP for outgoing connections only; listening sockets are switched back to TCP.
    Connect = 4,
    /// MPTCP with no fallback: `socket()` fails with the kernel's errno.
    Force = 5,
}

/// What one mode value says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeValue {
    /// No opinion: empty, whitespace or `default`.
    Unset,
    Set(Mode),
    /// Not an accepted value.
    Invalid,
}

/// Parses a mode value. ASCII case and surrounding whitespace are forgiven.
pub fn parse_mode(value: &[u8]) -> ModeValue {
    let value = value.trim_ascii();
    let is = |word: &str| value.eq_ignore_ascii_case(word.as_bytes());
    if value.is_empty() || is("default") {
        ModeValue::Unset
    } else if is("0") || is("off") {
        ModeValue::Set(Mode::Off)
    } else if is("1") || is("on") {
        ModeValue::Set(Mode::On)
    } else if is("2") || is("listen") {
        ModeValue::Set(Mode::Listen)
    } else if is("3") || is("connect") {
        ModeValue::Set(Mode::Connect)
    } else if is("force") {
        ModeValue::Set(Mode::Force)
    } else {
        ModeValue::Invalid
    }
}

/// A setting split into its mode value and whether it ends in [`ADVISORY_SUFFIX`] (surrounding
/// whitespace forgiven): `on+advisory` is `(b"on", true)`, `+advisory` alone is the default mode
/// with the policy.
pub fn split_advisory(value: &[u8]) -> (&[u8], bool) {
    let value = value.trim_ascii();
    let suffix = ADVISORY_SUFFIX.as_bytes();
    match value
        .len()
        .checked_sub(suffix.len())
        .and_then(|cut| value.split_at_checked(cut))
    {
        Some((base, tail)) if tail.eq_ignore_ascii_case(suffix) => (base, true),
        _ => (value, false),
    }
}

/// Parses a setting: its mode value and whether it asks for the advisory-options policy.
/// `force+advisory` is invalid: `force` answers every option as the kernel does.
pub fn parse_setting(value: &[u8]) -> (ModeValue, bool) {
    let (base, advisory) = split_advisory(value);
    match parse_mode(base) {
        ModeValue::Set(Mode::Force) if advisory => (ModeValue::Invalid, false),
        mode => (mode, advisory),
    }
}

/// The canonical name of a setting, as the launcher writes it into `MPTCPIZE` (`force` has no
/// advisory form).
pub fn setting_name(mode: Mode, advisory: bool) -> &'static str {
    match (mode, advisory) {
        (Mode::Off, true) => "off+advisory",
        (Mode::On, true) => "on+advisory",
        (Mode::Listen, true) => "listen+advisory",
        (Mode::Connect, true) => "connect+advisory",
        (mode, _) => mode.name(),
    }
}

/// The value of the last `multipathtcp=` entry in a `GODEBUG` list (Go lets the last one win).
pub fn godebug_mptcp(godebug: &[u8]) -> Option<&[u8]> {
    godebug
        .split(|&b| b == b',')
        .filter_map(|entry| entry.strip_prefix(b"multipathtcp="))
        .next_back()
}

impl Mode {
    /// The canonical name, as the launcher writes it into `MPTCPIZE`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::On => "on",
            Mode::Listen => "listen",
            Mode::Connect => "connect",
            Mode::Force => "force",
        }
    }

    /// Go's `multipathtcp=N` for this mode (`force` is ours alone: Go's nearest is `1`).
    pub fn go_value(self) -> u8 {
        match self {
            Mode::Off => 0,
            Mode::On | Mode::Force => 1,
            Mode::Listen => 2,
            Mode::Connect => 3,
        }
    }
}

/// Parses the value of Go's `multipathtcp=`: the digits `0`-`3` only (`force` is not Go's).
pub fn parse_go_mode(value: &[u8]) -> ModeValue {
    match parse_mode(value) {
        ModeValue::Set(mode) if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
            ModeValue::Set(mode)
        }
        _ => ModeValue::Invalid,
    }
}

/// `GODEBUG` with every `multipathtcp=` entry (and empty entry) removed and one
/// `multipathtcp=N` for `mode` appended, the other settings kept in their order. Generic over
/// the byte container (a `Vec<u8>` in the launcher) so this file needs no allocator.
pub fn godebug_with<T: Default + Extend<u8>>(godebug: &[u8], mode: Mode) -> T {
    let mut result = T::default();
    for entry in godebug.split(|&b| b == b',') {
        if !entry.is_empty() && !entry.starts_with(b"multipathtcp=") {
            result.extend(entry.iter().copied());
            result.extend([b',']);
        }
    }
    result.extend(*b"multipathtcp=");
    result.extend([b'0' + mode.go_value()]);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_go_values_round_trip() {
        for mode in [
            Mode::Off,
            Mode::On,
            Mode::Listen,
            Mode::Connect,
            Mode::Force,
        ] {
            assert_eq!(parse_mode(mode.name().as_bytes()), ModeValue::Set(mode));
            let go = [b'0' + mode.go_value()];
            let back = if mode == Mode::Force { Mode::On } else { mode };
            assert_eq!(parse_go_mode(&go), ModeValue::Set(back));
        }
        assert_eq!(parse_go_mode(b"force"), ModeValue::Invalid);
        assert_eq!(parse_go_mode(b""), ModeValue::Invalid);
    }

    #[test]
    fn the_advisory_suffix_splits_off_and_names_round_trip() {
        let table: &[(&[u8], &[u8], bool)] = &[
            (b"on+advisory", b"on", true),
            (b" Force+ADVISORY\n", b"Force", true),
            (b"+advisory", b"", true),
            (b"1+advisory", b"1", true),
            (b"on", b"on", false),
            (b"advisory", b"advisory", false),
            (b"on+advisory+advisory", b"on+advisory", true),
            (b"on+advisor", b"on+advisor", false),
            (b"", b"", false),
        ];
        for (value, base, advisory) in table {
            assert_eq!(split_advisory(value), (*base, *advisory), "{value:?}");
        }
        for mode in [
            Mode::Off,
            Mode::On,
            Mode::Listen,
            Mode::Connect,
            Mode::Force,
        ] {
            for advisory in [false, true] {
                let advisory = advisory && mode != Mode::Force;
                let name = setting_name(mode, advisory).as_bytes();
                assert_eq!(parse_setting(name), (ModeValue::Set(mode), advisory));
            }
        }
        assert_eq!(
            parse_setting(b"force+advisory"),
            (ModeValue::Invalid, false)
        );
        assert_eq!(parse_setting(b"+advisory"), (ModeValue::Unset, true));
        assert_eq!(
            parse_mode(split_advisory(b"on+advisory+advisory").0),
            ModeValue::Invalid
        );
    }

    #[test]
    fn godebug_with_replaces_every_entry() {
        let table: &[(&[u8], Mode, &[u8])] = &[
            (b"", Mode::On, b"multipathtcp=1"),
            (b"http2client=0", Mode::Off, b"http2client=0,multipathtcp=0"),
            (
                b"multipathtcp=0,,x=1,multipathtcp=2",
                Mode::Connect,
                b"x=1,multipathtcp=3",
            ),
            (b"a=1,", Mode::Force, b"a=1,multipathtcp=1"),
        ];
        for (godebug, mode, expected) in table {
            assert_eq!(godebug_with::<Vec<u8>>(godebug, *mode), *expected);
        }
    }
}
