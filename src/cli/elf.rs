//! What kind of program a file is, read from its ELF headers: whether the library can reach it
//! (a dynamically linked glibc program), or why not (Go makes its own sockets, a static program
//! has no loader, a musl program cannot load our glibc library).
//!
//! Only the headers, the program headers and the section-name table are read, each in one
//! piece (object's `ReadCache` reads ranges on demand), so a large binary costs no more than a
//! small one.

use object::elf::{FileHeader32, FileHeader64};
use object::read::ReadCache;
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader};
use object::{Endianness, FileKind};
use std::fs::File;
use std::path::Path;

/// How the library relates to a program file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// Not an ELF file (a script: its interpreter is what runs), or unreadable.
    NotElf,
    /// A Go program: it follows `GODEBUG=multipathtcp`, not the library.
    Go,
    /// No program interpreter: nothing loads the library.
    Static,
    /// Loaded by musl's ld.so: our glibc library cannot load there.
    Musl,
    /// A dynamically linked program the library reaches.
    Dynamic,
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
    if has_section(header, endian, data, b".go.buildinfo") {
        return Some(Program::Go);
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

/// Whether a section is named `name`: the section headers and their name table are read once
/// each (object's own lookup reads every name separately, two syscalls apiece).
fn has_section<H: FileHeader<Endian = Endianness>>(
    header: &H,
    endian: Endianness,
    data: &ReadCache<File>,
    name: &[u8],
) -> bool {
    let Ok(sections) = header.section_headers(endian, data) else {
        return false;
    };
    let Ok(index) = header.shstrndx(endian, data) else {
        return false;
    };
    let Some(names) = sections
        .get(index as usize)
        .and_then(|table| table.data(endian, data).ok())
    else {
        return false;
    };
    sections.iter().any(|section| {
        names
            .get(section.sh_name(endian) as usize..)
            .is_some_and(|rest| rest.starts_with(name) && rest.get(name.len()) == Some(&0))
    })
}
