//! A socket switch must be invisible: the hostile scenarios of issue "Never break, for real".
//!
//! Each scenario (`examples/hostile.rs`) runs in the test's own network namespace twice: without
//! the library, which gives the expected observations, and under it. Every observation must be
//! the same, except that an `opt …` line (a setsockopt result) may instead be the kernel's own
//! error, and then exactly one warning is on stderr. Where MPTCP is expected, the namespace's
//! MP_CAPABLE counters prove it.

mod common;
use common::in_netns;

/// What one scenario showed without the library and under it.
struct Outcome {
    plain: Vec<String>,
    library: Vec<String>,
    warnings: usize,
    /// MP_CAPABLE SYNs received in the namespace (only the library's run can make MPTCP).
    syn_rx: u64,
    report: String,
}

/// Runs `hostile SCENARIO ARG` both ways, under `MPTCPIZE=mode` and `vars`.
fn run(scenario: &str, arg: &str, mode: &str, vars: &[(&str, &str)]) -> Outcome {
    let mut all = vec![("SCENARIO", scenario), ("ARG", arg), ("MODE", mode)];
    all.extend_from_slice(vars);
    let run = in_netns(
        r#"
"$EXAMPLES/hostile" "$SCENARIO" $ARG >"$WORK/plain.out" 2>"$WORK/plain.err" || true
MPTCPIZE="$MODE" LD_PRELOAD="$LIB" timeout 60 "$EXAMPLES/hostile" "$SCENARIO" $ARG \
	>"$WORK/lib.out" 2>"$WORK/lib.err" || true
sed 's/^/PLAIN /' "$WORK/plain.out"
sed 's/^/LIB /' "$WORK/lib.out"
sed 's/^/STDERR /' "$WORK/lib.err"
mptcp_facts
"#,
        &all,
    );
    run.assert_success();
    let lines = |prefix: &str| -> Vec<String> {
        run.stdout
            .lines()
            .filter_map(|line| line.strip_prefix(prefix))
            .map(str::to_string)
            .collect()
    };
    Outcome {
        plain: lines("PLAIN "),
        library: lines("LIB "),
        warnings: lines("STDERR ")
            .iter()
            .filter(|line| line.contains(" WARN "))
            .count(),
        syn_rx: run.number("syn_rx"),
        report: format!("{scenario} {arg} (MPTCPIZE={mode})\n{run}"),
    }
}

impl Outcome {
    /// Asserts "works as without us": the same observations, or the kernel's error on an `opt`
    /// line with exactly one warning. `protocol` lines are returned for the caller to assert.
    fn as_without_library(&self) -> Vec<(String, String)> {
        let report = &self.report;
        assert!(!self.plain.is_empty(), "no observations\n{report}");
        assert_eq!(self.plain.len(), self.library.len(), "{report}");
        let mut protocols = Vec::new();
        let mut kernel_errors = 0;
        for (plain, library) in self.plain.iter().zip(&self.library) {
            if plain.starts_with("protocol ") {
                protocols.push((plain.clone(), library.clone()));
            } else if plain != library {
                let name = plain.rsplit_once(' ').map_or("", |(name, _)| name);
                assert!(
                    plain.starts_with("opt ")
                        && plain.ends_with(" ok")
                        && library.starts_with(name)
                        && (library.ends_with("ENOPROTOOPT") || library.ends_with("EOPNOTSUPP")),
                    "{plain:?} became {library:?}\n{report}"
                );
                kernel_errors += 1;
            }
        }
        assert_eq!(
            self.warnings,
            usize::from(kernel_errors > 0),
            "one warning exactly when the kernel's error came back\n{report}"
        );
        protocols
    }

    /// As [`Self::as_without_library`], and no error at all: the switch happened unnoticed.
    fn identical(&self) -> Vec<(String, String)> {
        let protocols = self.as_without_library();
        assert_eq!(self.warnings, 0, "{}", self.report);
        protocols
    }
}

/// Asserts [`Outcome::identical`] and that the listener's protocol (SO_PROTOCOL, the kernel's
/// word) is `protocol` under the library.
fn identical_with_listener(outcome: Outcome, protocol: &str) {
    let protocols = outcome.identical();
    assert_eq!(
        protocols[0].1,
        format!("protocol {protocol}"),
        "{}",
        outcome.report
    );
}

#[test]
fn epoll_registrations_move_with_the_switch() {
    let outcome = run("epoll-connect", "", "on", &[]);
    assert_eq!(
        outcome.identical(),
        [("protocol 6".into(), "protocol 6".into())],
        "switched to TCP\n{}",
        outcome.report
    );
    for (mode, protocol) in [("listen", "262"), ("connect", "6")] {
        identical_with_listener(run("epoll-listen", "", mode, &[]), protocol);
    }
}

#[test]
fn a_listener_with_an_md5_key_is_never_switched() {
    for mode in ["listen", "on"] {
        let outcome = run("md5-listen", "", mode, &[]);
        let protocols = outcome.identical();
        assert_eq!(protocols[0].1, "protocol 6", "{}", outcome.report);
        assert!(
            outcome
                .library
                .contains(&"without key kept out".to_string())
        );
        assert!(outcome.library.contains(&"with key in".to_string()));
    }
}

#[test]
fn a_finished_connection_keeps_its_answer() {
    let outcome = run("finished", "", "on", &[]);
    outcome.as_without_library();
    assert!(
        outcome.library.contains(&"read answer".to_string()),
        "{}",
        outcome.report
    );
    assert!(
        outcome.syn_rx >= 1,
        "the connection was MPTCP\n{}",
        outcome.report
    );
}

#[test]
fn duplicated_descriptors_move_together_or_not_at_all() {
    // A socket with two numbers is never switched: the kernel's error, one warning.
    for how in ["dup", "dup2", "dupfd", "fork"] {
        let outcome = run("duplicates", how, "on", &[]);
        outcome.as_without_library();
        assert!(outcome.library.contains(&"read copy echoed".to_string()));
    }
    // listen() through a duplicate: not switched, it listens as it is (an MPTCP listener in
    // connect mode still takes TCP clients).
    for (mode, protocol) in [("listen", "6"), ("connect", "262")] {
        identical_with_listener(run("listen-duplicate", "", mode, &[]), protocol);
    }
}

#[test]
fn signal_driven_io_keeps_its_owner_and_signal() {
    run("signal-io", "", "on", &[]).identical();
}

#[test]
fn readable_options_are_carried_per_family() {
    for family in ["4", "6"] {
        run("options", family, "on", &[]).identical();
    }
    run("freebind", "", "on", &[]).identical();
}

#[test]
fn the_programs_own_mptcp_socket_on_a_reused_number_is_left_alone() {
    for mode in ["on", "connect"] {
        run("stale", "", mode, &[]).identical();
    }
}

#[test]
fn a_connect_racing_a_switch_is_never_lost() {
    let outcome = run("race", "5000", "on", &[]);
    // No connect() lost; a setsockopt() that ran inside the connect() succeeds as with TCP (but
    // for the few the test cannot tell from calls after it: examples/hostile.rs, race); when the
    // option lands after connect() the kernel refuses it (one warning).
    assert_eq!(outcome.plain, outcome.library, "{}", outcome.report);
    assert!(outcome.warnings <= 1, "{}", outcome.report);
    assert!(outcome.syn_rx >= 1, "{}", outcome.report);
    assert!(
        outcome.library.contains(&"connected but not 0".to_string()),
        "{}",
        outcome.report
    );
    for line in [
        "setsockopt failed in at most a tenth of the calls inside connect true",
        "setsockopt ran inside connect at least once true",
    ] {
        assert!(
            outcome.library.contains(&line.to_string()),
            "{}",
            outcome.report
        );
    }
}

#[test]
fn a_fork_during_set_up_never_hangs_the_child() {
    let run = in_netns(
        r#"
hung=0
for _ in $(seq 300); do
	if ! LD_PRELOAD="$LIB" timeout 10 "$EXAMPLES/hostile" fork-first | grep -qx 'child ok'; then
		hung=$((hung + 1))
	fi
done
fact hung "$hung"
"#,
        &[],
    );
    run.assert_success();
    run.expect("hung", "0");
}

#[test]
fn log_lines_never_reach_a_descriptor_we_do_not_own() {
    let debug = [("MPTCPIZE_LOG", "debug")];
    let outcome = run("closed-stderr", "", "on", &debug);
    outcome.identical();
    assert!(
        outcome
            .library
            .contains(&r#"server got "payload""#.to_string()),
        "{}",
        outcome.report
    );
    let run = in_netns(
        r#"
"$EXAMPLES/hostile" closed-log "$WORK/plain.txt" | sed 's/^/PLAIN /'
MPTCPIZE_LOG=debug MPTCPIZE_LOG_FILE="$WORK/ours.log" LD_PRELOAD="$LIB" \
	"$EXAMPLES/hostile" closed-log "$WORK/lib.txt" | sed 's/^/LIB /'
fact our_lines "$(grep -c 'socket(AF_INET' "$WORK/ours.log" || true)"
"#,
        &[],
    );
    run.assert_success();
    let plain: Vec<_> = run
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("PLAIN "))
        .collect();
    let library: Vec<_> = run
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("LIB "))
        .collect();
    assert_eq!(plain, library, "{run}");
    assert!(library.contains(&r#"own file "mine\n""#), "{run}");
    assert!(
        run.number("our_lines") >= 2,
        "both sockets logged to our file\n{run}"
    );
}

#[test]
fn an_option_set_to_its_default_value_keeps_mptcp() {
    let outcome = run("default-listener", "", "on", &[]);
    let protocols = outcome.identical();
    assert_eq!(protocols[0].1, "protocol 262", "{}", outcome.report);
    assert!(outcome.syn_rx >= 1, "{}", outcome.report);
}

#[test]
fn a_socket_from_another_namespace_or_shared_with_a_grandchild_is_left_alone() {
    for scenario in ["other-netns", "spawned"] {
        let outcome = run(scenario, "", "on", &[]);
        outcome.as_without_library();
    }
    // listen mode: the listener stays TCP rather than leave the port to the grandchild's copy.
    let outcome = run("spawned", "", "listen", &[]);
    outcome.identical();
}

#[test]
fn shutdown_and_fired_oneshot_registrations_are_never_lost() {
    for scenario in ["shut", "oneshot"] {
        run(scenario, "", "on", &[]).as_without_library();
    }
}
