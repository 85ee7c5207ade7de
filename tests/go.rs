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

/// The direction modes reach Go 1.19 through the supervisor: in `listen`, rclone's listener is
/// MPTCP (switched at `listen()`), an MPTCP client gets MPTCP and a plain one TCP, and rclone's
/// own outgoing connection stays TCP; in `connect`, the listener stays TCP and rclone's outgoing
/// connection is MPTCP (to an MPTCP server). Each scenario first without the launcher.
#[test]
fn debian_go_1_19_follows_the_listen_and_connect_modes_through_the_supervisor() {
    let script = r#"
export RCLONE_CONFIG="$WORK/rclone.conf"
: >"$RCLONE_CONFIG"
mkdir "$WORK/files"
payload "$WORK/files/blob" 200000
fact sent "$(sha "$WORK/files/blob")"
run() { if [ "$MODE" = none ]; then "$@"; else W -m "$MODE" "$@"; fi; }
syn() { counter MPTcpExtMPCapableSYNRX; }
# A Go server in the mode under test, an MPTCP client (the library, -m on) and a plain one.
run rclone serve http "$WORK/files" --addr 127.0.0.1:8096 2>"$WORK/server.err" &
wait_listen 8096
fact listeners "$(mptcp_listeners 8096)"
before=$(syn)
W -m on curl -sS http://127.0.0.1:8096/blob >"$WORK/mptcp_client"
fact mptcp_client "$(sha "$WORK/mptcp_client") $(($(syn) - before))"
before=$(syn)
curl -sS http://127.0.0.1:8096/blob >"$WORK/tcp_client"
fact tcp_client "$(sha "$WORK/tcp_client") $(($(syn) - before))"
# The Go client in the mode under test, to an MPTCP server (Python under the library).
W -m on python3 -m http.server 8097 --bind 127.0.0.1 --directory "$WORK/files" >/dev/null 2>&1 &
wait_listen 8097
before=$(syn)
run rclone cat --http-url http://127.0.0.1:8097 :http:blob >"$WORK/go_client" 2>"$WORK/client.err"
fact go_client "$(sha "$WORK/go_client") $(($(syn) - before))"
"#;
    let run = |mode: &str| {
        let run = in_netns(script, &[("MODE", mode)]);
        run.assert_success();
        run
    };
    // Each client's bytes intact, and whether the server saw MPTCP handshakes.
    let check = |run: &common::Run, client: &str, mptcp: bool| {
        let fact = run.fact(client);
        let (hash, handshakes) = fact.split_once(' ').expect("hash and count");
        assert_eq!(hash, run.fact("sent"), "{client}\n{run}");
        let handshakes: u64 = handshakes.parse().expect("count");
        assert_eq!(
            handshakes >= 1,
            mptcp,
            "{client}: {handshakes} MPTCP handshakes\n{run}"
        );
    };
    let without = run("none");
    without.expect("listeners", "0");
    for client in ["mptcp_client", "tcp_client", "go_client"] {
        check(&without, client, false);
    }
    let listen = run("listen");
    assert_ne!(listen.fact("listeners"), "0", "{listen}");
    check(&listen, "mptcp_client", true);
    check(&listen, "tcp_client", false);
    check(&listen, "go_client", false);
    let connect = run("connect");
    connect.expect("listeners", "0");
    check(&connect, "mptcp_client", false);
    check(&connect, "tcp_client", false);
    check(&connect, "go_client", true);
}
