//! `status PID|UNIT`: what the kernel says about a process's connections, checked against the
//! kernel itself. A client namespace joined to a server namespace by two veth pairs (the server
//! announces its second address, so the MPTCP connection gets a second subflow on the second
//! pair): `status` of the client names both paths and the bytes sent; a client of a plain TCP
//! server shows a fallback; a client without the library shows "never MPTCP"; the server's
//! status (read inside its own namespace) shows its MPTCP listener and connection. Then the
//! exit statuses for a process and a unit that do not exist.

mod common;
use common::in_netns;

const TWO_PATHS: &str = r#"
# The server's namespace lives as long as this sleep (killed by the cleanup trap).
unshare -n sleep 120 &
server_ns=$!
for _ in $(seq 100); do
	[ "$(readlink "/proc/$server_ns/ns/net")" != "$(readlink /proc/self/ns/net)" ] && break
	sleep 0.05
done
S() { nsenter -t "$server_ns" -n "$@"; }
ip link add c1 type veth peer name s1 netns "$server_ns"
ip link add c2 type veth peer name s2 netns "$server_ns"
ip addr add 10.1.1.1/24 dev c1
ip addr add 10.1.2.1/24 dev c2
ip link set c1 up
ip link set c2 up
S ip link set lo up
S ip addr add 10.1.1.2/24 dev s1
S ip addr add 10.1.2.2/24 dev s2
S ip link set s1 up
S ip link set s2 up
ip mptcp limits set subflow 2 add_addr_accepted 2
S ip mptcp limits set subflow 2 add_addr_accepted 2
S ip mptcp endpoint add 10.1.2.2 dev s2 signal

cat >"$WORK/server.py" <<'PY'
import socket, sys, threading
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("0.0.0.0", int(sys.argv[1])))
listener.listen()
def drain(connection):
    while connection.recv(65536):
        pass
while True:
    connection, _ = listener.accept()
    threading.Thread(target=drain, args=(connection,), daemon=True).start()
PY
cat >"$WORK/client.py" <<'PY'
import socket, sys, time
connection = socket.create_connection((sys.argv[1], int(sys.argv[2])))
connection.sendall(b"x" * int(sys.argv[3]))
open(sys.argv[4], "w").write("sent")
time.sleep(60)
PY
S env MPTCPIZE_LIBRARY="$LIB" "$WRAPPER" timeout 60 python3 "$WORK/server.py" 8080 &
server=$!
S timeout 60 python3 "$WORK/server.py" 8081 &
for port in 8080 8081; do
	for _ in $(seq 200); do
		S ss -Hltn "( sport = :$port )" | grep -q . && break
		sleep 0.05
	done
done
env MPTCPIZE_LIBRARY="$LIB" "$WRAPPER" python3 "$WORK/client.py" 10.1.1.2 8080 300000 "$WORK/mptcp.sent" &
mptcp_client=$!
env MPTCPIZE_LIBRARY="$LIB" "$WRAPPER" python3 "$WORK/client.py" 10.1.1.2 8081 1000 "$WORK/fallback.sent" &
fallback_client=$!
python3 "$WORK/client.py" 10.1.1.2 8080 1000 "$WORK/plain.sent" &
plain_client=$!
# Until every client has sent and the second subflow (from the announced address) is up.
for _ in $(seq 200); do
	if [ -e "$WORK/mptcp.sent" ] && [ -e "$WORK/fallback.sent" ] && [ -e "$WORK/plain.sent" ] &&
		[ "$(counter MPTcpExtMPJoinSynAckRx)" -ge 1 ]; then break; fi
	sleep 0.05
done
sleep 0.5 # the last bytes acknowledged
fact joins "$(counter MPTcpExtMPJoinSynAckRx)"
fact kernel_paths "$(ss -tnH state established '( dport = :8080 )' | awk '{ print $3 }' | sort | tr '\n' ' ')"
fact kernel_fallbacks "$(ss -MniH | grep -c fallback || true)"
set +e
W status "$mptcp_client" >"$WORK/out"; fact mptcp_status "$?"
fact mptcp "$(tr '\n' '|' <"$WORK/out")"
W status --json "$mptcp_client" >"$WORK/json"; fact json_status "$?"
cat >"$WORK/summary.py" <<'PY'
import json, sys
sockets = [s for p in json.load(sys.stdin)["processes"] for s in p["sockets"]]
for s in sockets:
    paths = sorted(f["local"].split(":")[0] for f in s["subflows"])
    print("%s:%s:%s" % (s["protocol"], s["bytes_sent"], ",".join(paths)))
PY
fact json "$(python3 "$WORK/summary.py" <"$WORK/json" | tr '\n' ' ')"
W status "$fallback_client" >"$WORK/out"; fact fallback_status "$?"
fact fallback "$(tr '\n' '|' <"$WORK/out")"
W status "$plain_client" >"$WORK/out"; fact plain_status "$?"
fact plain "$(tr '\n' '|' <"$WORK/out")"
W status "$server" >"$WORK/out"; fact server_status "$?"
fact server "$(tr '\n' '|' <"$WORK/out")"
W status 999999999 2>"$WORK/err"; fact missing_pid "$?:$(cat "$WORK/err")"
W status no-such-unit-here 2>/dev/null; fact missing_unit "$?"
W status 2>/dev/null; fact no_target "$?"
"#;

#[test]
fn status_names_both_paths_a_fallback_and_plain_tcp() {
    let run = in_netns(TWO_PATHS, &[]);
    run.assert_success();
    // The kernel's own view first: a second subflow joined, over the second pair.
    assert!(run.number("joins") >= 1, "{run}");
    let paths = run.fact("kernel_paths");
    assert!(
        paths.contains("10.1.1.1:") && paths.contains("10.1.2.1:"),
        "{run}"
    );
    run.expect("kernel_fallbacks", "1");

    run.expect("mptcp_status", "0");
    let mptcp = run.fact("mptcp");
    assert!(mptcp.contains(" MPTCP ESTAB"), "{run}");
    assert!(mptcp.contains("-> 10.1.1.2:8080  2 subflows"), "{run}");
    assert!(mptcp.contains("sent 300000 B"), "{run}");
    for path in ["subflow ESTAB 10.1.1.1:", "subflow ESTAB 10.1.2.1:"] {
        assert!(mptcp.contains(path), "{path}: {run}");
    }
    assert!(mptcp.contains("-> 10.1.2.2:8080"), "{run}");
    run.expect("json_status", "0");
    run.expect("json", "mptcp:300000:10.1.1.1,10.1.2.1 ");

    run.expect("fallback_status", "0");
    let fallback = run.fact("fallback");
    assert!(
        fallback.contains(" TCP   ESTAB      10.1.1.1:")
            && fallback.contains("fell back to TCP: the peer answered without MPTCP"),
        "{run}"
    );

    run.expect("plain_status", "0");
    let plain = run.fact("plain");
    assert!(
        plain.contains(" TCP   ESTAB") && plain.contains("never MPTCP"),
        "{run}"
    );

    // The server, read inside its own namespace: the MPTCP listener, the MPTCP connection with
    // its two subflows, and the plain client's connection, accepted as TCP.
    run.expect("server_status", "0");
    let server = run.fact("server");
    assert!(server.contains("MPTCP LISTEN     0.0.0.0:8080"), "{run}");
    assert!(server.contains("-> 10.1.1.1:"), "{run}");
    assert!(server.contains("2 subflows"), "{run}");
    assert!(server.contains("the peer connected without MPTCP"), "{run}");

    run.expect(
        "missing_pid",
        "1:mptcpize-rs.sh: no such process: 999999999",
    );
    run.expect("missing_unit", "1");
    run.expect("no_target", "2");
}

#[test]
fn status_of_a_unit_reads_its_control_group() {
    // systemd does not run in the test namespace: a stand-in `systemctl` answers `show` for
    // web.service with a control group the test makes and puts an MPTCP server in.
    let run = in_netns(
        r#"
cgroup_root=$(findmnt -n -o TARGET -t cgroup2 | head -n 1)
group="mptcpize-rs-test-$$"
mkdir "$cgroup_root/$group" "$cgroup_root/$group/worker"
remove_group() { # once its last process has gone (killed by cleanup, exiting just after)
	for _ in $(seq 100); do
		rmdir "$cgroup_root/$group/worker" "$cgroup_root/$group" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "cannot remove the control group $cgroup_root/$group" >&2
}
trap 'cleanup; remove_group' EXIT
mkdir "$WORK/bin"
cat >"$WORK/bin/systemctl" <<SH
#!/bin/sh
case "\$*" in
"show -p LoadState -p ControlGroup -- web.service") printf 'LoadState=loaded\nControlGroup=/$group\n' ;;
*) printf 'LoadState=not-found\nControlGroup=\n' ;;
esac
SH
chmod +x "$WORK/bin/systemctl"
# The server joins the group before it starts, so every process it makes is in it too.
sh -c 'echo $$ >"$1"; shift; exec "$@"' _ "$cgroup_root/$group/worker/cgroup.procs" \
	env MPTCPIZE_LIBRARY="$LIB" "$WRAPPER" timeout 60 python3 -m http.server 8080 --bind 127.0.0.1 \
	>/dev/null 2>&1 &
wait_listen 8080
set +e
PATH="$WORK/bin:$PATH" W status web >"$WORK/out"; fact unit_status "$?"
fact unit "$(tr '\n' '|' <"$WORK/out")"
fact kernel_listeners "$(mptcp_listeners 8080)"
PATH="$WORK/bin:$PATH" W status other 2>"$WORK/err"; fact missing "$?:$(cat "$WORK/err")"
"#,
        &[],
    );
    run.assert_success();
    run.expect("kernel_listeners", "1");
    run.expect("unit_status", "0");
    assert!(
        run.fact("unit").contains("MPTCP LISTEN     127.0.0.1:8080"),
        "{run}"
    );
    run.expect(
        "missing",
        "1:mptcpize-rs.sh: other.service: no such unit (not-found)",
    );
}
