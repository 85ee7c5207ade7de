//! mptcpize-rs.sh as a user meets it: a real client and server run through it negotiate MPTCP,
//! and it keeps what it was given (LD_PRELOAD, GODEBUG, arguments, exit status) and fails like a
//! shell would. Scripts call it as `W` (tests/support.sh), pointed at the library `cargo test`
//! built through `MPTCPIZE_LIBRARY`, so it never starts a build of its own here.

mod common;
use common::{built, in_netns};

#[test]
fn curl_and_http_server_through_the_wrapper_use_mptcp() {
    for (address, url_host) in [("127.0.0.1", "127.0.0.1"), ("::1", "[::1]")] {
        let run = in_netns(
            r#"
payload "$WORK/index.bin" 65536
W timeout 60 python3 -m http.server 8080 --bind "$ADDR" --directory "$WORK" >/dev/null 2>&1 &
wait_listen 8080
fact mptcp_listeners "$(mptcp_listeners 8080)"
W curl -sS --fail -o "$WORK/got.bin" "http://$URL_HOST:8080/index.bin"
fact intact "$(cmp -s "$WORK/index.bin" "$WORK/got.bin" && echo yes || echo no)"
mptcp_facts
"#,
            &[("ADDR", address), ("URL_HOST", url_host)],
        );
        run.assert_success();
        run.expect("intact", "yes");
        assert_eq!(run.number("mptcp_listeners"), 1, "{run}");
        assert!(
            run.number("syn_rx") >= 1 && run.number("synack_rx") >= 1,
            "{run}"
        );
    }
}

#[test]
fn environment_is_extended_never_replaced() {
    let run = in_netns(
        r#"
show='printf "%s|%s|%s" "$LD_PRELOAD" "${MPTCPIZE-unset}" "${GODEBUG-unset}"'
other=/nonexistent/libother.so
fact plain "$(W sh -c "$show")"
fact kept "$(LD_PRELOAD="$other" W sh -c "$show" 2>/dev/null)"
fact nested "$(LD_PRELOAD="$other" W "$WRAPPER" sh -c "$show" 2>/dev/null)"
fact off "$(GODEBUG=http2client=0,multipathtcp=1 W -m off sh -c "$show")"
fact inherited_godebug "$(GODEBUG=multipathtcp=0 W sh -c "$show")"
fact inherited_mode "$(MPTCPIZE=force GODEBUG=multipathtcp=0 W sh -c "$show")"
fact listen "$(W -m listen sh -c "$show")"
fact connect "$(GODEBUG=multipathtcp=2 W --mode=3 sh -c "$show")"
fact log "$(W -d --log-file rel.log sh -c 'printf "%s|%s" "$MPTCPIZE_LOG" "$MPTCPIZE_LOG_FILE"')"
"#,
        &[],
    );
    run.assert_success();
    let lib = built().library.canonicalize().unwrap();
    let lib = lib.display();
    // MPTCPIZE is always set explicitly (issue 10), so the library's start-up line names the
    // mode's real origin instead of "from Godebug".
    assert_eq!(run.fact("plain"), format!("{lib}|on|multipathtcp=1"));
    let kept = format!("/nonexistent/libother.so:{lib}|on|multipathtcp=1");
    assert_eq!(
        run.fact("kept"),
        kept,
        "an existing LD_PRELOAD is kept, ours appended"
    );
    assert_eq!(run.fact("nested"), kept, "never added twice");
    assert_eq!(
        run.fact("off"),
        format!("{lib}|off|http2client=0,multipathtcp=0")
    );
    assert_eq!(
        run.fact("inherited_godebug"),
        format!("{lib}|off|multipathtcp=0")
    );
    assert_eq!(
        run.fact("inherited_mode"),
        format!("{lib}|force|multipathtcp=1")
    );
    let log = run.fact("log");
    assert!(
        log.starts_with("debug|/") && log.ends_with("/rel.log"),
        "absolute: {log}"
    );
}

#[test]
fn arguments_exit_status_and_errors_behave_like_a_shell() {
    let run = in_netns(
        r#"
set +e
fact args "$(W printf '<%s>' 'a b' "it's" '"q"' '' '$HOME' '*' -m -- | od -An -c | tr -s ' \n' '  ')"
W sh -c 'exit 42'; fact status "$?"
W -m off -- sh -c 'kill -TERM $$'; fact signal "$?"
W no-such-program-here 2>"$WORK/e"; fact missing "$?"; fact missing_err "$(cat "$WORK/e")"
W /tmp 2>"$WORK/e"; fact directory "$?"; fact directory_err "$(cat "$WORK/e")"
W --bogus true 2>"$WORK/e"; fact bad_option "$?"; fact bad_option_err "$(head -n 1 "$WORK/e")"
W -m bogus true 2>"$WORK/e"; fact bad_mode "$?"; fact bad_mode_err "$(head -n 1 "$WORK/e")"
W -m 2>"$WORK/e"; fact no_mode "$?"
W 2>"$WORK/e"; fact nothing "$?"
W -- 2>"$WORK/e"; fact dashdash "$?"
printf '#!/bin/sh\necho "spaced $1"\n' >"$WORK/my prog"
chmod +x "$WORK/my prog"
fact spaced "$(W "$WORK/my prog" 'an arg')"
W 'no such program' 2>"$WORK/e"; fact spaced_missing "$?"; fact spaced_missing_err "$(cat "$WORK/e")"
W --help >"$WORK/o"; fact help "$?"; fact help_first "$(head -n 1 "$WORK/o")"
fact version "$(W --version)"
fact env "$(W env -m off | tr '\n' ' ')"
fact env_systemd "$(W env --systemd | tr '\n' ' ')"
"#,
        &[],
    );
    run.assert_success();
    let expected_args = "< a b > < i t ' s > < \" q \" > < > < $ H O M E > < * > < - m > < - - >";
    assert_eq!(run.fact("args").trim(), expected_args, "{run}");
    run.expect("status", "42");
    assert_eq!(run.fact("signal"), "143", "the program's own signal: {run}");
    run.expect("missing", "127");
    assert_eq!(
        run.fact("missing_err"),
        "mptcpize-rs.sh: no-such-program-here: command not found"
    );
    run.expect("spaced", "spaced an arg");
    run.expect("spaced_missing", "127");
    assert_eq!(
        run.fact("spaced_missing_err"),
        "mptcpize-rs.sh: no such program: command not found"
    );
    run.expect("directory", "126");
    assert_eq!(
        run.fact("directory_err"),
        "mptcpize-rs.sh: /tmp: is a directory"
    );
    for (case, message) in [
        ("bad_option", "mptcpize-rs.sh: unknown option '--bogus'"),
        (
            "bad_mode",
            "mptcpize-rs.sh: invalid mode 'bogus' (accepted: 0/off, 1/on, 2/listen, 3/connect, force; +advisory after any but force)",
        ),
    ] {
        assert_eq!(run.fact(case), "2", "{case}: {run}");
        assert_eq!(run.fact(&format!("{case}_err")), message, "{run}");
    }
    for case in ["no_mode", "nothing", "dashdash"] {
        assert_eq!(run.fact(case), "2", "{case}: {run}");
    }
    assert_eq!(run.fact("help"), "0");
    assert!(
        run.fact("help_first")
            .starts_with("usage: mptcpize-rs.sh [run]"),
        "{run}"
    );
    let cargo_version = env!("CARGO_PKG_VERSION");
    assert_eq!(run.fact("version"), format!("mptcpize-rs {cargo_version}"));
    let lib = built().library.canonicalize().unwrap();
    let lib = lib.display();
    assert_eq!(
        run.fact("env"),
        format!("export LD_PRELOAD={lib} export MPTCPIZE=off export GODEBUG=multipathtcp=0 ")
    );
    assert_eq!(
        run.fact("env_systemd"),
        format!(
            "Environment=\"LD_PRELOAD={lib}\" Environment=\"MPTCPIZE=on\" \
             Environment=\"GODEBUG=multipathtcp=1\" "
        )
    );
}
