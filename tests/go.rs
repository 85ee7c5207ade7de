//! Go programs: they make their own sockets (no libc `socket()`), so the library cannot reach
//! them; the wrapper sets `GODEBUG=multipathtcp=N` for the mode instead. A real Go HTTP server
//! and client (tests/helpers/gohttp, built with the toolchain scripts/test-deps.sh installs)
//! run through the wrapper negotiate MPTCP, and `-m off` keeps them on TCP. Go before 1.21 has no
//! `GODEBUG=multipathtcp`: Debian 12's own Go programs get the seccomp supervisor instead.

mod common;
use common::{built, in_netns};

#[test]
fn go_server_and_client_follow_the_wrapper_mode() {
    let repo = built().repo;
    let tools = repo.join("target/tools");
    let go = tools.join("go/bin/go");
    assert!(
        go.is_file(),
        "{} missing: scripts/test-deps.sh installs it",
        go.display()
    );
    // (server mode, client mode, MPTCP negotiated)
    let table = [
        ("on", "on", true),
        ("listen", "on", true),
        ("off", "on", false),
        ("on", "off", false),
        ("connect", "on", false),
    ];
    for (server_mode, client_mode, negotiated) in table {
        let run = in_netns(
            r#"
GOCACHE="$TOOLS/gocache" GOPATH="$TOOLS/gopath" GOTOOLCHAIN=local GOFLAGS= \
	"$GO" build -o "$WORK/gohttp" "$HELPERS/gohttp/main.go"
W -m "$SERVER_MODE" timeout 30 "$WORK/gohttp" serve 127.0.0.1:8090 2>"$WORK/server.err" &
wait_listen 8090
fact body "$(W -m "$CLIENT_MODE" "$WORK/gohttp" get http://127.0.0.1:8090/ 2>"$WORK/client.err")"
fact note "$(cat "$WORK/client.err")"
mptcp_facts
"#,
            &[
                ("GO", go.to_str().unwrap()),
                ("TOOLS", tools.to_str().unwrap()),
                ("SERVER_MODE", server_mode),
                ("CLIENT_MODE", client_mode),
            ],
        );
        run.assert_success();
        let case = format!("server -m {server_mode}, client -m {client_mode}\n{run}");
        assert_eq!(run.fact("body"), "hello from go", "{case}");
        assert!(
            run.fact("note")
                .contains("program: Go makes its own sockets and follows GODEBUG"),
            "{case}"
        );
        let handshakes = run.number("syn_rx").min(run.number("synack_rx"));
        assert_eq!(handshakes >= 1, negotiated, "{case}");
    }
}

/// Debian 12's own Go programs, built with Go 1.19: no `GODEBUG=multipathtcp` and no libc
/// `socket()`, so only the seccomp supervisor reaches them, chosen by the wrapper by itself. rclone
/// serves a file over HTTP to rclone and to hey (an HTTP load generator); each scenario's result
/// without the wrapper is what the wrapper must give, with MPTCP on and off in the namespace.
#[test]
fn debian_go_programs_older_than_go_1_21_get_mptcp_through_the_supervisor() {
    for program in ["rclone", "hey"] {
        assert!(
            std::process::Command::new("sh")
                .args(["-c", &format!("command -v {program}")])
                .output()
                .is_ok_and(|output| output.status.success()),
            "{program} missing: scripts/test-deps.sh installs it"
        );
    }
    let script = r#"
export RCLONE_CONFIG="$WORK/rclone.conf"
: >"$RCLONE_CONFIG"
sysctl -qw net.mptcp.enabled="$ENABLED"
run() { if [ "$WRAPPED" = yes ]; then W "$@"; else "$@"; fi; }
mkdir "$WORK/files"
payload "$WORK/files/blob" 300000
fact sent "$(sha "$WORK/files/blob")"
run rclone serve http "$WORK/files" --addr 127.0.0.1:8091 2>"$WORK/server.err" &
wait_listen 8091
fact mptcp_listeners "$(mptcp_listeners 8091)"
run rclone cat --http-url http://127.0.0.1:8091 :http:blob >"$WORK/received" 2>"$WORK/client.err"
fact received "$(sha "$WORK/received")"
fact hey "$(run hey -n 10 -c 2 http://127.0.0.1:8091/blob 2>"$WORK/hey.err" |
	grep -Ec '^ *\[200\][[:space:]]+10 responses' || true)"
fact notes "$(cat "$WORK/server.err" "$WORK/client.err" "$WORK/hey.err" | grep -c 'a Go 1.19 program: Go has no GODEBUG=multipathtcp before 1.21): reached through seccomp' || true)"
mptcp_facts
"#;
    for enabled in ["1", "0"] {
        let run = |wrapped: &str| {
            let run = in_netns(script, &[("ENABLED", enabled), ("WRAPPED", wrapped)]);
            run.assert_success();
            run
        };
        let without = run("no");
        assert_eq!(without.fact("received"), without.fact("sent"), "{without}");
        assert_eq!(without.fact("hey"), "1", "{without}");
        assert_eq!(without.number("syn_rx"), 0, "{without}");
        let with = run("yes");
        let case = format!("net.mptcp.enabled={enabled}, through the wrapper\n{with}");
        assert_eq!(with.fact("received"), with.fact("sent"), "{case}");
        assert_eq!(with.fact("hey"), without.fact("hey"), "{case}");
        assert_eq!(with.fact("notes"), "3", "{case}");
        // The rclone client's connection and at least one of hey's, both ends MPTCP.
        let (listeners, handshakes) = if enabled == "1" { (1, 2) } else { (0, 0) };
        assert_eq!(with.number("mptcp_listeners"), listeners, "{case}");
        assert!(with.number("syn_rx") >= handshakes, "{case}");
        assert!(with.number("synack_rx") >= handshakes, "{case}");
        if enabled == "0" {
            assert_eq!(with.number("syn_rx"), 0, "{case}");
        }
    }
}
