//! The values of int options kept for sockets MPTCP keeps: the kernel did not take the value
//! (MPTCP refused it, or we did not pass it on), the program was answered with success, and
//! `getsockopt()` must read back what TCP would have. The rows: advisory options under the opt-in
//! policy (`+advisory`, [`mptcpize_core::advisory`]), then [`OTHER_ROWS`].
//!
//! One int per descriptor number and row, in a table mapped on the first value kept
//! (no address space is taken by a process that never needs it; `MAP_NORESERVE`, so only the
//! pages of descriptors that hold a value cost memory). Whether a slot holds the socket's value
//! is said by its bit in [`crate::tracked`] ([`tracked::ADVISORY_SHIFT`]), which every close,
//! reuse and `socket()` of the number clears: a stale slot is never read. The value is stored
//! before its bit is set (release), and read after the bit is seen (acquire). No lock: one map
//! is published with one compare-and-swap, and a thread that lost the race unmaps its own.

#[cfg(test)]
use crate::established;
use crate::sys;
use crate::tracked::{self, ADVISORY_SHIFT, Flags, TRACKED_FDS};
use core::sync::atomic::{AtomicI32, AtomicPtr, Ordering};
use libc::c_int;
use mptcpize_core::advisory::ADVISORY;

/// The rows after the policy's, each with the module that keeps values there.
pub const OTHER_ROWS: &[(c_int, c_int)] = &[
    // IP_LOCAL_PORT_RANGE (51, not in the libc crate): crate::established::ANSWERED_INTS.
    (libc::IPPROTO_IP, 51),
    // A receive buffer not passed on to MPTCP on a kernel that stalls with it: crate::behaviour.
    (libc::SOL_SOCKET, libc::SO_RCVBUF),
];
/// Slots per descriptor number, one flag bit each: the policy's rows (at most 8), then
/// [`OTHER_ROWS`].
const ROWS: usize = 14;
/// The row of the first of [`OTHER_ROWS`].
const FIRST_OTHER_ROW: usize = 8;
const _: () = assert!(ADVISORY.len() <= FIRST_OTHER_ROW);
const _: () = assert!(FIRST_OTHER_ROW + OTHER_ROWS.len() <= ROWS);
/// The table's size in bytes: 56 MiB of address space for every number a process can have.
const TABLE_BYTES: usize = TRACKED_FDS * ROWS * size_of::<AtomicI32>();

/// The table, once mapped.
static TABLE: AtomicPtr<AtomicI32> = AtomicPtr::new(core::ptr::null_mut());

/// The row of option `(level, name)`, advisory or answered, if it has one.
pub fn row(level: c_int, name: c_int) -> Option<usize> {
    if let Some((index, _)) = mptcpize_core::advisory::find(level, name) {
        return Some(index);
    }
    let position = OTHER_ROWS
        .iter()
        .position(|&option| option == (level, name))?;
    Some(FIRST_OTHER_ROW + position)
}

/// The option of row `index`.
fn option(index: usize) -> Option<(c_int, c_int)> {
    match index.checked_sub(FIRST_OTHER_ROW) {
        None => ADVISORY.get(index).map(|row| (row.level, row.name)),
        Some(other) => OTHER_ROWS.get(other).copied(),
    }
}

/// The flag bit of row `index`.
pub fn bit(index: usize) -> Flags {
    1 << (ADVISORY_SHIFT + index as u32)
}

/// The table, mapped on first use; `None` when the map fails (the value is then not kept, and
/// the caller treats the option as the default policy would).
fn table() -> Option<&'static [AtomicI32]> {
    let mut table = TABLE.load(Ordering::Acquire);
    if table.is_null() {
        // SAFETY: a fresh anonymous private map: no file, no fixed address, nothing aliased.
        let mapped = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                TABLE_BYTES,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if mapped == libc::MAP_FAILED {
            return None;
        }
        let mapped = mapped.cast::<AtomicI32>();
        match TABLE.compare_exchange(
            core::ptr::null_mut(),
            mapped,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => table = mapped,
            Err(published) => {
                // SAFETY: our own map, never published: no one else can refer to it.
                unsafe { libc::munmap(mapped.cast(), TABLE_BYTES) };
                table = published;
            }
        }
    }
    // SAFETY: a published table is a live map of TABLE_BYTES (never unmapped), zero-filled by
    // the kernel, which is a valid AtomicI32 pattern; shared access goes through the atomics.
    Some(unsafe { core::slice::from_raw_parts(table, TRACKED_FDS * ROWS) })
}

/// The slot of `fd`'s row `index`, mapping the table if `map`. (Not inlined: the loops below
/// would copy it once per row, which the library's size pays for.)
#[inline(never)]
fn slot(fd: c_int, index: usize, map: bool) -> Option<&'static AtomicI32> {
    let fd = usize::try_from(fd).ok().filter(|&fd| fd < TRACKED_FDS)?;
    let table = if map {
        table()?
    } else {
        let table = TABLE.load(Ordering::Acquire);
        if table.is_null() {
            return None;
        }
        // SAFETY: as in `table()`.
        unsafe { core::slice::from_raw_parts(table, TRACKED_FDS * ROWS) }
    };
    table.get(fd * ROWS + index)
}

/// Keeps `value` as `fd`'s value of row `index`; false when it cannot be kept.
pub fn keep(fd: c_int, index: usize, value: c_int) -> bool {
    let Some(slot) = sys::keeping_errno(|| slot(fd, index, true)) else {
        return false;
    };
    slot.store(value, Ordering::Release);
    tracked::remember(fd, bit(index), true);
    true
}

/// `fd` has row `index` at TCP's default again: nothing kept.
pub fn forget(fd: c_int, index: usize) {
    tracked::remember(fd, bit(index), false);
}

/// The value kept for `fd`'s row `index`, if any.
pub fn kept(fd: c_int, index: usize) -> Option<c_int> {
    if tracked::flags(fd) & bit(index) == 0 {
        return None;
    }
    Some(slot(fd, index, false)?.load(Ordering::Acquire))
}

/// `to` holds the same socket as `from` (a duplicate), or a connection accepted on it, with the
/// advisory bits `bits` (already copied by [`crate::tracked`]): the values go with them.
pub fn copy(from: c_int, to: c_int, bits: Flags) {
    for index in rows(bits) {
        if let (Some(from), Some(to)) = (slot(from, index, false), slot(to, index, false)) {
            to.store(from.load(Ordering::Acquire), Ordering::Release);
        }
    }
}

/// Each option whose value is kept for `fd`: `(level, name, value)`.
pub fn each_kept(fd: c_int, mut each: impl FnMut(c_int, c_int, c_int)) {
    for index in rows(tracked::flags(fd)) {
        if let (Some((level, name)), Some(slot)) = (option(index), slot(fd, index, false)) {
            each(level, name, slot.load(Ordering::Acquire));
        }
    }
}

/// The rows whose bits are set in `flags`.
fn rows(flags: Flags) -> impl Iterator<Item = usize> {
    let mut bits = (flags & tracked::ADVISORY_BITS) >> ADVISORY_SHIFT;
    core::iter::from_fn(move || {
        let index = bits.trailing_zeros() as usize;
        bits &= bits.wrapping_sub(1);
        (index < ROWS).then_some(index)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_has_its_option_and_its_own_bit() {
        let options = ADVISORY
            .iter()
            .map(|row| (row.level, row.name))
            .chain(OTHER_ROWS.iter().copied());
        let mut seen: Flags = 0;
        for (level, name) in options {
            let index = row(level, name).expect("a row");
            assert_eq!(option(index), Some((level, name)));
            assert_eq!(seen & bit(index), 0, "{level}/{name} shares a bit");
            assert_eq!(
                bit(index) & !tracked::ADVISORY_BITS,
                0,
                "outside ADVISORY_BITS"
            );
            seen |= bit(index);
        }
        assert_eq!(seen & tracked::SLOW_BUFFER, 0);
        assert_eq!(row(libc::SOL_SOCKET, libc::SO_KEEPALIVE), None);
        for option in established::ANSWERED_INTS {
            assert!(OTHER_ROWS.contains(option), "{option:?} has no row");
        }
    }
}
