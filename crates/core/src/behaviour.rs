//! How the kernel's MPTCP behaves unlike TCP where no option table shows it, per kernel release:
//! the facts the library acts on. `docs/behaviour/<kernel>.txt` measures them
//! (`scripts/behaviour.py`, checked by the suite on 6.1, 6.12 and 6.18).
//!
//! One difference the program announces before it starts, so the library can avoid it: a
//! **receive buffer set by the program** (`SO_RCVBUF`, `SO_RCVBUFFORCE`). TCP updates its
//! window clamp when the buffer is set; MPTCP does not pass that on to its subflows
//! (mptcp_net-next issue 619, open), and from 6.13 on a transfer into such a socket stalls in
//! zero-window probes: 384 KiB into a 4 KiB buffer take 7–21 s instead of 2 ms; 64 MiB into a
//! 4 MiB one took 0.7–1.3 s in three runs of five, 0.04 s in the others (6.18, loopback at MTU
//! 1500): every size stalls, the small ones most.
//! Measured unaffected: Debian 12's 6.1 and 6.12. The kernels between 6.12 and 6.18 were not
//! measured and count as affected, like every later one until the fix is measured.
//!
//! Pure data and arithmetic, like the rest of the core: the preload reads the release once.

/// A kernel release, major and minor: `6.18.44-fc-v1300` is `(6, 18)`.
pub type Release = (u32, u32);

/// The release in `text` (what `uname -r` or `/proc/sys/kernel/osrelease` says).
pub fn release(text: &[u8]) -> Option<Release> {
    let mut parts = text.splitn(3, |&byte| byte == b'.');
    let major = number(parts.next()?)?;
    let minor = number(parts.next()?)?;
    Some((major, minor))
}

/// The leading decimal digits of `text` (at least one).
fn number(text: &[u8]) -> Option<u32> {
    let digits = text.iter().take_while(|byte| byte.is_ascii_digit()).count();
    let digits = text.get(..digits).filter(|digits| !digits.is_empty())?;
    digits.iter().try_fold(0u32, |value, &digit| {
        value.checked_mul(10)?.checked_add(u32::from(digit - b'0'))
    })
}

/// The first release whose MPTCP stalls transfers into a receive buffer the program set.
pub const SLOW_RECEIVE_BUFFER_SINCE: Release = (6, 13);

/// Whether a receive buffer set by the program (any size: 6.18 stalled with every size tried,
/// 4 KiB to 4 MiB, see docs/behaviour/6.18.txt) slows MPTCP on `release`.
pub fn slow_receive_buffer(release: Release) -> bool {
    release >= SLOW_RECEIVE_BUFFER_SINCE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_are_read_as_uname_prints_them() {
        for (text, expected) in [
            ("6.18.44-fc-v1300", Some((6, 18))),
            ("6.1.0-57-amd64", Some((6, 1))),
            ("6.12.48+deb12-amd64", Some((6, 12))),
            ("5.15", Some((5, 15))),
            ("7.0-rc1", Some((7, 0))),
            ("6", None),
            ("", None),
            ("x.y", None),
            ("6.x", None),
            ("99999999999.1", None),
        ] {
            assert_eq!(release(text.as_bytes()), expected, "{text:?}");
        }
    }

    #[test]
    fn set_receive_buffers_are_slow_from_6_13_on() {
        assert!(!slow_receive_buffer((5, 15)));
        assert!(!slow_receive_buffer((6, 1)));
        assert!(!slow_receive_buffer((6, 12)));
        assert!(slow_receive_buffer((6, 13)));
        assert!(slow_receive_buffer((6, 18)));
        assert!(slow_receive_buffer((7, 0)));
    }
}
