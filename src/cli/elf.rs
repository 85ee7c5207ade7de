//! What kind of program a file is, read from its ELF headers: whether the library can reach it
//! (a dynamically linked glibc program), or why not (Go makes its own sockets, a static program
//! has no loader, a musl program cannot load our glibc library). For Go, which release built it:
//! `GODEBUG=multipathtcp` exists only from Go 1.21 (its listen and connect values from 1.24).
//!
//! Only the headers, the program headers, the section-name table and Go's small build-info
//! section are read, each in one piece (object's `ReadCache` reads ranges on demand), so a large
//! binary costs no more than a small one.

use crate::mode::Mode;
use object::elf::{FileHeader32, FileHeader64};
use object::read::ReadCache;
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader};
use object::{Endianness, FileKind};
use std::fs::File;
use std::path::Path;

/// How the library relates to a program file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    /// Not an ELF file (a script: its interpreter is what runs), or unreadable.
    NotElf,
    /// A Go program: it makes its own sockets (the library never sees them).
    Go(GoRelease),
    /// No program interpreter: nothing loads the library.
    Static,
    /// Loaded by musl's ld.so: our glibc library cannot load there.
    Musl,
    /// A dynamically linked program the library reaches.
    Dynamic,
}

impl Program {
    /// Why neither the preloaded library nor `GODEBUG` reaches this program in `mode` (what a
    /// unit's drop-in sets); None when one of them does, or in mode off.
    pub fn unreached_by_environment(self, mode: Mode) -> Option<String> {
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

/// The Go release that built a program, as its build info says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoRelease {
    /// Go 1.N: the minor number N (Go 1.18 and later write the version in the build info).
    Minor(u32),
    /// No readable version: build info older than Go 1.18's (the version sits behind pointers
    /// into the data), or one this code does not understand.
    Unknown,
}

impl GoRelease {
    /// Whether the program follows `GODEBUG=multipathtcp=1` (Go 1.21).
    pub fn follows_godebug(self) -> bool {
        matches!(self, GoRelease::Minor(minor) if minor >= 21)
    }

    /// Whether it follows the listen and connect values, `multipathtcp=2` and `3` (Go 1.24).
    pub fn follows_godebug_directions(self) -> bool {
        matches!(self, GoRelease::Minor(minor) if minor >= 24)
    }
}

impl std::fmt::Display for GoRelease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GoRelease::Minor(minor) => write!(f, "Go 1.{minor}"),
            GoRelease::Unknown => f.write_str("Go (release unknown, before 1.18)"),
        }
    }
}

/// Inspects the program at `path`.
pub fn inspect(path: &Path) -> Program {
    let Ok(file) = File::open(path) else {
        return Program::NotElf;
    };
    let data = ReadCache::new(file);
    let inspected = match FileKind::parse(&data) {
        Ok(FileKind::Elf32) => inspect_as::<FileHeader32<Endianness>>(&data),
        Ok(FileKind::Elf64) => inspect_as::<FileHeader64<Endianness>>(&data),
        _ => None,
    };
    inspected.unwrap_or(Program::NotElf)
}

fn inspect_as<H: FileHeader<Endian = Endianness>>(data: &ReadCache<File>) -> Option<Program> {
    let header = H::parse(data).ok()?;
    let endian = header.endian().ok()?;
    if let Some(buildinfo) = section(header, endian, data, b".go.buildinfo") {
        return Some(Program::Go(go_release(buildinfo)));
    }
    let mut interpreter = None;
    for segment in header.program_headers(endian, data).ok()? {
        if let Ok(Some(found)) = segment.interpreter(endian, data) {
            interpreter = Some(found);
        }
    }
    Some(match interpreter {
        None => Program::Static,
        Some(path) if path.windows(6).any(|w| w == b"ld-mus") => Program::Musl,
        Some(_) => Program::Dynamic,
    })
}

/// The contents of the section named `name`: the section headers and their name table are read
/// once each (object's own lookup reads every name separately, two syscalls apiece).
fn section<'data, H: FileHeader<Endian = Endianness>>(
    header: &H,
    endian: Endianness,
    data: &'data ReadCache<File>,
    name: &[u8],
) -> Option<&'data [u8]> {
    let sections = header.section_headers(endian, data).ok()?;
    let index = header.shstrndx(endian, data).ok()?;
    let names = sections.get(index as usize)?.data(endian, data).ok()?;
    let found = sections.iter().find(|section| {
        names
            .get(section.sh_name(endian) as usize..)
            .is_some_and(|rest| rest.starts_with(name) && rest.get(name.len()) == Some(&0))
    })?;
    // A section without file contents (SHT_NOBITS) reads as empty: no release in it.
    Some(found.data(endian, data).unwrap_or(&[]))
}

/// The start of Go's build info: a magic string, the pointer size, and flags.
const BUILDINFO_MAGIC: &[u8] = b"\xff Go buildinf:";
/// The flag saying the version and module strings follow inline, each after its varint length
/// (Go 1.18 and later), from offset 32.
const BUILDINFO_INLINE: u8 = 0x2;
const BUILDINFO_STRINGS: usize = 32;

/// The Go release in a `.go.buildinfo` section: the version string (`go1.19.8`, `go1.22rc1`,
/// `devel go1.23-…`) gives the minor number.
fn go_release(buildinfo: &[u8]) -> GoRelease {
    let inline = buildinfo.starts_with(BUILDINFO_MAGIC)
        && buildinfo
            .get(BUILDINFO_MAGIC.len() + 1)
            .is_some_and(|flags| flags & BUILDINFO_INLINE != 0);
    if !inline {
        return GoRelease::Unknown;
    }
    let Some((length, rest)) = buildinfo.get(BUILDINFO_STRINGS..).and_then(uvarint) else {
        return GoRelease::Unknown;
    };
    let Some(version) = usize::try_from(length).ok().and_then(|n| rest.get(..n)) else {
        return GoRelease::Unknown;
    };
    let Some(at) = version.windows(4).position(|w| w == b"go1.") else {
        return GoRelease::Unknown;
    };
    let digits: Vec<u8> = version[at + 4..]
        .iter()
        .copied()
        .take_while(u8::is_ascii_digit)
        .collect();
    std::str::from_utf8(&digits)
        .ok()
        .and_then(|digits| digits.parse().ok())
        .map_or(GoRelease::Unknown, GoRelease::Minor)
}

/// A little-endian base-128 number (Go's `binary.Uvarint`) and the bytes after it.
fn uvarint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, &bytes[i + 1..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buildinfo(flags: u8, version: &[u8]) -> Vec<u8> {
        let mut section = BUILDINFO_MAGIC.to_vec();
        section.extend([8, flags]);
        section.resize(BUILDINFO_STRINGS, 0);
        section.push(version.len() as u8);
        section.extend(version);
        section.extend(b"\x05path\n");
        section
    }

    #[test]
    fn the_release_comes_from_the_inline_version() {
        for (version, release) in [
            (&b"go1.19.8"[..], GoRelease::Minor(19)),
            (b"go1.21.0", GoRelease::Minor(21)),
            (b"go1.22rc1", GoRelease::Minor(22)),
            (b"devel go1.23-abcdef Tue", GoRelease::Minor(23)),
            (b"go1.24.1 X:boringcrypto", GoRelease::Minor(24)),
            (b"go2", GoRelease::Unknown),
            (b"go1.", GoRelease::Unknown),
        ] {
            assert_eq!(go_release(&buildinfo(BUILDINFO_INLINE, version)), release);
        }
    }

    #[test]
    fn old_torn_or_foreign_build_info_is_unknown() {
        // Go before 1.18: pointers, no inline strings.
        assert_eq!(go_release(&buildinfo(0, b"go1.17")), GoRelease::Unknown);
        let whole = buildinfo(BUILDINFO_INLINE, b"go1.20.3");
        for cut in [0, 10, 16, 32, 33, 36] {
            assert_eq!(
                go_release(&whole[..cut]),
                GoRelease::Unknown,
                "cut at {cut}"
            );
        }
        let mut long = buildinfo(BUILDINFO_INLINE, b"go1.20.3");
        long[BUILDINFO_STRINGS] = 0xff; // a length that runs past the end
        assert_eq!(go_release(&long), GoRelease::Unknown);
        assert_eq!(go_release(b"not build info at all"), GoRelease::Unknown);
    }

    #[test]
    fn the_godebug_releases() {
        assert!(!GoRelease::Minor(20).follows_godebug());
        assert!(GoRelease::Minor(21).follows_godebug());
        assert!(!GoRelease::Minor(23).follows_godebug_directions());
        assert!(GoRelease::Minor(24).follows_godebug_directions());
        assert!(!GoRelease::Unknown.follows_godebug());
    }
}
