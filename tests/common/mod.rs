//! Shared harness of the black-box tests: find the built library and helpers, run a bash script
//! inside a network namespace made for that one test, and read back the facts it reports.
//!
//! The tests never link the crate (a test binary that did would interpose its own sockets): they
//! run real programs under `target/<profile>/deps/libmptcpize_rs.so`, or the library named by
//! `MPTCPIZE_TEST_LIBRARY` (scripts/test.sh: the release build). Each script runs as
//! `unshare -n` (a private network namespace, gone with its last process) under `timeout`, with
//! `tests/support.sh` sourced for its helpers and cleanup trap. These tests need root and an MPTCP
//! kernel; where either is missing they fail loudly rather than skip.

#![allow(dead_code)] // each test file uses its own subset

use std::path::{Path, PathBuf};
use std::process::Command;

/// The longest a test script may run before it is killed.
const SCRIPT_TIMEOUT_SECS: &str = "120";

/// Paths of what `cargo test` built: `target/<profile>/` is two levels above the test binary.
pub struct Built {
    pub library: PathBuf,
    pub examples: PathBuf,
    pub repo: PathBuf,
}

pub fn built() -> Built {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    // MPTCPIZE_TEST_LIBRARY names the library to test: scripts/test.sh sets it to the release
    // build, the one shipped (no_std, panic-free by construction). Without it, what `cargo
    // test` built: the same code built with std (its harnesses unwind), in deps/ (a `cargo
    // build` also copies it one level up), with the log companion next to it.
    let library = match std::env::var_os("MPTCPIZE_TEST_LIBRARY") {
        Some(path) => PathBuf::from(path),
        None => [
            profile_dir.join("deps/libmptcpize_rs.so"),
            profile_dir.join("libmptcpize_rs.so"),
        ]
        .into_iter()
        .find(|path| path.is_file())
        .expect("libmptcpize_rs.so missing from target/<profile>/deps: cargo test builds it"),
    };
    assert!(library.is_file(), "{}: no such library", library.display());
    let examples = profile_dir.join("examples");
    assert!(
        examples.join("sockprobe").is_file(),
        "{} missing: run the tests with `cargo test` (it builds examples)",
        examples.display()
    );
    Built {
        library,
        examples,
        repo: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
    }
}

/// What a script did.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The value of `FACT name=value`, as the script reported it (the last one wins).
    pub fn fact(&self, name: &str) -> String {
        let prefix = format!("FACT {name}=");
        self.stdout
            .lines()
            .filter_map(|line| line.strip_prefix(&prefix))
            .next_back()
            .unwrap_or_else(|| panic!("the script reported no {name}\n{self}"))
            .to_string()
    }

    /// A fact that is a number.
    pub fn number(&self, name: &str) -> u64 {
        let value = self.fact(name);
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number\n{self}"))
    }

    /// Asserts that the script reported `name=value`, showing everything when it did not.
    #[track_caller]
    pub fn expect(&self, name: &str, value: &str) -> &Self {
        let reported = self.fact(name);
        assert_eq!(reported, value, "fact {name}\n{self}");
        self
    }

    /// Panics, showing everything, unless the script exited 0.
    pub fn assert_success(&self) -> &Self {
        assert_eq!(self.code, Some(0), "the script failed\n{self}");
        self
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit: {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `script` with bash in a fresh network namespace, `tests/support.sh` sourced first, and
/// `vars` plus `LIB`, `EXAMPLES`, `WRAPPER`, `HELPERS`, `MPTCPIZE_LAUNCHER` in its environment. Never sets `LD_PRELOAD` itself.
pub fn in_netns(script: &str, vars: &[(&str, &str)]) -> Run {
    in_netns_within(script, vars, SCRIPT_TIMEOUT_SECS)
}

/// [`in_netns`], killed after `seconds` instead (a test that runs a whole test suite).
pub fn in_netns_within(script: &str, vars: &[(&str, &str)], seconds: &str) -> Run {
    let built = built();
    let support = built.repo.join("tests/support.sh");
    let full = format!("source {}\n{script}", shell_quote(&support));
    let mut command = Command::new("timeout");
    command
        .args(["-k", "5", seconds, "unshare", "-n", "bash", "-c", &full])
        .env("LIB", &built.library)
        .env("EXAMPLES", &built.examples)
        .env("WRAPPER", built.repo.join("mptcpize-rs.sh"))
        // The launcher cargo test built: the wrapper and install.sh use it, never building one.
        .env("MPTCPIZE_LAUNCHER", env!("CARGO_BIN_EXE_mptcpize-rs"))
        .env("HELPERS", built.repo.join("tests/helpers"))
        // The test's own environment must not leak a setting into the programs under test.
        .env_remove("LD_PRELOAD")
        .env_remove("MPTCPIZE")
        .env_remove("MPTCPIZE_LOG")
        .env_remove("MPTCPIZE_LOG_FILE")
        .env_remove("GODEBUG");
    for (name, value) in vars {
        command.env(name, value);
    }
    let output = command
        .output()
        .expect("running timeout/unshare/bash (util-linux, coreutils)");
    let run = Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        !run.stderr.contains("unshare failed"),
        "these tests need root (unshare -n): run them as CI does\n{run}"
    );
    run
}

/// `6.18` for `6.18.0-1-amd64`: the name of the running kernel's option table,
/// `docs/options/<series>.txt`.
pub fn kernel_series() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("kernel release");
    release
        .trim()
        .split('.')
        .take(2)
        .collect::<Vec<_>>()
        .join(".")
}

/// The running kernel's committed answers for one option of one family (`inet`, `inet6`) and
/// protocol (`IPPROTO_MPTCP`, `IPPROTO_TCP`): one 4-letter cell per socket state (fresh, listen,
/// acc-mp, acc-tcp, con-mp, con-tcp), as the table's header explains. None when not in it.
pub fn committed_answers(protocol: &str, family: &str, option: &str) -> Option<Vec<String>> {
    let path = built()
        .repo
        .join(format!("docs/options/{}.txt", kernel_series()));
    let table = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{}: no option table for this kernel", path.display()));
    let section = table
        .split("== ")
        .find(|section| section.starts_with(protocol))?;
    section.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next() == Some(family) && words.next() == Some(option))
            .then(|| words.map(str::to_string).collect())
    })
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}
