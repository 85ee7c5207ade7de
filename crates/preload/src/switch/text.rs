//! The few numbers and paths the switch writes and parses (`socket:[INODE]`,
//! `/proc/self/fdinfo/N`, the decimal and hexadecimal fields of fdinfo lines), into fixed buffers:
//! nothing is allocated, and no path can panic.

use core::ffi::CStr;
use libc::c_int;

/// Moves `buffer[start..end]` to the start of `buffer`; its length (a byte loop without
/// panicking paths: cold code, a few bytes).
pub(super) fn move_to_start(buffer: &mut [u8], start: usize, end: usize) -> usize {
    let mut moved = 0;
    while start + moved < end
        && let Some(&byte) = buffer.get(start + moved)
        && let Some(slot) = buffer.get_mut(moved)
    {
        *slot = byte;
        moved += 1;
    }
    moved
}

/// `socket:[INODE]`, the `/proc/self/fd` link of a socket, written into `buffer`.
pub(super) fn socket_link(inode: u64, buffer: &mut [u8; 32]) -> &[u8] {
    let prefix = b"socket:[";
    let (head, digits) = buffer.split_at_mut(prefix.len());
    head.copy_from_slice(prefix);
    let len = prefix.len() + write_decimal(inode, digits);
    if let Some(end) = buffer.get_mut(len) {
        *end = b']';
    }
    buffer.get(..=len).unwrap_or_default()
}

/// `/proc/self/fdinfo/N`, NUL-terminated, written into `buffer`.
pub(super) fn fdinfo_path(fd: c_int, buffer: &mut [u8; 40]) -> &CStr {
    let prefix = b"/proc/self/fdinfo/";
    let (head, digits) = buffer.split_at_mut(prefix.len());
    head.copy_from_slice(prefix);
    let len = prefix.len() + write_decimal(fd.unsigned_abs().into(), digits);
    if let Some(end) = buffer.get_mut(len) {
        *end = 0;
    }
    buffer
        .get(..=len)
        .and_then(|path| CStr::from_bytes_with_nul(path).ok())
        .unwrap_or(c"/proc/self/fdinfo/")
}

/// `/proc/PID/SUFFIX`, or `/proc/PID/task/TID/SUFFIX` with a thread (PID 0: `self`),
/// NUL-terminated, written into `buffer`; `None` when it does not fit.
pub(super) fn process_path<'a>(
    pid: u64,
    thread: Option<u64>,
    suffix: &[u8],
    buffer: &'a mut [u8; 64],
) -> Option<&'a CStr> {
    let mut len = 0;
    let mut put = |bytes: &[u8]| -> Option<()> {
        buffer
            .get_mut(len..len + bytes.len())?
            .copy_from_slice(bytes);
        len += bytes.len();
        Some(())
    };
    let mut digits = [0u8; 20];
    put(b"/proc/")?;
    if pid == 0 {
        put(b"self")?;
    } else {
        let count = write_decimal(pid, &mut digits);
        put(digits.get(..count)?)?;
    }
    if let Some(thread) = thread {
        put(b"/task/")?;
        let count = write_decimal(thread, &mut digits);
        put(digits.get(..count)?)?;
    }
    put(b"/")?;
    put(suffix)?;
    put(b"\0")?;
    CStr::from_bytes_with_nul(buffer.get(..len)?).ok()
}

/// Writes `value` in decimal at the start of `out` (which holds at least 20 bytes: a shorter
/// one gets the leading digits); its length.
fn write_decimal(mut value: u64, out: &mut [u8]) -> usize {
    let mut digits = [0u8; 20];
    let mut count = 0;
    for slot in digits.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        count += 1;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    let digits = digits.get(digits.len() - count..).unwrap_or_default();
    for (to, from) in out.iter_mut().zip(digits) {
        *to = *from;
    }
    digits.len().min(out.len())
}

/// A non-negative decimal number (a descriptor), digits only.
pub(super) fn parse_decimal(text: &[u8]) -> Option<c_int> {
    let value = parse_digits(text, 10)?;
    c_int::try_from(value).ok()
}

/// A hexadecimal number, digits only (as in `/proc/self/fdinfo`).
pub(super) fn parse_hex(text: &[u8]) -> Option<u64> {
    parse_digits(text, 16)
}

/// Digits of `radix` (no sign, no prefix, at least one) as a number, `None` on overflow.
fn parse_digits(text: &[u8], radix: u32) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    text.iter().try_fold(0u64, |value, &byte| {
        let digit = char::from(byte).to_digit(radix)?;
        value
            .checked_mul(u64::from(radix))?
            .checked_add(u64::from(digit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_paths_are_written_without_allocating() {
        let mut buffer = [0u8; 32];
        assert_eq!(socket_link(8207, &mut buffer), b"socket:[8207]");
        assert_eq!(
            socket_link(u64::MAX, &mut buffer),
            b"socket:[18446744073709551615]"
        );
        let mut path = [0u8; 40];
        assert_eq!(
            fdinfo_path(1_048_575, &mut path),
            c"/proc/self/fdinfo/1048575"
        );
        let mut path = [0u8; 64];
        assert_eq!(
            process_path(0, None, b"task", &mut path),
            Some(c"/proc/self/task")
        );
        assert_eq!(
            process_path(4242, None, b"fd", &mut path),
            Some(c"/proc/4242/fd")
        );
        assert_eq!(
            process_path(0, Some(77), b"children", &mut path),
            Some(c"/proc/self/task/77/children")
        );
        assert_eq!(process_path(7, None, &[b'x'; 60], &mut path), None);
    }
}
