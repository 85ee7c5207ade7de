//! The variables a program runs with: `LD_PRELOAD` (ours appended, never twice), `MPTCPIZE` and
//! `GODEBUG=multipathtcp=N` for the mode, and the log variables. The decisions are pure
//! functions of the inherited values (unit-tested below); `env` prints them.

use super::args::Options;
use super::{Failure, LIB_NAME, locate};
use crate::config::{Config, Origin};
use crate::mode::{Mode, godebug_with, setting_name};
use std::ffi::CStr;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// What to set in a program's environment (`None`: leave that variable as inherited).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Variables {
    pub ld_preload: Option<Vec<u8>>,
    pub mptcpize: Option<&'static str>,
    pub godebug: Option<Vec<u8>>,
    pub log: Option<&'static str>,
    pub log_file: Option<OsString>,
}

impl Variables {
    /// The variables for `options`, given the inherited values and the library (None: do not
    /// preload it, e.g. for a musl program).
    pub fn new(
        options: &Options,
        inherited: &dyn Fn(&str) -> Option<Vec<u8>>,
        library: Option<&OsStr>,
    ) -> Variables {
        let mut variables = Variables::default();
        let existing = inherited("LD_PRELOAD").unwrap_or_default();
        match library {
            Some(library) => {
                variables.ld_preload = Some(preload_with(&existing, library.as_bytes()));
            }
            // Not preloaded (a musl program, which our glibc library would break; the seccomp
            // path): an inherited copy of the library goes too.
            None => {
                let without = preload_without(&existing);
                if without != existing {
                    variables.ld_preload = Some(without);
                }
            }
        }
        let godebug = inherited("GODEBUG").unwrap_or_default();
        let mptcpize = inherited("MPTCPIZE").unwrap_or_default();
        let asked = options.mode.map(|mode| (mode, options.advisory));
        if let Some((mode, advisory)) = asked.or_else(|| inherited_setting(&mptcpize, &godebug)) {
            variables.mptcpize = Some(setting_name(mode, advisory));
            variables.godebug = Some(godebug_with(&godebug, mode));
        }
        if options.debug {
            variables.log = Some("debug");
        }
        variables.log_file = options.log_file.as_ref().map(|file| absolute(file));
        variables
    }

    /// `(name, value)` for every variable to set, in the order `env` prints them.
    pub fn assignments(&self) -> Vec<(&'static str, Vec<u8>)> {
        let mut list = Vec::new();
        if let Some(value) = &self.ld_preload {
            list.push(("LD_PRELOAD", value.clone()));
        }
        if let Some(value) = self.mptcpize {
            list.push(("MPTCPIZE", value.as_bytes().to_vec()));
        }
        if let Some(value) = &self.godebug {
            list.push(("GODEBUG", value.clone()));
        }
        if let Some(value) = self.log {
            list.push(("MPTCPIZE_LOG", value.as_bytes().to_vec()));
        }
        if let Some(value) = &self.log_file {
            list.push(("MPTCPIZE_LOG_FILE", value.as_bytes().to_vec()));
        }
        list
    }
}

/// The mode an environment already asks for, by the library's own rule (`MPTCPIZE`, else Go's
/// setting, else on: mptcpize-core's `Config`), and whether it asks for the advisory-options
/// policy (`+advisory`). `None` when the inherited value is invalid: the library reports it and
/// stays out of the way, so nothing is changed.
pub fn inherited_setting(mptcpize: &[u8], godebug: &[u8]) -> Option<(Mode, bool)> {
    let lookup = |name: &CStr| match name.to_bytes() {
        b"MPTCPIZE" => Some(mptcpize),
        b"GODEBUG" => Some(godebug),
        _ => None,
    };
    let config = Config::from_lookup(lookup, true);
    (config.origin != Origin::Invalid).then_some((config.mode, config.advisory))
}

/// `LD_PRELOAD` with the library appended, unless a copy of it (any directory) is already
/// there. ld.so separates entries with colons or spaces; both are kept as they are.
pub fn preload_with(existing: &[u8], library: &[u8]) -> Vec<u8> {
    let already = existing
        .split(|&b| b == b':' || b == b' ' || b == b'\t' || b == b'\n')
        .any(|entry| entry.rsplit(|&b| b == b'/').next() == Some(LIB_NAME.as_bytes()));
    if already {
        return existing.to_vec();
    }
    if existing.is_empty() {
        return library.to_vec();
    }
    [existing, b":", library].concat()
}

/// `LD_PRELOAD` without any copy of the library (its other entries kept, colon-separated).
pub fn preload_without(existing: &[u8]) -> Vec<u8> {
    let is_ours = |entry: &[u8]| entry.rsplit(|&b| b == b'/').next() == Some(LIB_NAME.as_bytes());
    let entries = || existing.split(|&b| b == b':' || b == b' ' || b == b'\t' || b == b'\n');
    if !entries().any(is_ours) {
        return existing.to_vec();
    }
    let kept: Vec<&[u8]> = entries().filter(|e| !e.is_empty() && !is_ours(e)).collect();
    kept.join(&b':')
}

fn absolute(file: &OsStr) -> OsString {
    if file.as_bytes().starts_with(b"/") {
        return file.to_os_string();
    }
    match std::env::current_dir() {
        Ok(dir) => dir.join(file).into_os_string(),
        Err(_) => file.to_os_string(),
    }
}

/// `env`: the lines to export, or with `--systemd` the `Environment=` lines, for the mode
/// asked (on by default), from a clean slate: they describe the setting, not this shell.
pub fn print_env(options: &Options) -> Result<i32, Failure> {
    let library = locate::library()?;
    let variables = Variables::new(options, &|_| None, Some(library.as_os_str()));
    let mut out = String::new();
    for (name, value) in variables.assignments() {
        let value = String::from_utf8_lossy(&value);
        if options.systemd {
            out.push_str(&format!(
                "Environment=\"{name}={}\"\n",
                super::unit_file::quote_value(&value)
            ));
        } else {
            out.push_str(&format!("export {name}={}\n", shell_quote(&value)));
        }
    }
    print!("{out}");
    Ok(0)
}

/// A word the shell reads back as `value` (bash's `%q` leaves safe words bare).
pub fn shell_quote(value: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+=:,@%^".contains(c);
    if !value.is_empty() && value.chars().all(safe) {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// The process's own value of a variable, as bytes.
pub fn inherited(name: &str) -> Option<Vec<u8>> {
    std::env::var_os(name).map(OsString::into_vec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preload_is_appended_once() {
        let lib = b"/usr/lib/mptcpize-rs/libmptcpize_rs.so";
        let table: &[(&[u8], &[u8])] = &[
            (b"", lib),
            (b"/a.so", b"/a.so:/usr/lib/mptcpize-rs/libmptcpize_rs.so"),
            (
                b"/a.so /b.so",
                b"/a.so /b.so:/usr/lib/mptcpize-rs/libmptcpize_rs.so",
            ),
            (b"/x/libmptcpize_rs.so", b"/x/libmptcpize_rs.so"),
            (b"/a.so /x/libmptcpize_rs.so", b"/a.so /x/libmptcpize_rs.so"),
        ];
        for (existing, expected) in table {
            assert_eq!(preload_with(existing, lib), *expected);
        }
    }

    #[test]
    fn preload_without_drops_only_our_copies() {
        let table: &[(&[u8], &[u8])] = &[
            (b"", b""),
            (b"/a.so /b.so", b"/a.so /b.so"),
            (b"/x/libmptcpize_rs.so", b""),
            (b"/a.so /x/libmptcpize_rs.so:/b.so", b"/a.so:/b.so"),
        ];
        for (existing, expected) in table {
            assert_eq!(preload_without(existing), *expected);
        }
    }

    #[test]
    fn inherited_setting_table() {
        type Setting = Option<(Mode, bool)>;
        let table: &[(&[u8], &[u8], Setting)] = &[
            (b"", b"", Some((Mode::On, false))),
            (b"default", b"multipathtcp=0", Some((Mode::Off, false))),
            (b"", b"x=1,multipathtcp=2", Some((Mode::Listen, false))),
            (b"Force", b"multipathtcp=0", Some((Mode::Force, false))),
            (b"on+advisory", b"", Some((Mode::On, true))),
            (b"+advisory", b"multipathtcp=3", Some((Mode::Connect, true))),
            (b"bogus", b"", None),
            (b"bogus+advisory", b"", None),
            (b"", b"multipathtcp=force", None),
            (b"", b"multipathtcp=", None),
        ];
        for (mptcpize, godebug, expected) in table {
            assert_eq!(inherited_setting(mptcpize, godebug), *expected);
        }
    }

    #[test]
    fn shell_quote_reads_back() {
        assert_eq!(shell_quote("/a/b.so"), "/a/b.so");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
