//! Our own logger: quiet by default, never on stdout, never driven by the host's `RUST_LOG`.
//!
//! `MPTCPIZE_LOG` is an env_logger filter (default `warn`), `MPTCPIZE_LOG_FILE` a file to append
//! to instead of stderr. Every line carries a `mptcpize-rs[pid]` prefix so it cannot be mistaken
//! for the host program's output. Set up once, from [`crate::config::mode`]; a bad filter or an
//! unopenable file (a directory, a missing directory, a FIFO nobody reads) is reported on stderr
//! and replaced by the defaults, never fatal and never blocking.

use crate::config::Config;
use crate::sys;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

/// The filter when `MPTCPIZE_LOG` is unset: real warnings only.
const DEFAULT_FILTER: &str = "warn";

/// Whether every directive of a filter can select some of our lines: a level (`debug`), or a
/// target of ours (`mptcpize_rs::rewrite=debug`). env_logger takes any other word as a target
/// (`verbose`, `yes`), which would silently log nothing; such a filter is reported instead.
fn names_ours(spec: &str) -> bool {
    let directives = spec.split('/').next().unwrap_or_default();
    directives
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .all(|directive| match directive.split_once('=') {
            Some((target, level)) => {
                target.trim().starts_with("mptcpize_rs")
                    && level.trim().parse::<log::LevelFilter>().is_ok()
            }
            None => {
                directive.parse::<log::LevelFilter>().is_ok()
                    || directive.starts_with("mptcpize_rs")
            }
        })
}

/// Installs our logger for this process (the first call wins; later calls do nothing).
pub fn init(config: &Config) {
    let mut problems = Vec::new();
    let filter = match config.log_filter.as_deref() {
        Some(spec) if env_filter::Builder::new().try_parse(spec).is_ok() && names_ours(spec) => {
            spec
        }
        Some(spec) => {
            problems.push(format!(
                "invalid MPTCPIZE_LOG={spec:?} (a level such as debug, or \
                 mptcpize_rs::MODULE=LEVEL); using {DEFAULT_FILTER}"
            ));
            DEFAULT_FILTER
        }
        None => DEFAULT_FILTER,
    };
    let mut builder = env_logger::Builder::new();
    builder.parse_filters(filter).format(|out, record| {
        writeln!(
            out,
            "mptcpize-rs[{}]: {} {}",
            sys::pid(),
            record.level(),
            record.args()
        )
    });
    if let Some(path) = &config.log_file {
        // O_NONBLOCK: a FIFO with no reader fails at once (ENXIO) instead of hanging the host;
        // for a regular file it changes nothing.
        let opened = OpenOptions::new()
            .append(true)
            .create(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path);
        match opened {
            Ok(file) => {
                builder.target(env_logger::Target::Pipe(Box::new(file)));
            }
            Err(error) => problems.push(format!(
                "cannot open MPTCPIZE_LOG_FILE={}: {error}; logging to stderr",
                path.display()
            )),
        }
    }
    if builder.try_init().is_ok() {
        for problem in problems {
            log::warn!("{problem}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::names_ours;

    #[test]
    fn filters_that_select_nothing_of_ours_are_refused() {
        for good in [
            "debug",
            "WARN",
            "off",
            "mptcpize_rs=trace",
            "info,mptcpize_rs::rewrite=debug",
            "debug/socket",
        ] {
            assert!(names_ours(good), "{good}");
        }
        for bad in [
            "verbose",
            "yes",
            "debug,bogus",
            "other=debug",
            "mptcpize_rs=loud",
        ] {
            assert!(!names_ours(bad), "{bad}");
        }
    }
}
