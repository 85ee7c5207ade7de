//! What kind of program a file is ([`mptcpize_core::program`], one definition with the preload,
//! which reads it at `execve()`), read from the file, and what the launcher says about it.

use crate::mode::Mode;
pub use mptcpize_core::program::{GoRelease, Program};
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The file, read at offsets.
struct Reader(File);

impl mptcpize_core::program::ReadAt for Reader {
    fn read_exact_at(&mut self, offset: u64, buffer: &mut [u8]) -> Option<()> {
        FileExt::read_exact_at(&self.0, buffer, offset).ok()
    }
}

/// Inspects the program at `path` (unreadable: [`Program::NotElf`]); a script is what its `#!`
/// interpreter is (one level, as the library sees it at `exec`).
pub fn inspect(path: &Path) -> Program {
    let Ok(file) = File::open(path) else {
        return Program::NotElf;
    };
    let mut start = [0u8; mptcpize_core::program::SCRIPT_LINE_BYTES];
    let length = file.read_at(&mut start, 0).unwrap_or(0);
    if let Some(interpreter) = mptcpize_core::program::script_interpreter(&start[..length]) {
        let interpreter = Path::new(std::ffi::OsStr::from_bytes(interpreter));
        return match File::open(interpreter) {
            Ok(file) => mptcpize_core::program::inspect(&mut Reader(file)),
            Err(_) => Program::NotElf,
        };
    }
    mptcpize_core::program::inspect(&mut Reader(file))
}

/// What the launcher says about a program.
pub trait Reached {
    fn unreached_by_environment(self, mode: Mode) -> Option<String>;
}

impl Reached for Program {
    /// Why neither the preloaded library nor `GODEBUG` reaches this program in `mode` (what a
    /// unit's drop-in sets); None when one of them does, or in mode off.
    fn unreached_by_environment(self, mode: Mode) -> Option<String> {
        if mode == Mode::Off {
            return None;
        }
        match self {
            Program::Static => Some("statically linked (no loader preloads the library)".into()),
            Program::Musl => Some("a musl program (the library is built for glibc)".into()),
            Program::Go(release) if !release.follows_godebug() => Some(format!(
                "a {release} program (Go has no GODEBUG=multipathtcp before 1.21)"
            )),
            Program::Go(release)
                if matches!(mode, Mode::Listen | Mode::Connect)
                    && !release.follows_godebug_directions() =>
            {
                Some(format!(
                    "a {release} program (GODEBUG's listen and connect values need Go 1.24)"
                ))
            }
            Program::Go(_) | Program::Dynamic | Program::NotElf => None,
        }
    }
}
