//! The whole tree a user launched, not only its first program: programs the preload cannot reach
//! (Debian's Go 1.19 rclone, static busybox), started by a shell script or a Python program that
//! the preload does reach, are handed to the seccomp supervisor at `execve()`
//! (crates/preload/src/reach.rs). Each scenario first runs without the wrapper; with it, the same
//! bytes arrive and the kernel's counters say which connections were MPTCP:
//! - `W sh -c 'exec rclone serve http …'`: a Go 1.19 server behind a shell, MPTCP for a curl client;
//! - Python's `subprocess.run(["busybox", "wget", …])`: a static client started by Python;
//! - `env -i busybox wget`: a program whose environment no longer names the library is left alone
//!   (TCP), as a dynamic one would be;
//! - a `#!/bin/busybox sh` script (what runs is its static interpreter), started by dash and by
//!   the launcher itself;
//! - a preloaded Python program started by a supervised busybox shell, which starts busybox wget:
//!   the tree is supervised already, so the helper runs wget as it is and the first supervisor
//!   serves it.

mod common;
use common::{Run, in_netns};

const SCRIPT: &str = r#"
export RCLONE_CONFIG="$WORK/rclone.conf"
: >"$RCLONE_CONFIG"
run() { if [ "$WRAPPED" = yes ]; then W "$@"; else "$@"; fi; }
mkdir "$WORK/files"
payload "$WORK/files/blob" 300000
fact sent "$(sha "$WORK/files/blob")"
url=http://127.0.0.1:8093/blob
run sh -c 'exec rclone serve http "$1" --addr 127.0.0.1:8093' sh "$WORK/files" 2>"$WORK/server.err" &
wait_listen 8093
fact mptcp_listeners "$(mptcp_listeners 8093)"
# client NAME COMMAND...: (through `timeout`, which the preload reaches too) what it received, and the server's MP_CAPABLE SYNs meanwhile.
client() {
	local name=$1 before
	shift
	before=$(counter MPTcpExtMPCapableSYNRX)
	run timeout 30 "$@" >"$WORK/$name" 2>"$WORK/$name.err" || fact "$name exit" "$?"
	fact "$name received" "$(sha "$WORK/$name")"
	fact "$name syn_rx" "$(($(counter MPTcpExtMPCapableSYNRX) - before))"
}
client curl curl -sS "$url"
client python python3 -c 'import subprocess, sys; sys.exit(subprocess.run(["busybox", "wget", "-q", "-O", "-", sys.argv[1]]).returncode)' "$url"
client env sh -c 'exec env -i /bin/busybox wget -q -O - "$1"' sh "$url"
# A busybox shell script (its interpreter is static), started by dash, and by the launcher itself.
printf '#!/bin/busybox sh\nwget -q -O - "$1"\n' >"$WORK/fetch"
chmod 755 "$WORK/fetch"
client script sh -c '"$1" "$2"' sh "$WORK/fetch" "$url"
direct() { if [ "$WRAPPED" = yes ]; then W "$WORK/fetch" "$url"; else "$WORK/fetch" "$url"; fi; }
before=$(counter MPTcpExtMPCapableSYNRX)
direct >"$WORK/direct" 2>"$WORK/direct.err"
fact "direct received" "$(sha "$WORK/direct")"
fact "direct syn_rx" "$(($(counter MPTcpExtMPCapableSYNRX) - before))"
client nested sh -c 'exec busybox sh -c "python3 -c \"import os, sys; os.execvp(\\\"busybox\\\", [\\\"wget\\\", \\\"-q\\\", \\\"-O\\\", \\\"-\\\", sys.argv[1]])\" $1"' sh "$url"
cat "$WORK"/*.err >&2
"#;

fn scenario(wrapped: &str) -> Run {
    let run = in_netns(SCRIPT, &[("WRAPPED", wrapped)]);
    run.assert_success();
    run
}

#[test]
fn programs_the_preload_cannot_reach_get_mptcp_when_a_reached_program_starts_them() {
    let without = scenario("no");
    let sent = without.fact("sent");
    for client in ["curl", "python", "env", "script", "direct", "nested"] {
        assert_eq!(
            without.fact(&format!("{client} received")),
            sent,
            "{client}\n{without}"
        );
        assert_eq!(without.number(&format!("{client} syn_rx")), 0, "{without}");
    }
    let with = scenario("yes");
    assert_eq!(
        with.number("mptcp_listeners"),
        1,
        "the Go server behind sh\n{with}"
    );
    for (client, mptcp) in [
        ("curl", true),
        ("python", true),
        ("env", false),
        ("script", true),
        ("direct", true),
        ("nested", true),
    ] {
        assert_eq!(
            with.fact(&format!("{client} received")),
            with.fact("sent"),
            "{client}\n{with}"
        );
        let handshakes = with.number(&format!("{client} syn_rx"));
        assert_eq!(
            handshakes >= 1,
            mptcp,
            "{client}: {handshakes} MPTCP handshakes\n{with}"
        );
    }
    // The hand-overs say nothing; the launcher says once how it reaches the script it runs.
    let warnings: Vec<&str> = with
        .stderr
        .lines()
        .filter(|line| line.contains("warning"))
        .collect();
    assert!(
        warnings.len() == 1 && warnings[0].contains("/fetch: reached through seccomp"),
        "{with}"
    );
}

/// A program handed over at `exec` gets the supervisor's promises, not only its `socket()`: the
/// helper's own sockets are made by the system call (the library is preloaded in it too), so
/// the options this kernel's MPTCP refuses are measured truly and `IP_TTL` before `connect()`
/// makes the socket TCP as without the wrapper; the mode travels in the environment (`listen`:
/// TCP until `listen()`; `connect`: MPTCP).
#[test]
fn a_program_handed_over_at_exec_keeps_the_supervisors_promises() {
    let run = in_netns(
        r#"
gcc -O1 -static -pthread "$HELPERS/seccomp_probe.c" -o "$WORK/gs"
fact plain "$(sh -c '"$@"' sh "$WORK/gs" ttl 8421)"
fact handed "$(W sh -c '"$@"' sh "$WORK/gs" ttl 8422)"
fact listen "$(W -m listen sh -c '"$1" probe' sh "$WORK/gs")"
fact connect "$(W -m connect sh -c '"$1" probe' sh "$WORK/gs")"
"#,
        &[],
    );
    run.assert_success();
    run.expect(
        "plain",
        "set=0 ttl=7 protocol=6 port=0 nonblock=0 keepalive=0 listen=0",
    );
    assert_eq!(run.fact("handed"), run.fact("plain"), "{run}");
    run.expect("listen", "protocol=6");
    run.expect("connect", "protocol=262");
}

/// A setuid program started by a user's preloaded shell is left alone: under the filter's
/// `no_new_privs` it would run without its privileges, so it runs as without the wrapper.
#[test]
fn a_setuid_program_is_not_handed_over_by_an_unprivileged_user() {
    let run = in_netns(
        r#"
chmod 755 "$WORK"
gcc -O1 -static -pthread "$HELPERS/seccomp_probe.c" -o "$WORK/gs"
chmod 4755 "$WORK/gs"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
fact plain "$(as_nobody sh -c '"$1" euid' sh "$WORK/gs")"
fact wrapped "$(as_nobody env LD_PRELOAD="$LIB" sh -c '"$1" euid' sh "$WORK/gs")"
"#,
        &[],
    );
    run.assert_success();
    run.expect("plain", "euid=0");
    run.expect("wrapped", "euid=0");
}
