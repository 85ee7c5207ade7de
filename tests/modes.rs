//! The knob and what is left alone: each `MPTCPIZE`/`GODEBUG` setting and each kind of
//! `socket()` call, read back from the kernel (`SO_PROTOCOL`, counters), plus the logging
//! variables. Every case runs in its own network namespace.

mod common;
use common::in_netns;

/// Opens 3 sockets with sockprobe and sends a line over nc under the given environment, then
/// reports the kernel's view.
const SETTING_SCRIPT: &str = r#"
fact probe "$(preload "$SOCKPROBE" inet stream 0 3 2>"$WORK/probe.err")"
fact probe_stderr_lines "$(grep -c . "$WORK/probe.err" || true)"
fact probe_stderr "$(head -n 1 "$WORK/probe.err")"
preload timeout 20 nc -l 127.0.0.1 9000 >"$WORK/got" 2>/dev/null &
server=$!
wait_listen 9000
echo "hello over the setting" | preload timeout 20 nc -N 127.0.0.1 9000 2>/dev/null
wait "$server"
fact received "$(cat "$WORK/got")"
mptcp_facts
"#;

#[test]
fn settings_table() {
    /// (MPTCPIZE, GODEBUG, MPTCP expected, a warning expected that names this)
    type Row = (
        Option<&'static str>,
        Option<&'static str>,
        bool,
        Option<&'static str>,
    );
    let table: &[Row] = &[
        (None, None, true, None),
        (Some(""), None, true, None),
        (Some("on"), None, true, None),
        (Some("1"), None, true, None),
        (Some("force"), None, true, None),
        (Some("off"), None, false, None),
        (Some("0"), None, false, None),
        (None, Some("multipathtcp=0"), false, None),
        (None, Some("netdns=go,multipathtcp=1"), true, None),
        (Some("default"), Some("multipathtcp=0"), false, None),
        (Some("on"), Some("multipathtcp=0"), true, None),
        (
            Some("bogus"),
            None,
            false,
            Some("invalid MPTCPIZE=\"bogus\""),
        ),
        // Both ends in listen mode: an MPTCP listener, a TCP client, so no MPTCP handshake.
        (Some("listen"), None, false, None),
        (None, Some("multipathtcp=2"), false, None),
        (Some("4"), None, false, Some("invalid MPTCPIZE=\"4\"")),
        (
            None,
            Some("multipathtcp=abc"),
            false,
            Some("invalid GODEBUG multipathtcp=\"abc\""),
        ),
        (
            Some("2x"),
            Some("multipathtcp=1"),
            false,
            Some("invalid MPTCPIZE=\"2x\""),
        ),
    ];
    for &(mptcpize, godebug, mptcp, warning) in table {
        let mut vars = Vec::new();
        if let Some(value) = mptcpize {
            vars.push(("MPTCPIZE", value));
        }
        if let Some(value) = godebug {
            vars.push(("GODEBUG", value));
        }
        let run = in_netns(SETTING_SCRIPT, &vars);
        run.assert_success();
        let case = format!("MPTCPIZE={mptcpize:?} GODEBUG={godebug:?}\n{run}");
        let protocol = if mptcp {
            "mptcp=3 tcp=0"
        } else {
            "mptcp=0 tcp=3"
        };
        assert!(
            run.fact("probe")
                .starts_with(&format!("count=3 {protocol} ")),
            "{case}"
        );
        assert_eq!(run.fact("received"), "hello over the setting", "{case}");
        let handshakes = run.number("syn_rx").min(run.number("synack_rx"));
        assert_eq!(handshakes >= 1, mptcp, "counters disagree: {case}");
        match warning {
            None => assert_eq!(run.number("probe_stderr_lines"), 0, "{case}"),
            Some(text) => {
                // One line, read once per process however many sockets it opens.
                assert_eq!(run.number("probe_stderr_lines"), 1, "{case}");
                let line = run.fact("probe_stderr");
                assert!(line.starts_with("mptcpize-rs["), "{case}");
                assert!(line.contains(text) && line.contains("accepted:"), "{case}");
            }
        }
    }
}

#[test]
fn only_tcp_stream_sockets_are_rewritten() {
    // (sockprobe arguments, rewritten to MPTCP?)
    let table = [
        ("inet stream 0", true),
        ("inet6 stream 0", true),
        ("inet stream tcp", true),
        ("inet6 stream tcp", true),
        ("inet stream+nonblock+cloexec 0", true),
        ("inet6 stream+cloexec tcp", true),
        ("inet6 stream+nonblock 0", true),
        ("unix stream 0", false),
        ("unix dgram 0", false),
        ("unix stream+nonblock+cloexec 0", false),
        ("inet dgram 0", false),
        ("inet6 dgram udp", false),
        ("inet stream mptcp", false),
        ("inet6 stream mptcp", false),
        ("inet raw tcp", false),
        ("inet stream udp", false),
        ("inet seqpacket 0", false),
        ("inet stream 132", false),
    ];
    for (args, rewritten) in table {
        let run = in_netns(
            r#"
# shellcheck disable=SC2086 # CALL is a word list
fact plain "$("$SOCKPROBE" $CALL)"
# shellcheck disable=SC2086
fact preloaded "$(preload "$SOCKPROBE" $CALL)"
"#,
            &[("CALL", args)],
        );
        run.assert_success();
        let plain = run.fact("plain");
        let expected = if rewritten {
            assert!(plain.contains("mptcp=0 tcp=1 "), "{args}: {run}");
            plain
                .replace("mptcp=0 tcp=1 ", "mptcp=1 tcp=0 ")
                .replace("protocol=6 ", "protocol=262 ")
        } else {
            plain
        };
        // Same type, same SOCK_NONBLOCK/SOCK_CLOEXEC, same errno on failure, errno kept.
        assert_eq!(run.fact("preloaded"), expected, "{args}: {run}");
    }
}

#[test]
fn debug_log_goes_to_stderr_or_the_log_file_never_stdout() {
    let run = in_netns(
        r#"
fact stdout "$(MPTCPIZE_LOG=debug preload "$SOCKPROBE" inet6 stream+cloexec 0 2>"$WORK/err")"
fact stderr "$(grep 'socket(' "$WORK/err")"
fact stderr_lines "$(grep -c . "$WORK/err")"
sysctl -qw net.mptcp.enabled=0
MPTCPIZE_LOG=debug MPTCPIZE_LOG_FILE="$WORK/log" preload "$SOCKPROBE" inet stream 0 2>"$WORK/err2" >/dev/null
fact file_stderr_lines "$(grep -c . "$WORK/err2" || true)"
fact file_log "$(grep 'socket(' "$WORK/log")"
MPTCPIZE_LOG_FILE="$WORK/missing/dir/log" preload "$SOCKPROBE" inet stream 0 2>"$WORK/err3" >/dev/null
fact bad_file_stderr "$(cat "$WORK/err3")"
MPTCPIZE_LOG='a=b=c' preload "$SOCKPROBE" inet stream 0 2>"$WORK/err4" >/dev/null
fact bad_filter_stderr "$(cat "$WORK/err4")"
"#,
        &[],
    );
    run.assert_success();
    assert!(run.fact("stdout").starts_with("count=1 mptcp=1 "), "{run}");
    let line = run.fact("stderr");
    assert!(line.starts_with("mptcpize-rs["), "{run}");
    assert!(
        line.ends_with("DEBUG socket(AF_INET6, SOCK_STREAM|SOCK_CLOEXEC, 0) -> MPTCP fd 3"),
        "{run}"
    );
    assert_eq!(
        run.number("stderr_lines"),
        2,
        "mode line + one per socket: {run}"
    );
    assert_eq!(run.number("file_stderr_lines"), 0, "{run}");
    assert!(
        run.fact("file_log").contains(
            "DEBUG socket(AF_INET, SOCK_STREAM, 0) -> MPTCP refused (ENOPROTOOPT): TCP fd "
        ),
        "{run}"
    );
    let bad_file = run.fact("bad_file_stderr");
    assert!(
        bad_file.starts_with("mptcpize-rs[") && bad_file.contains("cannot open MPTCPIZE_LOG_FILE"),
        "{run}"
    );
    assert!(!bad_file.contains('\n'), "{run}");
    let bad_filter = run.fact("bad_filter_stderr");
    assert!(
        bad_filter.contains("invalid MPTCPIZE_LOG=\"a=b=c\""),
        "{run}"
    );
    assert!(!bad_filter.contains('\n'), "{run}");
}

#[test]
fn bad_environment_never_changes_the_programs_output_or_status() {
    // (variable, value as a bash expression, expected number of stderr lines)
    let table: &[(&str, &str, usize)] = &[
        ("MPTCPIZE", "''", 0),
        ("MPTCPIZE", "'   '", 0),
        ("MPTCPIZE", "'On'", 0),
        ("MPTCPIZE", "'OFF'", 0),
        ("MPTCPIZE", "$'\\tforce\\n'", 0),
        ("MPTCPIZE", "'o n'", 1),
        ("MPTCPIZE", "'2x'", 1),
        ("MPTCPIZE", "'-1'", 1),
        ("MPTCPIZE", "'99'", 1),
        (
            "MPTCPIZE",
            "\"$(head -c 131000 /dev/zero | tr '\\0' x)\"",
            1,
        ),
        ("MPTCPIZE", "$'\\xff\\xfe'", 1),
        ("GODEBUG", "'multipathtcp='", 1),
        ("GODEBUG", "'multipathtcp=abc'", 1),
        ("GODEBUG", "'multipathtcp=0,multipathtcp=1'", 0),
        ("GODEBUG", "'multipathtcp=1,multipathtcp=x'", 1),
        ("MPTCPIZE_LOG", "''", 0),
        ("MPTCPIZE_LOG", "'%%%=garbage=%%'", 1),
        ("MPTCPIZE_LOG_FILE", "\"$WORK\"", 1),
        ("MPTCPIZE_LOG_FILE", "\"$WORK/no/such/dir/log\"", 1),
        // Opens, but every write fails (ENOSPC): lines are lost, nothing else happens.
        ("MPTCPIZE_LOG_FILE", "/dev/full", 0),
        ("MPTCPIZE_LOG_FILE", "\"$WORK/fifo\"", 1),
    ];
    for &(name, value, lines) in table {
        let run = in_netns(
            &format!(
                r#"
mkfifo "$WORK/fifo"
set +e
export {name}={value}
# An AF_UNIX socket: the library reads its settings (on the first socket()) and leaves it alone.
out=$(preload timeout 10 "$SOCKPROBE" unix stream 0 2>"$WORK/err")
fact status "$?"
fact out "$out"
fact stderr_lines "$(grep -c . "$WORK/err")"
fact stderr "$(head -n 1 "$WORK/err")"
"#
            ),
            &[],
        );
        run.assert_success();
        let case = format!("{name}={value}\n{run}");
        assert_eq!(run.fact("status"), "0", "{case}");
        assert_eq!(
            run.fact("out"),
            "count=1 mptcp=0 tcp=0 other=1 failed=0 errno_kept=1 protocol=0 type=1 nonblock=0 cloexec=0",
            "{case}"
        );
        assert_eq!(run.number("stderr_lines"), lines as u64, "{case}");
        if lines == 1 {
            assert!(run.fact("stderr").starts_with("mptcpize-rs["), "{case}");
        }
    }
}
