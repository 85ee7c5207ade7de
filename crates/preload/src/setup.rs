//! The library's set-up: the environment read once, on the first intercepted call (no code runs
//! at load time), then the mode for every call after it in one relaxed load.
//!
//! Lock-free, so a child forked in the middle never waits for a thread it does not have: threads
//! that arrive together each build the configuration from the same environment and the first to
//! publish it (one compare-and-swap) sets logging up and reports bad values, exactly once. A
//! `socket()` re-entered on a thread that is building (from a signal handler) passes straight
//! through as `off`.

use crate::config::{Config, Mode};
use crate::logging::{self, debug, warning};
use crate::{events, sys};
use core::sync::atomic::{AtomicI32, AtomicU8, Ordering};

/// What the short ways of `socket()` may take for granted, in one byte read with one relaxed
/// load: 0 until set-up is complete (every call then takes the long way, which sets up).
static HOT: AtomicU8 = AtomicU8::new(0);
/// TCP calls of `AF_INET` are made MPTCP: the mode rewrites, no refusal is remembered for the
/// family, nothing below warnings is logged.
pub const HOT_INET: u8 = 1;
/// The same for `AF_INET6`.
pub const HOT_INET6: u8 = 2;
/// Calls we leave alone pass with nothing logged.
pub const HOT_PASS: u8 = 4;
/// TCP calls pass too (mode `off`).
pub const HOT_TCP_PASSES: u8 = 8;

/// The short ways open now.
#[inline(always)]
pub fn hot() -> u8 {
    HOT.load(Ordering::Relaxed)
}

/// The [`HOT_INET`] or [`HOT_INET6`] bit of a family.
#[inline(always)]
pub fn family_bit(domain: libc::c_int) -> u8 {
    if domain == libc::AF_INET6 {
        HOT_INET6
    } else {
        HOT_INET
    }
}

/// The kernel refused MPTCP for `domain` (and it is remembered): its TCP calls take the long way,
/// which consults the memory.
pub fn refused(domain: libc::c_int) {
    HOT.fetch_and(!family_bit(domain), Ordering::Relaxed);
}

/// The kernel gave MPTCP for `domain` again: its TCP calls may take the short way, if the mode
/// rewrites them and nothing would be logged.
pub fn accepted(domain: libc::c_int) {
    if HOT.load(Ordering::Relaxed) & HOT_PASS != 0
        && matches!(mode(), Mode::On | Mode::Connect)
        && !logging::enabled(logging::DEBUG)
    {
        HOT.fetch_or(family_bit(domain), Ordering::Relaxed);
    }
}

/// The short ways for this configuration, once logging is set up.
fn short_ways(mode: Mode) -> u8 {
    let mut hot = 0;
    if !logging::enabled(logging::TRACE) {
        hot |= HOT_PASS;
        if mode == Mode::Off {
            hot |= HOT_TCP_PASSES;
        }
    }
    if matches!(mode, Mode::On | Mode::Connect) && !logging::enabled(logging::DEBUG) {
        hot |= HOT_INET | HOT_INET6;
    }
    hot
}

/// The mode, once published (`NOT_YET` before), with [`ADVISORY`] when the policy is on: one
/// byte, so the two are published together.
static MODE: AtomicU8 = AtomicU8::new(NOT_YET);
const NOT_YET: u8 = 0;
/// The bit of [`MODE`] that says the advisory-options policy is on.
const ADVISORY: u8 = 0x80;

/// The threads (by id) building the configuration right now; 0 is a free slot. More builders
/// than slots only lose the guard against re-entry from a signal handler.
static BUILDERS: [AtomicI32; 8] = [const { AtomicI32::new(0) }; 8];

fn encode(mode: Mode, advisory: bool) -> u8 {
    mode as u8 | if advisory { ADVISORY } else { 0 }
}

/// The mode stored as `value` (the same numbers: this compiles to a range check).
#[inline(always)]
fn decode(value: u8) -> Mode {
    match value & !ADVISORY {
        2 => Mode::On,
        3 => Mode::Listen,
        4 => Mode::Connect,
        5 => Mode::Force,
        _ => Mode::Off,
    }
}

/// The process's mode: after start-up, one relaxed load.
#[inline(always)]
pub fn mode() -> Mode {
    match MODE.load(Ordering::Relaxed) {
        NOT_YET => set_up(),
        value => decode(value),
    }
}

/// Whether the advisory-options policy is on (`+advisory`; cold path: a refused option).
pub fn advisory() -> bool {
    mode();
    MODE.load(Ordering::Relaxed) & ADVISORY != 0
}

/// The first call: reads the environment, publishes the mode, sets logging up.
#[cold]
#[inline(never)]
fn set_up() -> Mode {
    // SAFETY: gettid has no preconditions and cannot fail.
    let me = unsafe { libc::gettid() };
    if BUILDERS
        .iter()
        .any(|slot| slot.load(Ordering::Relaxed) == me)
    {
        return Mode::Off;
    }
    let slot = BUILDERS.iter().find(|slot| {
        slot.compare_exchange(0, me, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    });
    // Set-up runs inside the host's first call: its own failures (a log file that cannot be
    // opened) must not show in the caller's errno.
    let mode = sys::keeping_errno(|| {
        let secure = sys::secure_execution();
        let config = Config::from_lookup(sys::getenv, secure);
        events::watch_forks();
        if MODE
            .compare_exchange(
                NOT_YET,
                encode(config.mode, config.advisory),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
        {
            logging::init(&config, secure);
            if let Some(warning) = config.warning {
                warning!("{warning}");
            }
            debug!(
                "mode {:?} (from {:?}){}",
                config.mode,
                config.origin,
                sys::Name(if config.advisory {
                    ", advisory options kept on MPTCP"
                } else {
                    ""
                })
            );
            HOT.store(short_ways(config.mode), Ordering::Relaxed);
        }
        decode(MODE.load(Ordering::Acquire))
    });
    if let Some(slot) = slot {
        slot.store(0, Ordering::Relaxed);
    }
    mode
}
