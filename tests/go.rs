//! Go programs: they make their own sockets (no libc `socket()`), so the library cannot reach
//! them; the wrapper sets `GODEBUG=multipathtcp=N` for the mode instead. A real Go HTTP server
//! and client (tests/helpers/gohttp, built with the toolchain scripts/test-deps.sh installs)
//! run through the wrapper negotiate MPTCP, and `-m off` keeps them on TCP.

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
        assert!(run.fact("note").contains("is a Go program"), "{case}");
        let handshakes = run.number("syn_rx").min(run.number("synack_rx"));
        assert_eq!(handshakes >= 1, negotiated, "{case}");
    }
}
