//! Servers and clients that set options on connections that are already established, as real
//! daemons do, each run without the library first: an FTP/telnet-style server that sets
//! `SO_OOBINLINE` on every accepted connection (and a client that does the same after
//! `connect()`), and a runtime that copies every option it can read from its listener onto each
//! accepted connection (values as read; a client that copies a fresh socket's). With MPTCP and
//! TCP peers, IPv4 and IPv6, in the `on` and `listen` modes: every fact but the protocol is the
//! one the run without the library reported, the payload comes back intact, and the kernel says
//! which connections were MPTCP (`SO_PROTOCOL` on both ends, the namespace's MP_CAPABLE
//! counters).

mod common;
use common::in_netns;

/// (name, server's environment, client's environment, server's protocol, client's protocol,
/// whether the handshake is MPTCP)
const PAIRS: &[(&str, &str, &str, &str, &str, bool)] = &[
    (
        "mptcp server, mptcp client",
        "MPTCPIZE=on",
        "MPTCPIZE=on",
        "262",
        "262",
        true,
    ),
    (
        "mptcp server, tcp client",
        "MPTCPIZE=on",
        "",
        "6",
        "6",
        false,
    ),
    (
        "tcp server, mptcp client",
        "",
        "MPTCPIZE=on",
        "6",
        "262",
        false,
    ),
    (
        "listen-mode server, mptcp client",
        "MPTCPIZE=listen",
        "MPTCPIZE=on",
        "262",
        "262",
        true,
    ),
    (
        "listen-mode server, tcp client",
        "MPTCPIZE=listen",
        "",
        "6",
        "6",
        false,
    ),
];

#[test]
fn options_set_on_established_connections_behave_as_without_the_library() {
    for kind in ["oob", "copy"] {
        for family in ["4", "6"] {
            let run = in_netns(
                r#"
port=7000
pair() { # NAME SERVER_ENV CLIENT_ENV (each empty: without the library)
	local server_env=(env) client_env=(env)
	[ -n "$2" ] && server_env=(env "$2" LD_PRELOAD="$LIB")
	[ -n "$3" ] && client_env=(env "$3" LD_PRELOAD="$LIB")
	port=$((port + 1))
	local before
	before=$(counter MPTcpExtMPCapableSYNRX)
	"${server_env[@]}" python3 "$HELPERS/established.py" serve "$KIND" "$FAMILY" "$port" \
		>"$WORK/server" 2>"$WORK/server.err" &
	local server=$!
	for _ in $(seq 200); do grep -q ready "$WORK/server" && break; sleep 0.05; done
	fact "$1 client" "$(timeout 20 "${client_env[@]}" python3 "$HELPERS/established.py" connect "$KIND" "$FAMILY" "$port" 2>"$WORK/client.err")"
	wait "$server" || true
	fact "$1 server" "$(grep -v ready "$WORK/server")"
	fact "$1 syn_rx" "$(($(counter MPTcpExtMPCapableSYNRX) - before))"
	fact "$1 warnings" "$(cat "$WORK/server.err" "$WORK/client.err" | grep -c WARN || true)"
}
pair plain "" ""
pair "mptcp server, mptcp client" MPTCPIZE=on MPTCPIZE=on
pair "mptcp server, tcp client" MPTCPIZE=on ""
pair "tcp server, mptcp client" "" MPTCPIZE=on
pair "listen-mode server, mptcp client" MPTCPIZE=listen MPTCPIZE=on
pair "listen-mode server, tcp client" MPTCPIZE=listen ""
"#,
                &[("KIND", kind), ("FAMILY", family)],
            );
            run.assert_success();
            let without_protocol = |facts: String| -> String {
                facts
                    .split(' ')
                    .filter(|fact| !fact.starts_with("protocol="))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let plain_client = run.fact("plain client");
            let plain_server = run.fact("plain server");
            assert!(plain_client.ends_with("intact=1"), "{run}");
            assert!(plain_server.ends_with("echoed=262144"), "{run}");
            for &(pair, _, _, server_protocol, client_protocol, mptcp) in PAIRS {
                let case = format!("{kind} IPv{family} {pair}\n{run}");
                let client = run.fact(&format!("{pair} client"));
                let server = run.fact(&format!("{pair} server"));
                assert_eq!(
                    without_protocol(client.clone()),
                    without_protocol(plain_client.clone()),
                    "client: {case}"
                );
                assert_eq!(
                    without_protocol(server.clone()),
                    without_protocol(plain_server.clone()),
                    "server: {case}"
                );
                assert!(
                    client.starts_with(&format!("protocol={client_protocol} ")),
                    "{case}"
                );
                assert!(
                    server.starts_with(&format!("protocol={server_protocol} ")),
                    "{case}"
                );
                let handshakes = run.number(&format!("{pair} syn_rx"));
                assert_eq!(handshakes > 0, mptcp, "MP_CAPABLE SYNs: {case}");
                assert_eq!(run.fact(&format!("{pair} warnings")), "0", "{case}");
            }
        }
    }
}

/// Python duplicates a socket with `fcntl(F_DUPFD_CLOEXEC)` (`socket.dup()`, `socket.fromfd()`,
/// `os.dup()`), not `dup()`: through such a duplicate of an MPTCP connection or listener, options
/// read and set answer as without the library (before the `fcntl` hooks: `EOPNOTSUPP` for
/// `SO_OOBINLINE` and `TCP_USER_TIMEOUT`, and MPTCP's `TCP_ULP` name), and the connection stays
/// MPTCP (`SO_PROTOCOL`, the namespace's MP_CAPABLE counter) with its data intact.
#[test]
fn options_through_a_duplicate_made_with_fcntl_answer_as_without_the_library() {
    let run = in_netns(
        r#"
for family in 4 6; do
	fact "plain-$family" "$(python3 "$HELPERS/dupcheck.py" "$family")"
	synack=$(counter MPTcpExtMPCapableSYNACKRX)
	fact "with-$family" "$(MPTCPIZE=on preload python3 "$HELPERS/dupcheck.py" "$family")"
	fact "synack-$family" "$(($(counter MPTcpExtMPCapableSYNACKRX) - synack))"
done
"#,
        &[],
    );
    run.assert_success();
    for family in ["4", "6"] {
        let plain = run.fact(&format!("plain-{family}"));
        assert!(
            plain.contains("accepted_fromfd.oobinline_set=None")
                && plain.ends_with("intact=1 protocols=6/6"),
            "{run}"
        );
        assert_eq!(
            run.fact(&format!("with-{family}")),
            plain.replace("protocols=6/6", "protocols=262/262"),
            "IPv{family}: {run}"
        );
        run.expect(&format!("synack-{family}"), "1");
    }
}
