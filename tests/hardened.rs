//! Hardened daemons, each run without the library first (`tests/helpers/privsep.py`): a
//! privileged parent binds a listener and passes it (`SCM_RIGHTS`) to a worker chrooted where
//! there is no `/proc` (a forked child, or another program; or it execs the worker, which keeps
//! the socket), which sets the hop limit MPTCP
//! refuses (`IP_TTL`/`IPV6_UNICAST_HOPS` 255, BGP's TTL security) and listens; and clients that
//! bind, set the hop limit and connect where `/proc` cannot be read: in a chroot, in a mount
//! namespace with `/proc` unmounted, and (as an unprivileged user) under `hidepid=2`. IPv4 and
//! IPv6, the on, listen and connect modes, MPTCP on and off in the namespace. Every fact but the protocol is the one the run without
//! the library reported; the kernel says which connections were MPTCP.

mod common;
use common::{Run, in_netns};

/// The facts of a run without the protocol lines, which the library changes on purpose.
fn without_protocols(run: &Run, name: &str) -> String {
    run.fact(name)
        .split(" | ")
        .filter(|line| !line.contains(" protocol: "))
        .collect::<Vec<_>>()
        .join(" | ")
}

#[test]
fn a_listener_passed_to_a_chrooted_worker_works_as_without_the_library() {
    for family in ["4", "6"] {
        for how in ["fork", "handover", "exec"] {
            let run = in_netns(
                r#"
mkdir "$WORK/root"
port=7100
scenario() { # NAME ENV... (none: without the library)
	local name=$1
	shift
	port=$((port + 1))
	env "$@" python3 "$HELPERS/privsep.py" serve "$FAMILY" "$port" "$WORK/root" "$HOW" \
		>"$WORK/server" 2>"$WORK/server.err" &
	local server=$!
	for _ in $(seq 200); do grep -q ready "$WORK/server" && break; sleep 0.05; done
	local client
	client=$(timeout 20 env "$@" python3 "$HELPERS/privsep.py" connect "$FAMILY" "$port" \
		"$WORK/root" 2>"$WORK/client.err" || true)
	timeout 20 tail --pid="$server" -f /dev/null || true
	fact "$name" "$({ printf '%s\n' "$client"; cat "$WORK/server"; } | grep -v '^ready$' | grep . | sort | paste -sd'|' | sed 's/|/ | /g')"
	fact "$name warnings" "$(cat "$WORK/server.err" "$WORK/client.err" | grep -c WARN || true)"
	fact "$name switched" "$(grep -c 'is now TCP' "$WORK/server.err" || true)"
}
scenario plain
for mode in on listen connect; do
	scenario "library $mode" LD_PRELOAD="$LIB" MPTCPIZE=$mode MPTCPIZE_LOG=info
done
sysctl -qw net.mptcp.enabled=0
scenario "plain, MPTCP off"
scenario "library, MPTCP off" LD_PRELOAD="$LIB" MPTCPIZE=on MPTCPIZE_LOG=info
"#,
                &[("FAMILY", family), ("HOW", how)],
            );
            run.assert_success();
            let case = format!("IPv{family} {how}\n{run}");
            let plain = without_protocols(&run, "plain");
            for expected in [
                "worker hop limit: ok",
                "worker sees /proc: False",
                "worker echoed: 131072",
                "hop-limited echo intact: True",
                "plain echo intact: True",
            ] {
                assert!(plain.contains(expected), "{expected}: {case}");
            }
            for name in [
                "library on",
                "library listen",
                "library connect",
                "plain, MPTCP off",
                "library, MPTCP off",
            ] {
                assert_eq!(without_protocols(&run, name), plain, "{name}: {case}");
                assert_eq!(run.fact(&format!("{name} warnings")), "0", "{case}");
            }
            // The listener became TCP before it left (in the listen mode it was TCP), and the log
            // says so; the client's own plain socket is MPTCP where its mode makes it so.
            for (mode, switched, client_protocol) in [
                ("on", "1", "262"),
                ("listen", "0", "6"),
                ("connect", "1", "262"),
            ] {
                let name = format!("library {mode}");
                assert_eq!(
                    run.fact(&format!("{name} switched")),
                    switched,
                    "{name}: {case}"
                );
                let facts = run.fact(&name);
                let expected = format!("plain protocol: {client_protocol}");
                assert!(facts.contains(&expected), "{name}: {case}");
            }
        }
    }
}

#[test]
fn a_client_without_proc_connects_as_without_the_library_and_keeps_mptcp_where_it_can() {
    // How the client is kept from /proc: a chroot; a mount namespace without /proc; hidepid=2
    // (the client then runs as nobody, which still sees its own /proc/self).
    for (way, prefix, root) in [
        ("chroot", "", "$WORK/root"),
        (
            "unmounted",
            "unshare -m sh -c 'umount -l /proc && exec \"$0\" \"$@\"'",
            "-",
        ),
        (
            "hidepid",
            "unshare -m sh -c 'mount -t proc -o hidepid=2 proc /proc && exec setpriv --reuid=65534 --regid=65534 --clear-groups \"$0\" \"$@\"'",
            "-",
        ),
    ] {
        for family in ["4", "6"] {
            let run = in_netns(
                r#"
mkdir "$WORK/root"
port=7200
scenario() { # NAME ENV... (none: without the library)
	local name=$1
	shift
	port=$((port + 1))
	env "$@" python3 "$HELPERS/privsep.py" echo "$FAMILY" "$port" 2 >"$WORK/server" 2>&1 &
	for _ in $(seq 200); do grep -q ready "$WORK/server" && break; sleep 0.05; done
	local before
	before=$(counter MPTcpExtMPCapableSYNACKRX)
	local client
	client=$(eval "timeout 20 $PREFIX env $* python3 $HELPERS/privsep.py connect $FAMILY $port $ROOT" 2>"$WORK/client.err" || true)
	wait || true
	fact "$name" "$(printf '%s\n' "$client" | grep . | sort | paste -sd'|' | sed 's/|/ | /g')"
	fact "$name synack_rx" "$(($(counter MPTcpExtMPCapableSYNACKRX) - before))"
	fact "$name warnings" "$(grep -c WARN "$WORK/client.err" || true)"
	fact "$name switched" "$(grep -c 'is now TCP' "$WORK/client.err" || true)"
}
chmod 755 "$WORK" "$WORK/root"
scenario plain
for mode in on listen connect; do
	scenario "library $mode" LD_PRELOAD="$LIB" MPTCPIZE=$mode MPTCPIZE_LOG=info
done
sysctl -qw net.mptcp.enabled=0
scenario "plain, MPTCP off"
scenario "library, MPTCP off" LD_PRELOAD="$LIB" MPTCPIZE=on MPTCPIZE_LOG=info
"#,
                &[("FAMILY", family), ("PREFIX", prefix), ("ROOT", root)],
            );
            run.assert_success();
            let case = format!("{way} IPv{family}\n{run}");
            let plain = without_protocols(&run, "plain");
            let sees_proc = if way == "hidepid" { "True" } else { "False" };
            for expected in [
                "hop-limited hop limit: ok".to_string(),
                "hop-limited echo intact: True".to_string(),
                "plain echo intact: True".to_string(),
                format!("client sees /proc: {sees_proc}"),
            ] {
                assert!(plain.contains(&expected), "{expected}: {case}");
            }
            for name in [
                "library on",
                "library listen",
                "library connect",
                "plain, MPTCP off",
                "library, MPTCP off",
            ] {
                assert_eq!(without_protocols(&run, name), plain, "{name}: {case}");
                assert_eq!(run.fact(&format!("{name} warnings")), "0", "{case}");
            }
            // The hop-limited socket became TCP (one log line); the plain one is MPTCP, and the
            // kernel saw exactly one MP_CAPABLE handshake complete (none where the mode keeps the
            // client, listen, or the echo server, connect, on TCP).
            for (mode, switched, plain_protocol, handshakes) in [
                ("on", "1", "262", 1),
                ("listen", "0", "6", 0),
                ("connect", "1", "262", 0),
            ] {
                let name = format!("library {mode}");
                let library = run.fact(&name);
                assert!(
                    library.contains("hop-limited protocol: 6"),
                    "{name}: {case}"
                );
                let expected = format!("plain protocol: {plain_protocol}");
                assert!(library.contains(&expected), "{name}: {case}");
                assert_eq!(
                    run.fact(&format!("{name} switched")),
                    switched,
                    "{name}: {case}"
                );
                let counted = run.number(&format!("{name} synack_rx"));
                assert_eq!(counted, handshakes, "{name}: {case}");
            }
            assert_eq!(run.number("plain synack_rx"), 0, "{case}");
        }
    }
}
