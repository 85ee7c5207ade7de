//! Which descriptors came from a `socket()` call we were allowed to rewrite.
//!
//! The socket-option fallback and the direction modes may only replace sockets the program asked
//! to be plain TCP: never a socket it opened with `IPPROTO_MPTCP` on purpose. One bit per
//! descriptor number, in a fixed static bitmap of atomics: no lock, no allocation. Every
//! `socket()` that passes through our hook sets or clears its descriptor's bit, so a number
//! reused by a later `socket()` call is always right. A number reused through `accept()`, `dup()`
//! or `open()` may keep a stale bit; that is harmless because a replacement also requires an
//! unconnected, non-listening stream socket of the other protocol (see [`crate::swap`]).
//! Descriptors above [`TRACKED_FDS`] are never tracked, so never replaced. A forked child
//! inherits the bitmap along with the descriptors it describes; after `exec` it starts empty.

use libc::c_int;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many descriptor numbers are tracked (8 KiB of bits).
pub const TRACKED_FDS: usize = 65_536;

static BITS: [AtomicU64; TRACKED_FDS / 64] = [const { AtomicU64::new(0) }; TRACKED_FDS / 64];

fn slot(fd: c_int) -> Option<(&'static AtomicU64, u64)> {
    let index = usize::try_from(fd).ok().filter(|&i| i < TRACKED_FDS)?;
    Some((&BITS[index / 64], 1u64 << (index % 64)))
}

/// Records whether `fd` came from a rewritable `socket()` call.
pub fn set(fd: c_int, rewritable: bool) {
    if let Some((word, bit)) = slot(fd) {
        if rewritable {
            word.fetch_or(bit, Ordering::Relaxed);
        } else if word.load(Ordering::Relaxed) & bit != 0 {
            word.fetch_and(!bit, Ordering::Relaxed);
        }
    }
}

/// Whether `fd` came from a rewritable `socket()` call.
pub fn is_rewritable(fd: c_int) -> bool {
    slot(fd).is_some_and(|(word, bit)| word.load(Ordering::Relaxed) & bit != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_per_descriptor_and_bounded() {
        for fd in [0, 1, 63, 64, 1000, (TRACKED_FDS - 1) as c_int] {
            assert!(!is_rewritable(fd));
            set(fd, true);
            assert!(is_rewritable(fd), "{fd}");
            assert!(!is_rewritable(fd + 1), "{fd}");
            set(fd, false);
            assert!(!is_rewritable(fd), "{fd}");
        }
        for fd in [-1, TRACKED_FDS as c_int, c_int::MAX] {
            set(fd, true);
            assert!(!is_rewritable(fd), "{fd}");
        }
    }
}
