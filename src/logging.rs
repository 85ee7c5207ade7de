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

/// Installs our logger for this process (the first call wins; later calls do nothing).
pub fn init(config: &Config) {
    let mut problems = Vec::new();
    let filter = match config.log_filter.as_deref() {
        Some(spec) if env_filter::Builder::new().try_parse(spec).is_ok() => spec,
        Some(spec) => {
            problems.push(format!(
                "invalid MPTCPIZE_LOG={spec:?} (env_logger syntax, e.g. debug); using {DEFAULT_FILTER}"
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
