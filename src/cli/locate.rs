//! Where the library is: `MPTCPIZE_LIBRARY`, else beside the launcher (a checkout's
//! `target/release/`, where cargo builds both), else the installed layout
//! (`PREFIX/bin/mptcpize-rs` and `PREFIX/lib/mptcpize-rs/libmptcpize_rs.so`).
//!
//! The path goes into `LD_PRELOAD`, which ld.so splits at colons and whitespace with no quoting:
//! a path holding either would silently load nothing, so it is refused here.

use super::{Failure, LIB_NAME, fatal};
use std::path::{Path, PathBuf};

/// The library's absolute, canonical path, usable in `LD_PRELOAD`.
pub fn library() -> Result<PathBuf, Failure> {
    let path = find()?;
    usable_in_preload(&path)?;
    Ok(path)
}

fn find() -> Result<PathBuf, Failure> {
    if let Some(given) = std::env::var_os("MPTCPIZE_LIBRARY").filter(|v| !v.is_empty()) {
        let given = PathBuf::from(given);
        if !given.is_file() {
            return Err(fatal(format!(
                "MPTCPIZE_LIBRARY={}: no such file",
                given.display()
            )));
        }
        return canonical(&given);
    }
    let exe = std::env::current_exe()
        .map_err(|e| fatal(format!("cannot find the launcher's own path: {e}")))?;
    let here = exe.parent().unwrap_or(Path::new("/"));
    for candidate in [
        here.join(LIB_NAME),
        here.join("../lib/mptcpize-rs").join(LIB_NAME),
    ] {
        if candidate.is_file() {
            return canonical(&candidate);
        }
    }
    Err(fatal(format!(
        "cannot find {LIB_NAME} next to {} (set MPTCPIZE_LIBRARY)",
        exe.display()
    )))
}

fn canonical(path: &Path) -> Result<PathBuf, Failure> {
    path.canonicalize()
        .map_err(|e| fatal(format!("{}: {e}", path.display())))
}

/// Refuses a path ld.so would split (colon, whitespace) or that is not valid text in a unit.
fn usable_in_preload(path: &Path) -> Result<(), Failure> {
    let text = path.as_os_str().as_encoded_bytes();
    if let Some(&bad) = text.iter().find(|&&b| b == b':' || b.is_ascii_whitespace()) {
        let what = if bad == b':' { "a colon" } else { "a space" };
        return Err(fatal(format!(
            "the library's path {} contains {what}: LD_PRELOAD cannot name it (ld.so splits it \
             there, so the program would run without MPTCP); install it under a path without \
             spaces or colons",
            path.display()
        )));
    }
    Ok(())
}
