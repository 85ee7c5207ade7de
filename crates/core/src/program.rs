//! What kind of program a file is, read from its ELF headers: whether the preload can reach it (a
//! dynamically linked glibc program), or why not (Go makes its own sockets, a static program has
//! no loader, a musl program cannot load our glibc library). For Go, which release built it:
//! `GODEBUG=multipathtcp` exists only from Go 1.21 (its listen and connect values from 1.24).
//!
//! One definition for the launcher (which says what reaches a program before it runs it) and the
//! preload (which, at `execve()`, hands a program it cannot reach to the seccomp supervisor). So
//! it allocates nothing and reads through [`ReadAt`]: the ELF header, the program headers, the
//! section headers and their name table in one read each when they fit the buffers here (one read
//! per item when they do not), and the first bytes of Go's build-info section. A typical program
//! costs four reads (five for Go), whatever its size. A script's `#!` line names the program
//! that really runs ([`script_interpreter`]), which callers inspect instead.

use core::fmt;

/// A file to read from, at an offset.
pub trait ReadAt {
    /// Fills `buffer` from `offset`, or `None` when the file ends first or cannot be read.
    fn read_exact_at(&mut self, offset: u64, buffer: &mut [u8]) -> Option<()>;
}

/// How the preload relates to a program file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    /// Not an ELF file (a script: its interpreter is what runs), or unreadable.
    NotElf,
    /// A Go program: it makes its own sockets (the preload never sees them).
    Go(GoRelease),
    /// No program interpreter: nothing loads the preload.
    Static,
    /// Loaded by musl's ld.so: our glibc library cannot load there.
    Musl,
    /// A dynamically linked program the preload reaches.
    Dynamic,
}

impl Program {
    /// Whether neither the preload nor `GODEBUG=multipathtcp=1` reaches it: only the seccomp
    /// supervisor does.
    pub fn needs_supervisor(self) -> bool {
        match self {
            Program::Static | Program::Musl => true,
            Program::Go(release) => !release.follows_godebug(),
            Program::Dynamic | Program::NotElf => false,
        }
    }

    /// The same in `mode`: in `listen` and `connect`, a Go program also needs the supervisor
    /// before Go 1.24 (`GODEBUG`'s listen and connect values); in `off`, nothing does.
    pub fn needs_supervisor_in(self, mode: crate::config::Mode) -> bool {
        use crate::config::Mode;
        match (self, mode) {
            (_, Mode::Off) => false,
            (Program::Go(release), Mode::Listen | Mode::Connect) => {
                !release.follows_godebug_directions()
            }
            _ => self.needs_supervisor(),
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

impl fmt::Display for GoRelease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GoRelease::Minor(minor) => write!(f, "Go 1.{minor}"),
            GoRelease::Unknown => f.write_str("Go (release unknown, before 1.18)"),
        }
    }
}

/// The longest `#!` line the kernel reads (`BINPRM_BUF_SIZE`).
pub const SCRIPT_LINE_BYTES: usize = 256;

/// The interpreter a script names on its `#!` line, from the file's first bytes (`start`, up to
/// [`SCRIPT_LINE_BYTES`]): what the kernel runs for it, and so what must be reached. `None`
/// when `start` is not such a script.
pub fn script_interpreter(start: &[u8]) -> Option<&[u8]> {
    let line = start.strip_prefix(b"#!")?;
    let line = line.split(|&b| b == b'\n').next()?;
    let path = line
        .split(|&b| b == b' ' || b == b'\t')
        .find(|word| !word.is_empty())?;
    // A line longer than the buffer was cut: the kernel would refuse it too (ENOEXEC).
    (start.len() < SCRIPT_LINE_BYTES || start.contains(&b'\n')).then_some(path)
}

/// `PT_INTERP`, `SHT_NOBITS`.
const PT_INTERP: u32 = 3;
const SHT_NOBITS: u32 = 8;
/// The section Go's linker writes its build info to.
const GO_BUILDINFO: &[u8] = b".go.buildinfo\0";
/// Program headers read in one piece (more are read one by one).
const PROGRAM_HEADERS_AT_ONCE: usize = 24;
/// Section headers read in one piece (more are read one by one), and the name table's bytes.
const SECTION_HEADERS_AT_ONCE: usize = 64;
const NAMES_AT_ONCE: usize = 1024;
/// An interpreter path longer than this is read in part (musl's is `/lib/ld-musl-x86_64.so.1`).
const INTERPRETER_BYTES: usize = 64;

/// The fields of an ELF file this module reads, by class and byte order.
#[derive(Clone, Copy)]
struct Layout {
    wide: bool,
    big_endian: bool,
}

impl Layout {
    fn word(self, bytes: &[u8], at: usize) -> u64 {
        let take = |n: usize| -> u64 {
            let mut value = 0u64;
            for i in 0..n {
                let byte = u64::from(bytes.get(at + i).copied().unwrap_or(0));
                value |= if self.big_endian {
                    byte << (8 * (n - 1 - i))
                } else {
                    byte << (8 * i)
                };
            }
            value
        };
        take(if self.wide { 8 } else { 4 })
    }

    fn u32(self, bytes: &[u8], at: usize) -> u32 {
        let four = [0, 1, 2, 3].map(|i| bytes.get(at + i).copied().unwrap_or(0));
        if self.big_endian {
            u32::from_be_bytes(four)
        } else {
            u32::from_le_bytes(four)
        }
    }

    fn u16(self, bytes: &[u8], at: usize) -> u16 {
        let two = [0, 1].map(|i| bytes.get(at + i).copied().unwrap_or(0));
        if self.big_endian {
            u16::from_be_bytes(two)
        } else {
            u16::from_le_bytes(two)
        }
    }

    /// Size of one program header and one section header.
    fn program_header_size(self) -> usize {
        if self.wide { 56 } else { 32 }
    }
    fn section_header_size(self) -> usize {
        if self.wide { 64 } else { 40 }
    }
}

/// The file header's fields this module uses.
struct Header {
    layout: Layout,
    program_headers: u64,
    program_header_count: usize,
    sections: u64,
    section_count: usize,
    names_index: usize,
}

/// Inspects the program `file` holds.
pub fn inspect(file: &mut impl ReadAt) -> Program {
    let Some(header) = header(file) else {
        return Program::NotElf;
    };
    if let Some(release) = go_release_of(file, &header) {
        return Program::Go(release);
    }
    let mut interpreter = [0u8; INTERPRETER_BYTES];
    match interpreter_of(file, &header, &mut interpreter) {
        None => Program::NotElf,
        Some(None) => Program::Static,
        Some(Some(path)) if path.windows(6).any(|w| w == b"ld-mus") => Program::Musl,
        Some(Some(_)) => Program::Dynamic,
    }
}

fn header(file: &mut impl ReadAt) -> Option<Header> {
    let mut bytes = [0u8; 64];
    // A 64-bit header is 64 bytes, a 32-bit one 52: one read for either in practice.
    if file.read_exact_at(0, &mut bytes).is_none() {
        file.read_exact_at(0, &mut bytes[..52])?;
    }
    if bytes[..4] != *b"\x7fELF" {
        return None;
    }
    let layout = Layout {
        wide: match bytes[4] {
            1 => false,
            2 => true,
            _ => return None,
        },
        big_endian: match bytes[5] {
            1 => false,
            2 => true,
            _ => return None,
        },
    };
    // e_phoff, e_shoff, then e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx.
    let (offsets, counts) = if layout.wide { (32, 54) } else { (28, 42) };
    let step = if layout.wide { 8 } else { 4 };
    let header = Header {
        layout,
        program_headers: layout.word(&bytes, offsets),
        sections: layout.word(&bytes, offsets + step),
        program_header_count: usize::from(layout.u16(&bytes, counts + 2)),
        section_count: usize::from(layout.u16(&bytes, counts + 6)),
        names_index: usize::from(layout.u16(&bytes, counts + 8)),
    };
    let sizes_match = usize::from(layout.u16(&bytes, counts)) == layout.program_header_size()
        || header.program_header_count == 0;
    sizes_match.then_some(header)
}

/// The program interpreter's path (`PT_INTERP`), `Some(None)` without one, `None` when the
/// program headers cannot be read.
fn interpreter_of<'a>(
    file: &mut impl ReadAt,
    header: &Header,
    path: &'a mut [u8; INTERPRETER_BYTES],
) -> Option<Option<&'a [u8]>> {
    let size = header.layout.program_header_size();
    let mut table = [0u8; PROGRAM_HEADERS_AT_ONCE * 56];
    let at_once = header.program_header_count <= PROGRAM_HEADERS_AT_ONCE;
    if at_once {
        let whole = table.get_mut(..header.program_header_count * size)?;
        file.read_exact_at(header.program_headers, whole)?;
    }
    for index in 0..header.program_header_count {
        let entry = if at_once {
            table.get(index * size..(index + 1) * size)?
        } else {
            let at = header.program_headers + (index * size) as u64;
            file.read_exact_at(at, table.get_mut(..size)?)?;
            table.get(..size)?
        };
        let layout = header.layout;
        if layout.u32(entry, 0) != PT_INTERP {
            continue;
        }
        // p_offset and p_filesz.
        let (offset, length) = if layout.wide {
            (layout.word(entry, 8), layout.word(entry, 32))
        } else {
            (layout.word(entry, 4), layout.word(entry, 16))
        };
        let length = usize::try_from(length).ok()?.min(INTERPRETER_BYTES);
        file.read_exact_at(offset, path.get_mut(..length)?)?;
        let read = path.get(..length)?;
        let end = read.iter().position(|&b| b == 0).unwrap_or(length);
        return Some(read.get(..end));
    }
    Some(None)
}

/// The release in the program's `.go.buildinfo` section, if it has one.
fn go_release_of(file: &mut impl ReadAt, header: &Header) -> Option<GoRelease> {
    let layout = header.layout;
    let size = layout.section_header_size();
    let count = header.section_count;
    if count == 0 || header.names_index >= count {
        return None;
    }
    let mut table = [0u8; SECTION_HEADERS_AT_ONCE * 64];
    let at_once = count <= SECTION_HEADERS_AT_ONCE;
    if at_once {
        file.read_exact_at(header.sections, table.get_mut(..count * size)?)?;
    }
    let mut one = [0u8; 64];
    let mut section = |index: usize, file: &mut _| -> Option<Section> {
        let entry = if at_once {
            table.get(index * size..(index + 1) * size)?
        } else {
            let at = header.sections + (index * size) as u64;
            ReadAt::read_exact_at(file, at, one.get_mut(..size)?)?;
            one.get(..size)?
        };
        Some(Section::read(layout, entry))
    };
    let names = section(header.names_index, file)?;
    let mut name_bytes = [0u8; NAMES_AT_ONCE];
    let names_fit = names.size <= NAMES_AT_ONCE as u64;
    if names_fit {
        file.read_exact_at(names.offset, name_bytes.get_mut(..names.size as usize)?)?;
    }
    for index in 0..count {
        let candidate = section(index, file)?;
        let name_at = u64::from(candidate.name);
        let named = if names_fit {
            let at = name_at as usize;
            name_bytes
                .get(at..at + GO_BUILDINFO.len())
                .is_some_and(|name| name == GO_BUILDINFO)
        } else {
            let mut name = [0u8; GO_BUILDINFO.len()];
            name_at + GO_BUILDINFO.len() as u64 <= names.size
                && file
                    .read_exact_at(names.offset + name_at, &mut name)
                    .is_some()
                && name == GO_BUILDINFO
        };
        if !named {
            continue;
        }
        // A section without file contents reads as empty: no release in it.
        if candidate.kind == SHT_NOBITS {
            return Some(GoRelease::Unknown);
        }
        let mut start = [0u8; BUILDINFO_READ];
        let length = candidate.size.min(BUILDINFO_READ as u64) as usize;
        let start = start.get_mut(..length)?;
        if file.read_exact_at(candidate.offset, start).is_none() {
            return Some(GoRelease::Unknown);
        }
        return Some(go_release(start));
    }
    None
}

/// The fields of a section header this module uses.
struct Section {
    name: u32,
    kind: u32,
    offset: u64,
    size: u64,
}

impl Section {
    fn read(layout: Layout, entry: &[u8]) -> Section {
        let (offset, size) = if layout.wide { (24, 32) } else { (16, 20) };
        Section {
            name: layout.u32(entry, 0),
            kind: layout.u32(entry, 4),
            offset: layout.word(entry, offset),
            size: layout.word(entry, size),
        }
    }
}

/// The start of Go's build info: a magic string, the pointer size, and flags.
const BUILDINFO_MAGIC: &[u8] = b"\xff Go buildinf:";
/// The flag saying the version and module strings follow inline, each after its varint length
/// (Go 1.18 and later), from offset 32.
const BUILDINFO_INLINE: u8 = 0x2;
const BUILDINFO_STRINGS: usize = 32;
/// How much of the section is read: the header and a version string of up to 86 bytes.
const BUILDINFO_READ: usize = 128;

/// The Go release in (the start of) a `.go.buildinfo` section: the version string (`go1.19.8`,
/// `go1.22rc1`, `devel go1.23-…`) gives the minor number.
pub fn go_release(buildinfo: &[u8]) -> GoRelease {
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
    let mut minor: Option<u32> = None;
    let digits = version.get(at + 4..).unwrap_or_default();
    for &byte in digits.iter().take_while(|b| b.is_ascii_digit()) {
        let digit = u32::from(byte.wrapping_sub(b'0'));
        minor = minor
            .unwrap_or(0)
            .checked_mul(10)
            .and_then(|m| m.checked_add(digit));
        if minor.is_none() {
            return GoRelease::Unknown;
        }
    }
    minor.map_or(GoRelease::Unknown, GoRelease::Minor)
}

/// A little-endian base-128 number (Go's `binary.Uvarint`) and the bytes after it.
fn uvarint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, bytes.get(i + 1..)?));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    impl ReadAt for &[u8] {
        fn read_exact_at(&mut self, offset: u64, buffer: &mut [u8]) -> Option<()> {
            let start = usize::try_from(offset).ok()?;
            buffer.copy_from_slice(self.get(start..start.checked_add(buffer.len())?)?);
            Some(())
        }
    }

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
            (b"go1.99999999999", GoRelease::Unknown),
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
        assert!(Program::Go(GoRelease::Minor(19)).needs_supervisor());
        assert!(!Program::Go(GoRelease::Minor(21)).needs_supervisor());
        assert!(Program::Static.needs_supervisor() && Program::Musl.needs_supervisor());
        assert!(!Program::Dynamic.needs_supervisor() && !Program::NotElf.needs_supervisor());
        use crate::config::Mode;
        let go = |minor| Program::Go(GoRelease::Minor(minor));
        assert!(go(22).needs_supervisor_in(Mode::Listen));
        assert!(!go(22).needs_supervisor_in(Mode::On));
        assert!(!go(24).needs_supervisor_in(Mode::Connect));
        assert!(!Program::Static.needs_supervisor_in(Mode::Off));
        assert!(Program::Musl.needs_supervisor_in(Mode::Connect));
    }

    /// A 64-bit little-endian ELF file with the given interpreter and sections (name, type,
    /// contents).
    fn elf64(interpreter: Option<&[u8]>, sections: &[(&[u8], u32, &[u8])]) -> Vec<u8> {
        let mut file = vec![0u8; 64];
        file[..6].copy_from_slice(b"\x7fELF\x02\x01");
        let put = |file: &mut Vec<u8>, at: usize, bytes: &[u8]| {
            if file.len() < at + bytes.len() {
                file.resize(at + bytes.len(), 0);
            }
            file[at..at + bytes.len()].copy_from_slice(bytes);
        };
        // One program header at 64: PT_INTERP pointing at the path, or PT_LOAD.
        put(&mut file, 32, &64u64.to_le_bytes());
        put(&mut file, 54, &56u16.to_le_bytes());
        put(&mut file, 56, &1u16.to_le_bytes());
        let mut data_at = 64 + 56;
        let kind: u32 = if interpreter.is_some() { PT_INTERP } else { 1 };
        put(&mut file, 64, &kind.to_le_bytes());
        if let Some(path) = interpreter {
            put(&mut file, 64 + 8, &(data_at as u64).to_le_bytes());
            put(&mut file, 64 + 32, &(path.len() as u64 + 1).to_le_bytes());
            put(&mut file, data_at, path);
            data_at += path.len() + 1;
        }
        // The name table, then each section's contents, then the headers: index 0 is the null
        // section, the last is the name table.
        let mut names = vec![0u8];
        let mut headers = vec![[0u8; 64]];
        for &(name, kind, contents) in sections {
            let mut header = [0u8; 64];
            header[..4].copy_from_slice(&(names.len() as u32).to_le_bytes());
            names.extend(name);
            names.push(0);
            header[4..8].copy_from_slice(&kind.to_le_bytes());
            header[24..32].copy_from_slice(&(data_at as u64).to_le_bytes());
            header[32..40].copy_from_slice(&(contents.len() as u64).to_le_bytes());
            put(&mut file, data_at, contents);
            data_at += contents.len();
            headers.push(header);
        }
        let mut table = [0u8; 64];
        table[..4].copy_from_slice(&(names.len() as u32).to_le_bytes());
        names.extend(b".shstrtab\0");
        table[24..32].copy_from_slice(&(data_at as u64).to_le_bytes());
        table[32..40].copy_from_slice(&(names.len() as u64).to_le_bytes());
        put(&mut file, data_at, &names);
        data_at += names.len();
        headers.push(table);
        put(&mut file, 40, &(data_at as u64).to_le_bytes());
        put(&mut file, 58, &64u16.to_le_bytes());
        put(&mut file, 60, &(headers.len() as u16).to_le_bytes());
        put(&mut file, 62, &(headers.len() as u16 - 1).to_le_bytes());
        for header in headers {
            put(&mut file, data_at, &header);
            data_at += 64;
        }
        file
    }

    fn kind_of(file: &[u8]) -> Program {
        inspect(&mut &file[..])
    }

    #[test]
    fn programs_are_told_apart_by_interpreter_and_build_info() {
        let glibc = Some(&b"/lib64/ld-linux-x86-64.so.2"[..]);
        let musl = Some(&b"/lib/ld-musl-x86_64.so.1"[..]);
        let text: (&[u8], u32, &[u8]) = (b".text", 1, b"\x90\x90");
        assert_eq!(kind_of(&elf64(glibc, &[text])), Program::Dynamic);
        assert_eq!(kind_of(&elf64(musl, &[text])), Program::Musl);
        assert_eq!(kind_of(&elf64(None, &[text])), Program::Static);
        let info = buildinfo(BUILDINFO_INLINE, b"go1.19.8");
        let go: (&[u8], u32, &[u8]) = (b".go.buildinfo", 1, &info);
        for interpreter in [None, glibc] {
            assert_eq!(
                kind_of(&elf64(interpreter, &[text, go])),
                Program::Go(GoRelease::Minor(19))
            );
        }
        let empty: (&[u8], u32, &[u8]) = (b".go.buildinfo", SHT_NOBITS, b"");
        assert_eq!(
            kind_of(&elf64(None, &[empty])),
            Program::Go(GoRelease::Unknown)
        );
        // A name that only starts like it.
        let longer: (&[u8], u32, &[u8]) = (b".go.buildinfo.x", 1, &info);
        assert_eq!(kind_of(&elf64(glibc, &[longer])), Program::Dynamic);
    }

    #[test]
    fn a_script_names_its_interpreter() {
        assert_eq!(
            script_interpreter(b"#!/bin/sh\necho"),
            Some(&b"/bin/sh"[..])
        );
        assert_eq!(
            script_interpreter(b"#! /bin/busybox sh -e\n"),
            Some(&b"/bin/busybox"[..])
        );
        assert_eq!(
            script_interpreter(b"#!\t/usr/bin/env python3"),
            Some(&b"/usr/bin/env"[..])
        );
        assert_eq!(script_interpreter(b"#!\n"), None);
        assert_eq!(script_interpreter(b"\x7fELF"), None);
        assert_eq!(script_interpreter(b"echo hi"), None);
        let long = [b"#!/".as_slice(), &[b'x'; SCRIPT_LINE_BYTES]].concat();
        assert_eq!(script_interpreter(&long[..SCRIPT_LINE_BYTES]), None);
    }

    #[test]
    fn anything_else_or_cut_short_is_not_elf() {
        assert_eq!(kind_of(b"#!/bin/sh\necho hi\n"), Program::NotElf);
        assert_eq!(kind_of(b""), Program::NotElf);
        let whole = elf64(
            Some(b"/lib64/ld-linux-x86-64.so.2"),
            &[(b".text", 1, b"..")],
        );
        for cut in [10, 60, 100] {
            assert_eq!(kind_of(&whole[..cut]), Program::NotElf, "cut at {cut}");
        }
    }
}
