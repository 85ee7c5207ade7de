//! The direction modes: `listen` (MPTCP for listeners only) and `connect` (outgoing only),
//! decided at `listen()`. Real servers and clients in a namespace of their own; the kernel's
//! counters, `SO_PROTOCOL` and `MPTCP_INFO` say which protocol each side ended up with.

mod common;
use common::in_netns;

/// An nc server and a Python client, each with its own environment settings.
const SERVER_AND_CLIENT: &str = r#"
# shellcheck disable=SC2086 # *_ENV are assignment lists
env $SERVER_ENV LD_PRELOAD="$LIB" timeout 30 nc "-$FAMILY" -l "$ADDR" 9000 >"$WORK/got" &
server=$!
wait_listen 9000
fact mptcp_listeners "$(mptcp_listeners 9000)"
# shellcheck disable=SC2086
fact client "$(env $CLIENT_ENV LD_PRELOAD="$LIB" python3 "$HELPERS/sockcheck.py" client "$FAMILY" 9000)"
wait "$server"
fact received "$(cat "$WORK/got")"
mptcp_facts
"#;

#[test]
fn modes_table() {
    // (server env, client env, MPTCP listener, client protocol, MPTCP negotiated)
    let table = [
        ("MPTCPIZE=listen", "MPTCPIZE=on", true, "262", true),
        ("MPTCPIZE=2", "MPTCPIZE=1", true, "262", true),
        ("GODEBUG=multipathtcp=2", "MPTCPIZE=on", true, "262", true),
        ("MPTCPIZE=listen", "MPTCPIZE=listen", true, "6", false),
        ("MPTCPIZE=connect", "MPTCPIZE=on", false, "262", false),
        ("MPTCPIZE=on", "MPTCPIZE=connect", true, "262", true),
        ("MPTCPIZE=on", "GODEBUG=multipathtcp=3", true, "262", true),
    ];
    for (server_env, client_env, listener, client_protocol, negotiated) in table {
        for (family, address) in [("4", "127.0.0.1"), ("6", "::1")] {
            let run = in_netns(
                SERVER_AND_CLIENT,
                &[
                    ("SERVER_ENV", server_env),
                    ("CLIENT_ENV", client_env),
                    ("FAMILY", family),
                    ("ADDR", address),
                ],
            );
            run.assert_success();
            let case = format!("server {server_env}, client {client_env}, IPv{family}\n{run}");
            assert_eq!(run.fact("received"), "hello from the client", "{case}");
            assert_eq!(run.number("mptcp_listeners"), u64::from(listener), "{case}");
            let expected_client = format!(
                "protocol={client_protocol} mptcp_info={}",
                u8::from(negotiated)
            );
            assert_eq!(run.fact("client"), expected_client, "{case}");
            let handshakes = run.number("syn_rx").min(run.number("synack_rx"));
            assert_eq!(handshakes >= 1, negotiated, "{case}");
        }
    }
}

#[test]
fn switched_listeners_keep_flags_and_port() {
    // (mode, the listener's protocol after listen())
    for (mode, protocol) in [("listen", "262"), ("connect", "6")] {
        for family in ["4", "6"] {
            let run = in_netns(
                r#"fact listener "$(MPTCPIZE=$MODE preload python3 "$HELPERS/sockcheck.py" listener "$FAMILY")""#,
                &[("MODE", mode), ("FAMILY", family)],
            );
            run.assert_success();
            assert_eq!(
                run.fact("listener"),
                format!("protocol={protocol} nonblock=1 cloexec=1 port_kept=1"),
                "{mode} IPv{family}\n{run}"
            );
        }
    }
}

#[test]
fn listen_mode_keeps_a_listener_tcp_when_it_set_an_option_mptcp_refuses() {
    let run = in_netns(
        r#"fact probe "$(MPTCPIZE=listen preload python3 "$HELPERS/sockcheck.py" option 4 listener before 6 18 1234)""#,
        &[],
    );
    run.assert_success();
    run.expect(
        "probe",
        "set_errno=0 value=1234 protocol=6 client_protocol=6 client_mptcp_info=0 intact=1",
    );
}
