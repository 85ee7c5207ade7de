//! Real programs (curl, python's http.server, netcat-openbsd) under the built library, each case
//! in its own network namespace: the kernel's counters and `ss -M` say whether MPTCP was used, and
//! the payload must arrive byte for byte, with MPTCP on, off, or the library absent.

mod common;
use common::{Run, in_netns};

/// Serves a random 1 MiB file with `python3 -m http.server` and fetches it with curl.
const CURL_HTTP_SERVER: &str = r#"
payload "$WORK/data.bin" 1048576
maybe_preload timeout 60 python3 -m http.server 8000 --bind "$ADDR" --directory "$WORK" \
	>"$WORK/server.log" 2>&1 &
wait_listen 8000
fact mptcp_listeners "$(mptcp_listeners 8000)"
maybe_preload timeout 30 curl -sS --fail -o "$WORK/got.bin" "http://$URL_HOST:8000/data.bin"
fact sent "$(sha "$WORK/data.bin")"
fact received "$(sha "$WORK/got.bin")"
mptcp_facts
"#;

/// Sends a random 1 MiB file from one nc to another (`-N`: shut down on EOF).
const NC_TO_NC: &str = r#"
payload "$WORK/data.bin" 1048576
maybe_preload timeout 60 nc "-$FAMILY" -l "$ADDR" 9000 >"$WORK/got.bin" &
server=$!
wait_listen 9000
fact mptcp_listeners "$(mptcp_listeners 9000)"
maybe_preload timeout 30 nc "-$FAMILY" -N "$ADDR" 9000 <"$WORK/data.bin"
wait "$server"
fact sent "$(sha "$WORK/data.bin")"
fact received "$(sha "$WORK/got.bin")"
mptcp_facts
"#;

/// Sets the family's addresses, MPTCP on or off in this namespace, and `maybe_preload`.
const CASE_SETUP: &str = r#"
if [ "$FAMILY" = 6 ]; then ADDR=::1 URL_HOST='[::1]'; else ADDR=127.0.0.1 URL_HOST=127.0.0.1; fi
sysctl -qw net.mptcp.enabled="$MPTCP_ENABLED"
maybe_preload() { if [ "$USE_LIBRARY" = 1 ]; then preload "$@"; else "$@"; fi; }
"#;

#[derive(Debug, Clone, Copy)]
struct Case {
    family: &'static str,
    library: bool,
    mptcp_enabled: bool,
}

impl Case {
    fn expects_mptcp(self) -> bool {
        self.library && self.mptcp_enabled
    }
}

/// Every family × (library on MPTCP, library on a namespace with MPTCP off, no library).
fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for family in ["4", "6"] {
        for (library, mptcp_enabled) in [(true, true), (true, false), (false, true)] {
            cases.push(Case {
                family,
                library,
                mptcp_enabled,
            });
        }
    }
    cases
}

fn run_case(script: &str, case: Case) -> Run {
    let bit = |b: bool| if b { "1" } else { "0" };
    in_netns(
        &format!("{CASE_SETUP}{script}"),
        &[
            ("FAMILY", case.family),
            ("USE_LIBRARY", bit(case.library)),
            ("MPTCP_ENABLED", bit(case.mptcp_enabled)),
        ],
    )
}

fn assert_case(run: &Run, case: Case) {
    run.assert_success();
    assert_eq!(
        run.fact("received"),
        run.fact("sent"),
        "payload changed in {case:?}\n{run}"
    );
    let (syn_rx, synack_rx) = (run.number("syn_rx"), run.number("synack_rx"));
    let listeners = run.number("mptcp_listeners");
    if case.expects_mptcp() {
        assert!(
            syn_rx >= 1 && synack_rx >= 1,
            "no MP_CAPABLE handshake in {case:?}\n{run}"
        );
        assert_eq!(
            listeners, 1,
            "ss -M shows no MPTCP listener in {case:?}\n{run}"
        );
    } else {
        assert_eq!((syn_rx, synack_rx), (0, 0), "MPTCP used in {case:?}\n{run}");
        assert_eq!(listeners, 0, "an MPTCP listener in {case:?}\n{run}");
    }
}

#[test]
fn curl_and_http_server() {
    for case in cases() {
        assert_case(&run_case(CURL_HTTP_SERVER, case), case);
    }
}

#[test]
fn nc_to_nc() {
    for case in cases() {
        assert_case(&run_case(NC_TO_NC, case), case);
    }
}

#[test]
fn force_with_mptcp_off_fails_with_the_kernels_errno() {
    let run = in_netns(
        r#"
sysctl -qw net.mptcp.enabled=0
set +e
MPTCPIZE=force preload timeout 10 nc -l 127.0.0.1 9000 2>"$WORK/listen.err"
fact listen_status "$?"
fact listen_error "$(cat "$WORK/listen.err")"
timeout 20 nc -l 127.0.0.1 9001 >/dev/null &
wait_listen 9001
# nc and curl keep a failed socket() to themselves; python reports the errno it got.
MPTCPIZE=force preload timeout 10 python3 -c \
	'import socket; socket.create_connection(("127.0.0.1", 9001))' 2>"$WORK/connect.err"
fact connect_status "$?"
fact connect_error "$(tail -n 1 "$WORK/connect.err")"
fact probe "$(MPTCPIZE=force preload "$SOCKPROBE" inet6 stream 0)"
"#,
        &[],
    );
    run.assert_success();
    assert_ne!(run.fact("listen_status"), "0", "{run}");
    run.expect("listen_error", "nc: Protocol not available");
    assert_ne!(run.fact("connect_status"), "0", "{run}");
    assert_eq!(
        run.fact("connect_error"),
        format!("OSError: [Errno {ENOPROTOOPT}] Protocol not available"),
        "{run}"
    );
    assert!(
        run.fact("probe")
            .ends_with(&format!("failed=1 errno_kept=0 errno={ENOPROTOOPT}")),
        "{run}"
    );
}

/// ENOPROTOOPT's value on Linux, as the kernel returns it for net.mptcp.enabled=0.
const ENOPROTOOPT: i32 = 92;
