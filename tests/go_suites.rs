//! A peer's own tests: Go 1.19's `net` and `net/http` test suites (Debian's golang-1.19-src,
//! built here offline with golang-1.19-go), each run in a namespace of its own without the
//! launcher, then under it (`mptcpize-rs run`, which reaches Go 1.19 through the seccomp
//! supervisor). Every test must end as it did without the launcher and take no more than twice
//! its time plus a second (a test over that is measured again alone, both ways, before it
//! fails), the namespace's MP_CAPABLE counters must show MPTCP connections, and the differences
//! the project knows are named below with their reason and their bound. Each of them depends
//! on timing (whether the kernel's late error to a closed peer comes into play, loopback
//! throughput), so one that does not show in a run is not a failure; it is printed.

mod common;
use common::{Run, built, in_netns_within};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian 12's Go 1.19 toolchain and its standard library's sources.
const GOROOT: &str = "/usr/lib/go-1.19";

/// How a known difference shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Differs {
    /// The test ends as without, in at most this many times its time without, plus a second.
    SlowerAtMost(u32),
    /// The test ends as without, in its usual time or in up to this many seconds: whether the
    /// kernel's late error comes into play depends on timing.
    MayTakeUpTo(u32),
    /// Either of those, or neither: it depends on timing (how much the kernel buffers before the
    /// peer's close is noticed).
    MayFail,
}

/// (suite, test, how it differs, why).
const KNOWN: &[(&str, &str, Differs, &str)] = &[
    (
        "net",
        "TestSplice",
        Differs::SlowerAtMost(5),
        "its tcp-to-tcp/big case moves 1 GiB over loopback: MPTCP's bulk throughput there is \
         about a third of TCP's (0.42 s vs 1.21 s; docs/limitations.md)",
    ),
    (
        "net",
        "TestWritevError",
        Differs::MayTakeUpTo(70),
        "writes to a peer that closed fail with EPIPE after about 61 s over MPTCP \
         (docs/limitations.md, the behaviour tables)",
    ),
    (
        "net/http",
        "TestTransportCloseResponseBody",
        Differs::MayFail,
        "the same: it waits up to 60 s for the write error a closed peer gives at once over \
         TCP, and fails when the writes are not refused by then",
    ),
    (
        "net/http",
        "TestIssue4191_InfiniteGetTimeout",
        Differs::MayTakeUpTo(70),
        "the same: the client notices the closed connection after about 61 s",
    ),
    (
        "net/http",
        "TestIssue4191_InfiniteGetToPutTimeout",
        Differs::MayTakeUpTo(70),
        "the same",
    ),
];

/// A test's end: PASS, FAIL or SKIP, and its seconds.
type Ends = BTreeMap<String, (String, f64)>;

/// The test binary of `package`, built once into target/go-suites (offline: the standard
/// library's own vendored sources).
fn test_binary(package: &str) -> PathBuf {
    let goroot = Path::new(GOROOT);
    assert!(
        goroot.join("bin/go").is_file() && goroot.join("src").join(package).is_dir(),
        "Go 1.19 missing: scripts/test-deps.sh installs golang-1.19-go and golang-1.19-src"
    );
    let directory = built().repo.join("target/go-suites");
    std::fs::create_dir_all(&directory).expect("target/go-suites");
    let binary = directory.join(format!("{}.test", package.replace('/', "_")));
    let output = Command::new(goroot.join("bin/go"))
        .args(["test", "-c", "-o"])
        .arg(&binary)
        .arg(package)
        .current_dir(goroot.join("src").join(package))
        .env("GOCACHE", directory.join("cache"))
        .env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .output()
        .expect("go test -c");
    assert!(
        output.status.success(),
        "go test -c {package}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    binary
}

/// Runs the suite in its source directory, in a namespace of its own, with or without the
/// launcher; the verbose output, then the namespace's MP_CAPABLE SYNs received.
const SCRIPT: &str = r#"
cd "$SOURCE"
export TMPDIR="$WORK" GOCACHE="$WORK/cache" PATH="$GOROOT/bin:$PATH"
run() { if [ "$WRAPPED" = yes ]; then W run -- "$@"; else "$@"; fi; }
status=0
run "$BINARY" -test.short -test.v -test.timeout 10m ${ONLY:+-test.run "^$ONLY\$"} >"$WORK/out" 2>&1 || status=$?
cat "$WORK/out"
fact status "$status"
mptcp_facts
"#;

fn run_suite(package: &str, binary: &Path, wrapped: &str) -> (Run, Ends) {
    let (run, ends) = run_tests(package, binary, wrapped, "");
    assert!(
        ends.len() > 100,
        "{package}, wrapped={wrapped}: too few tests\n{run}"
    );
    (run, ends)
}

/// The suite, or only the test `only` (a name; empty: all).
fn run_tests(package: &str, binary: &Path, wrapped: &str, only: &str) -> (Run, Ends) {
    let source = Path::new(GOROOT).join("src").join(package);
    let run = in_netns_within(
        SCRIPT,
        &[
            ("SOURCE", source.to_str().unwrap()),
            ("GOROOT", GOROOT),
            ("BINARY", binary.to_str().unwrap()),
            ("WRAPPED", wrapped),
            ("ONLY", only),
        ],
        "600",
    );
    assert_eq!(run.code, Some(0), "{package}, wrapped={wrapped}\n{run}");
    let ends = ends(&run.stdout);
    (run, ends)
}

/// Whether test `name` keeps within 2× + 1 s when measured again alone, both ways (these
/// machines are noisy, and the suites run side by side).
fn in_time_alone(package: &str, binary: &Path, name: &str) -> bool {
    let seconds = |wrapped| {
        let (_, ends) = run_tests(package, binary, wrapped, name);
        ends.get(name).map(|(_, seconds)| *seconds)
    };
    match (seconds("no"), seconds("yes")) {
        (Some(without), Some(with)) => {
            eprintln!("{name} alone: {without} s without, {with} s with");
            with <= 2.0 * without + 1.0
        }
        _ => false,
    }
}

/// The top-level tests' ends in `go test -v` output (`--- PASS: Name (0.01s)` at the start of a
/// line; subtests are indented).
fn ends(output: &str) -> Ends {
    let mut ends = Ends::new();
    for line in output.lines() {
        let Some(rest) = line.strip_prefix("--- ") else {
            continue;
        };
        let Some((result, rest)) = rest.split_once(": ") else {
            continue;
        };
        let Some((name, time)) = rest.split_once(" (") else {
            continue;
        };
        let seconds = time
            .trim_end_matches(')')
            .trim_end_matches('s')
            .parse()
            .unwrap_or(0.0);
        ends.insert(name.to_string(), (result.to_string(), seconds));
    }
    ends
}

fn compare(package: &str, binary: &Path) {
    let (without_run, without) = run_suite(package, binary, "no");
    assert_eq!(without_run.number("syn_rx"), 0, "{without_run}");
    let (with_run, with) = run_suite(package, binary, "yes");
    assert!(
        with_run.number("syn_rx") >= 50,
        "{package}: the suite's connections were not MPTCP\n{with_run}"
    );
    let mut problems = Vec::new();
    for (name, (result, seconds)) in &without {
        let known = KNOWN
            .iter()
            .find(|(suite, test, _, _)| *suite == package && test == name);
        let Some((with_result, with_seconds)) = with.get(name) else {
            problems.push(format!("{name}: ran without the launcher, not under it"));
            continue;
        };
        let same_end = with_result == result;
        let in_time = *with_seconds <= 2.0 * seconds + 1.0;
        match known {
            Some((_, _, Differs::SlowerAtMost(factor), why)) => {
                eprintln!("{name}: {seconds} s without, {with_seconds} s with ({why})");
                if !same_end {
                    problems.push(format!("{name}: {result} without, {with_result} with"));
                } else if *with_seconds > f64::from(*factor) * seconds + 1.0 {
                    problems.push(format!(
                        "{name}: {seconds} s without, {with_seconds} s with: more than the \
                         {factor}× + 1 s known ({why})"
                    ));
                }
            }
            Some((_, _, Differs::MayFail, why)) => {
                eprintln!("{name}: {with_result} in {with_seconds} s under the launcher ({why})");
            }
            Some((_, _, Differs::MayTakeUpTo(most), why)) => {
                eprintln!("{name}: {with_result} in {with_seconds} s under the launcher ({why})");
                if !same_end {
                    problems.push(format!("{name}: {result} without, {with_result} with"));
                } else if *with_seconds > f64::from(*most) {
                    problems.push(format!(
                        "{name}: {with_seconds} s, more than the {most} s known ({why})"
                    ));
                }
            }
            None => {
                if !same_end {
                    problems.push(format!("{name}: {result} without, {with_result} with"));
                } else if !in_time && !in_time_alone(package, binary, name) {
                    problems.push(format!(
                        "{name}: {seconds} s without, {with_seconds} s with (more than 2× + 1 s)"
                    ));
                }
            }
        }
    }
    for name in with.keys().filter(|name| !without.contains_key(*name)) {
        problems.push(format!("{name}: ran under the launcher only"));
    }
    let passed = with.values().filter(|(result, _)| result == "PASS").count();
    eprintln!(
        "{package}: {} tests, {passed} passed under the launcher, {} MPTCP connections",
        with.len(),
        with_run.number("syn_rx")
    );
    assert!(
        problems.is_empty(),
        "{package}:\n{}\n--- under the launcher ---\n{with_run}",
        problems.join("\n")
    );
}

#[test]
fn go_1_19_net_suite_ends_as_without_the_launcher() {
    compare("net", &test_binary("net"));
}

#[test]
fn go_1_19_net_http_suite_ends_as_without_the_launcher() {
    compare("net/http", &test_binary("net/http"));
}
