//! Every reference to one socket in this process: its descriptor numbers and epoll
//! registrations, found in `/proc/self/fd` and `/proc/self/fdinfo`, moved to the new socket (and
//! back on a failure); and whether the process has an io_uring, whose registered files nobody can
//! see.
//!
//! Where `/proc` cannot be read (a chroot without it, a mount namespace where it is not mounted),
//! the numbers are found by asking every number below the descriptor limit for its device and
//! inode (`fstat`, which every system call filter lets through). Registrations cannot be read
//! there: any descriptor of an anonymous inode (epoll, io_uring, eventfd, timerfd…) rules the
//! switch out, as it may hold the socket where we cannot look.

use super::NotSwitched;
use super::text::{fdinfo_path, move_to_start, parse_decimal, parse_hex, socket_link};
use crate::sys;
use core::ffi::CStr;
use libc::c_int;

/// Whether this process has an io_uring mapped (its ring descriptor may be closed, as liburing
/// does, while registered files stay registered): `[io_uring]` in `/proc/self/maps`.
pub(super) fn uses_io_uring() -> Result<bool, NotSwitched> {
    let maps = sys::open_read(c"/proc/self/maps", 0)?;
    let needle = b"[io_uring]";
    let mut buffer = [0u8; 8192];
    let mut kept = 0;
    loop {
        let read = sys::read(maps.0, buffer.get_mut(kept..).unwrap_or_default())?;
        let filled = (kept + read).min(buffer.len());
        let seen = buffer.get(..filled).unwrap_or_default();
        if seen.windows(needle.len()).any(|w| w == needle) {
            return Ok(true);
        }
        if read == 0 {
            return Ok(false);
        }
        // Keep the tail, in case the word straddles two reads.
        let tail = filled.min(needle.len() - 1);
        kept = move_to_start(&mut buffer, filled - tail, filled);
    }
}

/// The most numbers one socket may have, epoll instances a process may have, and registrations
/// of one socket we move; beyond that, no switch.
const MAX_NUMBERS: usize = 16;
const MAX_EPOLLS: usize = 1024;
const MAX_REGISTRATIONS: usize = 32;

/// Puts `new` behind every number of the socket, each keeping its own `FD_CLOEXEC`; returns how
/// many were moved. On a failure, those already moved go back to `old`.
pub(super) fn move_numbers(
    references: &References,
    new: c_int,
    old: c_int,
) -> Result<usize, NotSwitched> {
    for (moved, &number) in references.numbers().iter().enumerate() {
        let result = sys::fcntl_get(number, libc::F_GETFD).and_then(|fd_flags| {
            let cloexec = if fd_flags & libc::FD_CLOEXEC != 0 {
                libc::O_CLOEXEC
            } else {
                0
            };
            sys::dup3(new, number, cloexec)
        });
        if let Err(errno) = result {
            move_back(references, moved, old);
            return Err(NotSwitched::Kernel(errno));
        }
    }
    Ok(references.numbers().len())
}

/// Undoes [`move_numbers`] for the first `moved` numbers. The old socket's epoll registrations
/// were never removed (the kernel keeps them while the old file lives), so they hold again.
pub(super) fn move_back(references: &References, moved: usize, old: c_int) {
    for &number in references.numbers().iter().take(moved) {
        let cloexec = match sys::fcntl_get(number, libc::F_GETFD) {
            Ok(fd_flags) if fd_flags & libc::FD_CLOEXEC != 0 => libc::O_CLOEXEC,
            _ => 0,
        };
        let _ = sys::dup3(old, number, cloexec);
    }
}

/// Adds the socket's epoll registrations again, now on the new socket.
pub(super) fn register_again(references: &References) -> Result<(), NotSwitched> {
    for registration in references.registrations() {
        sys::epoll_add(
            registration.epoll,
            registration.number,
            registration.events,
            registration.data,
        )
        .map_err(|_| NotSwitched::Epoll)?;
    }
    Ok(())
}

/// The flags of an epoll registration that are not events (`EPOLLWAKEUP`, `EPOLLONESHOT`,
/// `EPOLLET`, `EPOLLEXCLUSIVE`): a registration with nothing else has fired and is disarmed.
const EPOLL_PRIVATE_BITS: u32 =
    (libc::EPOLLWAKEUP | libc::EPOLLONESHOT | libc::EPOLLET | libc::EPOLLEXCLUSIVE) as u32;

/// One epoll registration of the socket: the instance, the number it was added with, its events
/// (flags included) and the program's data.
#[derive(Clone, Copy, Default)]
struct Registration {
    epoll: c_int,
    number: c_int,
    events: u32,
    data: u64,
}

/// How the references were found.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Sight {
    /// In `/proc/self`: numbers, epoll registrations, and io_uring mappings can be seen.
    Proc,
    /// By asking every number: no anonymous inode is open, so no epoll or io_uring either.
    Scan,
}

/// Every reference to one socket in this process: its numbers and epoll registrations.
pub(super) struct References {
    numbers: [c_int; MAX_NUMBERS],
    number_count: usize,
    registrations: [Registration; MAX_REGISTRATIONS],
    registration_count: usize,
}

impl References {
    pub(super) fn numbers(&self) -> &[c_int] {
        self.numbers.get(..self.number_count).unwrap_or_default()
    }

    fn registrations(&self) -> &[Registration] {
        self.registrations
            .get(..self.registration_count)
            .unwrap_or_default()
    }

    fn none() -> References {
        References {
            numbers: [0; MAX_NUMBERS],
            number_count: 0,
            registrations: [Registration::default(); MAX_REGISTRATIONS],
            registration_count: 0,
        }
    }

    /// Every reference to the socket `socket` (its `fstat`): from `/proc/self/fd` (and the fdinfo
    /// of each epoll instance), or where that cannot be opened, by [`References::scan`]. Says
    /// which way it looked.
    pub(super) fn find(socket: &libc::stat) -> Result<(References, Sight), NotSwitched> {
        match sys::open_read(c"/proc/self/fd", libc::O_DIRECTORY) {
            Ok(directory) => Ok((References::read(&directory, socket.st_ino)?, Sight::Proc)),
            Err(_) => Ok((References::scan(socket)?, Sight::Scan)),
        }
    }

    /// Without `/proc`: every number below the descriptor limit, by device and inode. An
    /// anonymous inode (an epoll instance or an io_uring among them) rules the switch out.
    fn scan(socket: &libc::stat) -> Result<References, NotSwitched> {
        let limit = sys::descriptor_limit()?.min(crate::tracked::TRACKED_FDS as u64);
        let mut found = References::none();
        for number in 0..c_int::try_from(limit).unwrap_or(c_int::MAX) {
            let Ok(stat) = sys::stat(number) else {
                continue; // not open
            };
            if stat.st_dev == socket.st_dev && stat.st_ino == socket.st_ino {
                *found
                    .numbers
                    .get_mut(found.number_count)
                    .ok_or(NotSwitched::Shared)? = number;
                found.number_count += 1;
            } else if stat.st_mode & libc::S_IFMT == 0 {
                return Err(NotSwitched::Unseen);
            }
        }
        Ok(found)
    }

    /// Reads `/proc/self/fd` (open as `directory`) and the fdinfo of each epoll instance for
    /// socket `inode`.
    fn read(directory: &sys::OwnedFd, inode: u64) -> Result<References, NotSwitched> {
        let mut found = References::none();
        let mut epolls = [0 as c_int; MAX_EPOLLS];
        let mut epoll_count = 0;
        let mut wanted = [0u8; 32];
        let wanted = socket_link(inode, &mut wanted);
        let mut entries = [0u8; 4096];
        loop {
            let len = sys::directory_entries(directory.0, &mut entries)?;
            if len == 0 {
                break;
            }
            let mut offset = 0;
            while offset + 19 < len {
                // struct linux_dirent64: u64 ino, i64 off, u16 reclen, u8 type, name (NUL-ended).
                let (Some(&low), Some(&high)) =
                    (entries.get(offset + 16), entries.get(offset + 17))
                else {
                    break;
                };
                let record_len = usize::from(u16::from_ne_bytes([low, high]));
                let record = entries
                    .get(offset..(offset + record_len).min(len))
                    .unwrap_or_default();
                offset += record_len.max(1);
                let Some(name) = record
                    .get(19..)
                    .and_then(|n| CStr::from_bytes_until_nul(n).ok())
                else {
                    continue;
                };
                let Some(number) = parse_decimal(name.to_bytes()) else {
                    continue; // "." and ".."
                };
                if number == directory.0 {
                    continue;
                }
                let mut link = [0u8; 64];
                let Ok(target) = sys::read_link_at(directory.0, name, &mut link) else {
                    continue; // closed meanwhile
                };
                if target == wanted {
                    *found
                        .numbers
                        .get_mut(found.number_count)
                        .ok_or(NotSwitched::Shared)? = number;
                    found.number_count += 1;
                } else if target == b"anon_inode:[eventpoll]" {
                    *epolls.get_mut(epoll_count).ok_or(NotSwitched::Epoll)? = number;
                    epoll_count += 1;
                } else if target == b"anon_inode:[io_uring]" {
                    return Err(NotSwitched::IoUring);
                }
            }
        }
        for &epoll in epolls.iter().take(epoll_count) {
            found.read_registrations(epoll, inode)?;
        }
        Ok(found)
    }

    /// Adds the registrations of socket `inode` in epoll instance `epoll`, from its fdinfo lines
    /// `tfd: N events: HEX data: HEX pos:N ino:HEX sdev:HEX`.
    fn read_registrations(&mut self, epoll: c_int, inode: u64) -> Result<(), NotSwitched> {
        let mut path = [0u8; 40];
        let path = fdinfo_path(epoll, &mut path);
        let Ok(file) = sys::open_read(path, 0) else {
            return Ok(()); // closed meanwhile
        };
        let mut buffer = [0u8; 4096];
        let mut filled = 0;
        loop {
            let read = sys::read(file.0, buffer.get_mut(filled..).unwrap_or_default())?;
            filled = (filled + read).min(buffer.len());
            let mut start = 0;
            while let Some(rest) = buffer.get(start..filled)
                && let Some(end) = rest.iter().position(|&b| b == b'\n')
            {
                let line = rest.get(..end).unwrap_or_default();
                start += end + 1;
                if let Some(line) = parse_registration(line)
                    && line.1 == inode
                {
                    let mut registration = line.0;
                    if registration.events & !EPOLL_PRIVATE_BITS == 0 {
                        // A fired EPOLLONESHOT registration: re-adding it would arm it again.
                        return Err(NotSwitched::Epoll);
                    }
                    if !self.numbers().contains(&registration.number) {
                        return Err(NotSwitched::Epoll); // added through a number since closed
                    }
                    registration.epoll = epoll;
                    *self
                        .registrations
                        .get_mut(self.registration_count)
                        .ok_or(NotSwitched::Epoll)? = registration;
                    self.registration_count += 1;
                }
            }
            filled = move_to_start(&mut buffer, start, filled);
            if read == 0 {
                return Ok(());
            }
            if filled == buffer.len() {
                return Err(NotSwitched::Epoll); // a line longer than any the kernel writes
            }
        }
    }
}

/// One `tfd:` line of an epoll fdinfo: the registration (without its instance) and the inode.
fn parse_registration(line: &[u8]) -> Option<(Registration, u64)> {
    let mut words = line
        .split(u8::is_ascii_whitespace)
        .filter(|w| !w.is_empty());
    if words.next()? != b"tfd:" {
        return None;
    }
    let number = parse_decimal(words.next()?)?;
    let mut registration = Registration {
        number,
        ..Registration::default()
    };
    let mut inode = None;
    while let Some(word) = words.next() {
        match word {
            b"events:" => registration.events = u32::try_from(parse_hex(words.next()?)?).ok()?,
            b"data:" => registration.data = parse_hex(words.next()?)?,
            _ => {
                if let Some(hex) = word.strip_prefix(b"ino:") {
                    inode = Some(parse_hex(hex)?);
                }
            }
        }
    }
    Some((registration, inode?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoll_fdinfo_lines_parse() {
        let line = b"tfd:        3 events: 80000019 data:                7  pos:0 ino:200f sdev:9";
        let (registration, inode) = parse_registration(line).unwrap();
        assert_eq!(registration.number, 3);
        assert_eq!(registration.events, 0x8000_0019);
        assert_eq!(registration.data, 7);
        assert_eq!(inode, 0x200f);
        assert!(parse_registration(b"pos:\t0").is_none());
        assert!(parse_registration(b"tfd: x events: 1").is_none());
        assert_eq!(parse_decimal(b"1048575"), Some(1_048_575));
        assert_eq!(parse_decimal(b"."), None);
        assert_eq!(parse_decimal(b""), None);
        assert_eq!(parse_decimal(b"99999999999"), None);
        assert_eq!(parse_hex(b"80000019"), Some(0x8000_0019));
        assert_eq!(parse_hex(b"ffffffffffffffffff"), None);
    }
}
