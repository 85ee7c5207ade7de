//! Mode names and Go's `GODEBUG=multipathtcp=N`: the one definition, shared by the library, the
//! launcher and the supervisor (each depends on this crate; the launcher never links the library,
//! whose exported `socket`/`setsockopt`/`listen` would interpose its own calls).

/// The values `MPTCPIZE` takes, as every message that refuses one lists them (`default`: follow
/// `GODEBUG`, else `on`).
pub const ACCEPTED_SETTINGS: &str = "default, 0/off, 1/on, 2/listen, 3/connect, force";
/// The modes a command line may ask for (`-m`): the same without `default`.
pub const ACCEPTED_MODES: &str = "0/off, 1/on, 2/listen, 3/connect, force";

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
