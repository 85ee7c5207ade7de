//! The library inside busy processes: many threads at once (with MPTCP on, and off so the
//! fallback memory is hit concurrently), a timer signal whose handler opens sockets from before
//! the first `socket()` call, and process creation (fork without exec, fork+exec, posix_spawn,
//! a child that is a static binary), ASan/UBSan and TSan builds of a threaded C program, and
//! valgrind memcheck of curl. Helpers: examples/lifecycle.rs, tests/helpers/stress.c.

mod common;
use common::in_netns;

#[test]
fn sixteen_threads_of_ten_thousand_sockets_each() {
    // (net.mptcp.enabled, the protocol every socket must have)
    for (enabled, protocol) in [("1", "262"), ("0", "6")] {
        let run = in_netns(
            r#"
sysctl -qw net.mptcp.enabled="$ENABLED"
fact result "$(preload timeout 60 "$EXAMPLES/lifecycle" threads 16 10000 "$PROTOCOL")"
"#,
            &[("ENABLED", enabled), ("PROTOCOL", protocol)],
        );
        run.assert_success();
        let result = run.fact("result");
        assert!(
            result.starts_with("right=160000 wrong=0 failed=0 "),
            "MPTCP {enabled}: {run}"
        );
        let fds: Vec<&str> = result
            .split(' ')
            .skip(3)
            .map(|kv| kv.split('=').nth(1).unwrap_or(""))
            .collect();
        assert_eq!(fds[0], fds[1], "open fds back to where they started: {run}");
    }
}

#[test]
fn sockets_from_a_signal_handler_do_not_deadlock() {
    let run = in_netns(
        r#"
set +e
fact result "$(preload timeout 30 "$EXAMPLES/lifecycle" signal 20000)"
fact status "$?"
"#,
        &[],
    );
    run.assert_success();
    assert_eq!(run.fact("status"), "0", "timed out or crashed: {run}");
    assert!(
        run.fact("result").starts_with("opened=20000 handled="),
        "{run}"
    );
    assert_ne!(
        run.fact("result"),
        "opened=20000 handled=0",
        "the timer never fired: {run}"
    );
}

#[test]
fn fork_exec_posix_spawn_and_static_children() {
    let run = in_netns(
        r#"
printf 'int main(void) { return 3; }\n' | gcc -static -x c - -o "$WORK/static3"
fact static "$(preload "$EXAMPLES/lifecycle" spawn "$WORK/static3")"
fact probe "$(preload "$EXAMPLES/lifecycle" spawn "$SOCKPROBE" inet stream 0 | sort | uniq -c | tr -s ' ' | tr '\n' '|')"
"#,
        &[],
    );
    run.assert_success();
    run.expect("static", "fork_exec=3 posix_spawn=3 fork_child_mptcp=1");
    // Both exec'd children inherit LD_PRELOAD and make MPTCP sockets; the forked child too.
    run.expect("probe", " 2 count=1 mptcp=1 tcp=0 other=0 failed=0 errno_kept=1 protocol=262 type=1 nonblock=0 cloexec=0| 1 fork_exec=0 posix_spawn=0 fork_child_mptcp=1|");
}

#[test]
fn sanitizers_and_valgrind_find_nothing() {
    let run = in_netns(
        r#"
set +e
gcc -O1 -g -fsanitize=address,undefined -pthread "$HELPERS/stress.c" -o "$WORK/asan"
gcc -O1 -g -fsanitize=thread -pthread "$HELPERS/stress.c" -o "$WORK/tsan"
# The ASan runtime wants to come first among the libraries; ours is preloaded before it.
fact asan "$({ ASAN_OPTIONS=verify_asan_link_order=0:halt_on_error=1 preload "$WORK/asan" 2>"$WORK/asan.err"; echo "status $?"; } | tr '\n' ' ')"
fact asan_err "$(head -c 2000 "$WORK/asan.err" | tr '\n' ' ')"
fact tsan "$({ TSAN_OPTIONS=halt_on_error=1 preload "$WORK/tsan" 2>"$WORK/tsan.err"; echo "status $?"; } | tr '\n' ' ')"
fact tsan_err "$(head -c 2000 "$WORK/tsan.err" | tr '\n' ' ')"
timeout 30 python3 -m http.server 8000 --bind 127.0.0.1 --directory "$WORK" >/dev/null 2>&1 &
wait_listen 8000
# LD_PRELOAD reaches the program valgrind runs, not valgrind itself.
LD_PRELOAD="$LIB" valgrind -q --error-exitcode=99 /usr/bin/curl -sS -o /dev/null http://127.0.0.1:8000/ 2>"$WORK/vg.err"
fact valgrind "status $?"
fact valgrind_err "$(head -c 2000 "$WORK/vg.err" | tr '\n' ' ')"
fact client_mptcp "$(counter MPTcpExtMPCapableSYNTX)"
"#,
        &[],
    );
    run.assert_success();
    for tool in ["asan", "tsan"] {
        assert_eq!(run.fact(tool), "failures=0 status 0 ", "{tool}: {run}");
        assert_eq!(
            run.fact(&format!("{tool}_err")),
            "",
            "{tool} reported: {run}"
        );
    }
    run.expect("valgrind", "status 0");
    run.expect("valgrind_err", "");
    assert!(
        run.number("client_mptcp") >= 1,
        "curl under valgrind used MPTCP: {run}"
    );
}
