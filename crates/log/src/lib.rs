//! `libmptcpize_rs_log.so`: env_logger for the preload, behind a small C ABI.
//!
//! The preload (`libmptcpize_rs.so`) is `no_std` and allocation-free so that it costs a host
//! next to nothing; env_logger needs std. So the logger lives here, and the preload `dlopen()`s
//! this library only when logs are asked for (`MPTCPIZE_LOG`, `MPTCPIZE_LOG_FILE`, the
//! launcher's `-d`) or a warning must be shown. The preload formats each line itself (its
//! `module_path!()` as the target, the message in a fixed buffer) and hands over bytes; this side
//! filters (same env_logger syntax), prefixes (`mptcpize-rs[PID]: LEVEL`) and writes, with the
//! checks of [`logger`] (never a write to a descriptor we do not own). Levels are numbered like
//! `log::Level`: 1 error, 2 warn, 3 info, 4 debug, 5 trace.

use mptcpize_logger as logger;

/// The bytes at `pointer` (`len` long), or `None` for a null pointer.
///
/// # Safety
/// A non-null `pointer` must point to `len` readable bytes that live for the call.
unsafe fn bytes<'a>(pointer: *const u8, len: usize) -> Option<&'a [u8]> {
    // SAFETY: the caller's contract.
    (!pointer.is_null()).then(|| unsafe { core::slice::from_raw_parts(pointer, len) })
}

fn level(number: u32) -> Option<log::Level> {
    match number {
        1 => Some(log::Level::Error),
        2 => Some(log::Level::Warn),
        3 => Some(log::Level::Info),
        4 => Some(log::Level::Debug),
        5 => Some(log::Level::Trace),
        _ => None,
    }
}

/// Sets up the logger (once per process; later calls change nothing) with `MPTCPIZE_LOG`'s
/// filter and `MPTCPIZE_LOG_FILE`'s path, each null when not given; returns the most verbose
/// level that can pass (0 for none).
///
/// # Safety
/// Each non-null pointer points to the given number of readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mptcpize_rs_log_init(
    filter: *const u8,
    filter_len: usize,
    file: *const u8,
    file_len: usize,
) -> u32 {
    // SAFETY: the caller's contract.
    let (filter, file) = unsafe { (bytes(filter, filter_len), bytes(file, file_len)) };
    logger::init(filter, file);
    log::max_level() as u32
}

/// Whether a line of `level` from module `target` would be written.
///
/// # Safety
/// `target` points to `target_len` readable bytes of UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mptcpize_rs_log_enabled(
    level_number: u32,
    target: *const u8,
    target_len: usize,
) -> bool {
    // SAFETY: the caller's contract.
    let target = unsafe { bytes(target, target_len) }.unwrap_or_default();
    let (Some(level), Ok(target)) = (level(level_number), core::str::from_utf8(target)) else {
        return false;
    };
    log::logger().enabled(&log::Metadata::builder().level(level).target(target).build())
}

/// Writes one line (`line`, without its newline) of `level` from module `target`, if the filter
/// lets it through.
///
/// # Safety
/// `target` points to `target_len` readable bytes of UTF-8, `line` to `line_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mptcpize_rs_log_line(
    level_number: u32,
    target: *const u8,
    target_len: usize,
    line: *const u8,
    line_len: usize,
) {
    // SAFETY: the caller's contract.
    let (target, line) = unsafe { (bytes(target, target_len), bytes(line, line_len)) };
    let (Some(level), Ok(target)) = (
        level(level_number),
        core::str::from_utf8(target.unwrap_or_default()),
    ) else {
        return;
    };
    let line = String::from_utf8_lossy(line.unwrap_or_default());
    log::logger().log(
        &log::Record::builder()
            .level(level)
            .target(target)
            .args(format_args!("{line}"))
            .build(),
    );
}
