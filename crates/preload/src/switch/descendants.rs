//! Whether a process descended from this one holds a socket: the proof that lets a socket of
//! ours that existed at a `fork()` be switched on its way out of the process (`SCM_RIGHTS`).
//!
//! A privilege-separated daemon binds its listener, forks and execs its workers, then passes the
//! listener to one of them. The fork made every socket one a child may hold; once the children
//! have exec'd, a close-on-exec socket is held by none. `/proc/self/task/*/children` lists the
//! children, `/proc/PID/fd` their descriptors, followed down to grandchildren. A descendant that
//! cannot be read, too many of them, or no `/proc`, and the answer is "may hold". What it cannot
//! see: a grandchild whose parent exited (it is re-parented away from us) and that still holds a
//! copy it was given before its own parent exec'd (docs/limitations.md).

use super::NotSwitched;
use super::text::{parse_decimal, process_path, socket_link};
use crate::sys;
use core::ffi::CStr;

/// The most descendants looked at; beyond that, "may hold".
const MAX_PROCESSES: usize = 256;
/// How often, and how many milliseconds apart, [`let_go`] looks.
const LOOKS: u32 = 20;
const PAUSE_MS: i64 = 5;

/// Whether no descendant holds socket `inode`, waiting at most about 100 ms for those that do to
/// let it go: a daemon passes its listener right after forking its workers, which drop their
/// close-on-exec copy when they exec a moment later. A worker that keeps it costs that wait,
/// once per socket sent.
pub(super) fn let_go(inode: u64) -> Result<bool, NotSwitched> {
    for look in 0..LOOKS {
        if !hold(inode)? {
            return Ok(true);
        }
        if look + 1 < LOOKS {
            let pause = libc::timespec {
                tv_sec: 0,
                tv_nsec: PAUSE_MS * 1_000_000,
            };
            // SAFETY: a valid timespec; the remainder is not wanted.
            unsafe { libc::nanosleep(&pause, core::ptr::null_mut()) };
        }
    }
    Ok(false)
}

/// Whether any descendant of this process holds socket `inode` (`Err` when that cannot be known).
fn hold(inode: u64) -> Result<bool, NotSwitched> {
    let mut wanted = [0u8; 32];
    let wanted = socket_link(inode, &mut wanted);
    let mut queue = [0u64; MAX_PROCESSES];
    let mut count = children_of(0, &mut queue, 0)?;
    let mut next = 0;
    while next < count {
        let pid = queue.get(next).copied().unwrap_or(0);
        next += 1;
        // Descriptors first, then children: a child forked after the look got what its parent
        // held then, which was looked at.
        match holds(pid, wanted) {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(libc::ENOENT) => continue, // exited meanwhile
            Err(errno) => return Err(NotSwitched::Kernel(errno)),
        }
        count = children_of(pid, &mut queue, count)?;
    }
    Ok(false)
}

/// Whether process `pid` has a descriptor whose link is `wanted`.
fn holds(pid: u64, wanted: &[u8]) -> Result<bool, sys::Errno> {
    let mut path = [0u8; 64];
    let path = process_path(pid, None, b"fd", &mut path).ok_or(libc::ENAMETOOLONG)?;
    let directory = sys::open_read(path, libc::O_DIRECTORY)?;
    let mut found = false;
    each_entry(directory.0, |name| {
        let mut link = [0u8; 64];
        if sys::read_link_at(directory.0, name, &mut link) == Ok(wanted) {
            found = true;
        }
    })?;
    Ok(found)
}

/// Appends the children of every thread of `pid` (0: this process) to `queue` after `count`
/// entries; the new count.
fn children_of(
    pid: u64,
    queue: &mut [u64; MAX_PROCESSES],
    count: usize,
) -> Result<usize, NotSwitched> {
    let mut path = [0u8; 64];
    let path = process_path(pid, None, b"task", &mut path).ok_or(NotSwitched::Shared)?;
    let tasks = match sys::open_read(path, libc::O_DIRECTORY) {
        Ok(tasks) => tasks,
        Err(libc::ENOENT) if pid != 0 => return Ok(count),
        Err(_) => return Err(NotSwitched::Shared),
    };
    let mut count = count;
    let mut full = false;
    each_entry(tasks.0, |name| {
        let Some(tid) = parse_decimal(name.to_bytes()) else {
            return;
        };
        let mut children = [0u8; 64];
        let thread = Some(tid.unsigned_abs().into());
        let Some(list) = process_path(pid, thread, b"children", &mut children) else {
            full = true;
            return;
        };
        let Ok(file) = sys::open_read(list, 0) else {
            return; // the thread exited
        };
        let mut text = [0u8; 4096];
        let Ok(read) = sys::read(file.0, &mut text) else {
            full = true;
            return;
        };
        if read == text.len() {
            full = true; // more children than we read
        }
        for word in text
            .get(..read)
            .unwrap_or_default()
            .split(u8::is_ascii_whitespace)
        {
            if let Some(child) = parse_decimal(word) {
                match queue.get_mut(count) {
                    Some(slot) => {
                        *slot = child.unsigned_abs().into();
                        count += 1;
                    }
                    None => full = true,
                }
            }
        }
    })
    .map_err(NotSwitched::Kernel)?;
    if full {
        return Err(NotSwitched::Shared);
    }
    Ok(count)
}

/// Calls `each` with the name of every entry of directory `fd` but `.` and `..`.
fn each_entry(fd: libc::c_int, mut each: impl FnMut(&CStr)) -> Result<(), sys::Errno> {
    let mut entries = [0u8; 4096];
    loop {
        let len = sys::directory_entries(fd, &mut entries)?;
        if len == 0 {
            return Ok(());
        }
        let mut offset = 0;
        while offset + 19 < len {
            // struct linux_dirent64: u64 ino, i64 off, u16 reclen, u8 type, name (NUL-ended).
            let (Some(&low), Some(&high)) = (entries.get(offset + 16), entries.get(offset + 17))
            else {
                break;
            };
            let record_len = usize::from(u16::from_ne_bytes([low, high]));
            let record = entries
                .get(offset..(offset + record_len).min(len))
                .unwrap_or_default();
            offset += record_len.max(1);
            if let Some(name) = record
                .get(19..)
                .and_then(|n| CStr::from_bytes_until_nul(n).ok())
                && name != c"."
                && name != c".."
            {
                each(name);
            }
        }
    }
}
