//! Programs the preload cannot reach, under the seccomp supervisor (`mptcpize-rs-seccomp`): a
//! glibc static program, musl dynamic and static ones, a glibc program making the raw system
//! call, busybox `wget` and `httpd`, a program that forks and execs a dynamic child, one that
//! enters another network namespace. MPTCP is proven by each namespace's counters and
//! `SO_PROTOCOL`, payloads by their hashes; every scenario also runs with `net.mptcp.enabled=0`
//! (plain TCP, the same payload). Then the process shape: PID and exit status kept, no stranger
//! child, SIGTERM ends the program and the supervisor, 16 threads × 1,000 sockets with no
//! descriptor leaked on either side; and identity: a program that dropped root gets MPTCP made
//! with its own credentials, one in another cgroup gets TCP.
//! The same programs also run through the README's first command (`mptcpize-rs.sh PROGRAM`, which
//! picks the supervisor by itself for static and musl programs).
//! Helper: tests/helpers/seccomp_probe.c, built here four ways.

mod common;
use common::{Run, in_netns};
use std::process::Command;

/// The entry point under test.
const SUPERVISE: &str = env!("CARGO_BIN_EXE_mptcpize-rs-seccomp");

/// Builds the probe as `gs` (glibc static), `gd` (glibc dynamic), `md` (musl dynamic) and `ms`
/// (musl static) in $WORK, and defines `S`: the supervisor's entry point.
const PRELUDE: &str = r#"
cd "$WORK"
chmod 755 "$WORK"
probe_source="$HELPERS/seccomp_probe.c"
gcc -O1 -static -pthread "$probe_source" -o gs
gcc -O1 -pthread "$probe_source" -o gd
musl-gcc -O1 -pthread "$probe_source" -o md
musl-gcc -O1 -static -pthread "$probe_source" -o ms
S() { "$SUPERVISE" "$@"; }
# The supervisor's PID, from the first line it logs with -d (file $1), waiting at most 10 s.
supervisor_pid() {
	local _
	for _ in $(seq 200); do
		sed -n 's/^mptcpize-rs\[\([0-9]*\)\]: DEBUG seccomp supervisor ready.*/\1/p' "$1" | grep . && return 0
		sleep 0.05
	done
	return 1
}
"#;

fn run(script: &str, vars: &[(&str, &str)]) -> Run {
    let mut all = vec![("SUPERVISE", SUPERVISE)];
    all.extend_from_slice(vars);
    in_netns(&format!("{PRELUDE}\n{script}"), &all)
}

#[test]
fn the_binary_carries_no_socket_hook() {
    let output = Command::new("nm")
        .args(["--defined-only", SUPERVISE])
        .output()
        .expect("nm (binutils)");
    assert!(output.status.success());
    let symbols = String::from_utf8_lossy(&output.stdout);
    for hook in ["socket", "setsockopt", "listen"] {
        assert!(
            !symbols
                .lines()
                .any(|line| line.ends_with(&format!(" {hook}"))),
            "{SUPERVISE} defines {hook}: it would interpose its own calls"
        );
    }
}

/// The README's first command, `mptcpize-rs.sh PROGRAM`, picks the supervisor by itself for
/// static and musl programs; `--seccomp` asks for it for a dynamic one making the raw syscall.
#[test]
fn the_readme_command_reaches_them_by_itself() {
    let run = run(
        r#"
payload data 262144
port=8300
for program in gs md ms "gd raw"; do
	port=$((port + 1))
	set -- $program
	how=()
	if [ "${2:-}" = raw ]; then how=(--seccomp); fi
	W "${how[@]}" "./$1" listen "$port" ${2:-} >received 2>listener.log &
	server=$!
	wait_listen "$port"
	W "${how[@]}" "./$1" send "$port" ${2:-} <data 2>sender.log
	wait "$server"
	name=${program// /_}
	fact "${name}_listener" "$(sed -n 's/listener protocol=//p' listener.log)"
	fact "${name}_sender" "$(sed -n 's/sender protocol=//p' sender.log)"
	fact "${name}_intact" "$([ "$(sha data)" = "$(sha received)" ] && echo yes || echo no)"
	fact "${name}_note" "$(grep -c 'reached through seccomp' sender.log || true)"
done
mptcp_facts
"#,
        &[],
    );
    run.assert_success();
    for program in ["gs", "md", "ms", "gd_raw"] {
        assert_eq!(
            run.fact(&format!("{program}_listener")),
            "262",
            "{program}\n{run}"
        );
        assert_eq!(
            run.fact(&format!("{program}_sender")),
            "262",
            "{program}\n{run}"
        );
        assert_eq!(
            run.fact(&format!("{program}_intact")),
            "yes",
            "{program}\n{run}"
        );
    }
    for program in ["gs", "md", "ms"] {
        assert_eq!(
            run.fact(&format!("{program}_note")),
            "1",
            "{program}\n{run}"
        );
    }
    assert!(
        run.number("syn_rx") >= 4 && run.number("synack_rx") >= 4,
        "{run}"
    );
}

#[test]
fn static_musl_and_raw_syscall_programs_get_mptcp_and_fall_back_to_tcp() {
    // (net.mptcp.enabled, the protocol each socket must have, MP_CAPABLE handshakes per transfer)
    for (enabled, protocol, handshakes) in [("1", "262", 1), ("0", "6", 0)] {
        let run = run(
            r#"
sysctl -qw net.mptcp.enabled="$ENABLED"
payload data 1048576
port=8100
for program in gs md ms "gd raw"; do
	port=$((port + 1))
	set -- $program
	syn_before=$(counter MPTcpExtMPCapableSYNRX) synack_before=$(counter MPTcpExtMPCapableSYNACKRX)
	S "./$1" listen "$port" ${2:-} >received 2>listener.log &
	server=$!
	wait_listen "$port"
	S "./$1" send "$port" ${2:-} <data 2>sender.log
	wait "$server"
	name=${program// /_}
	fact "${name}_listener" "$(sed -n 's/listener protocol=//p' listener.log)"
	fact "${name}_sender" "$(sed -n 's/sender protocol=//p' sender.log)"
	fact "${name}_intact" "$([ "$(sha data)" = "$(sha received)" ] && echo yes || echo no)"
	fact "${name}_syn" "$(($(counter MPTcpExtMPCapableSYNRX) - syn_before))"
	fact "${name}_synack" "$(($(counter MPTcpExtMPCapableSYNACKRX) - synack_before))"
done
"#,
            &[("ENABLED", enabled)],
        );
        run.assert_success();
        for program in ["gs", "md", "ms", "gd_raw"] {
            let context = format!("{program}, net.mptcp.enabled={enabled}\n{run}");
            assert_eq!(
                run.fact(&format!("{program}_listener")),
                protocol,
                "{context}"
            );
            assert_eq!(
                run.fact(&format!("{program}_sender")),
                protocol,
                "{context}"
            );
            assert_eq!(run.fact(&format!("{program}_intact")), "yes", "{context}");
            assert_eq!(
                run.number(&format!("{program}_syn")),
                handshakes,
                "{context}"
            );
            assert_eq!(
                run.number(&format!("{program}_synack")),
                handshakes,
                "{context}"
            );
        }
    }
}

#[test]
fn busybox_httpd_serves_busybox_wget() {
    for (enabled, handshakes) in [("1", 1), ("0", 0)] {
        let run = run(
            r#"
sysctl -qw net.mptcp.enabled="$ENABLED"
mkdir www
payload www/file 2097152
S busybox httpd -f -p 127.0.0.1:8200 -h www &
wait_listen 8200
fact listeners "$(mptcp_listeners 8200)"
S busybox wget -q -O fetched http://127.0.0.1:8200/file
fact intact "$([ "$(sha www/file)" = "$(sha fetched)" ] && echo yes || echo no)"
mptcp_facts
"#,
            &[("ENABLED", enabled)],
        );
        run.assert_success();
        run.expect("intact", "yes");
        assert_eq!(run.number("listeners"), handshakes, "{run}");
        assert_eq!(run.number("syn_rx"), handshakes, "{run}");
        assert_eq!(run.number("synack_rx"), handshakes, "{run}");
    }
}

#[test]
fn children_and_exec_inherit_the_filter() {
    let run = run(
        r#"
fact static_forks_dynamic_raw "$(S ./gs forkexec ./gd probe raw)"
fact busybox_sh_runs_musl "$(S busybox sh -c './md probe')"
fact plain_dynamic_raw "$(./gd probe raw)"
"#,
        &[],
    );
    run.assert_success();
    run.expect("static_forks_dynamic_raw", "protocol=262");
    run.expect("busybox_sh_runs_musl", "protocol=262");
    run.expect("plain_dynamic_raw", "protocol=6");
}

#[test]
fn the_supervisor_serves_children_that_outlive_the_program_then_ends() {
    let run = run(
        r#"
# The shell exits at once; its background child makes its socket half a second later.
S -d busybox sh -c '(sleep 0.5; exec ./ms probe >late.out) &' 2>late.log
supervisor=$(supervisor_pid late.log)
for _ in $(seq 200); do [ -s late.out ] && break; sleep 0.05; done
fact late "$(cat late.out)"
for _ in $(seq 100); do [ -d "/proc/$supervisor" ] || break; sleep 0.05; done
fact gone "$([ -d "/proc/$supervisor" ] && echo no || echo yes)"
"#,
        &[],
    );
    run.assert_success();
    run.expect("late", "protocol=262");
    run.expect("gone", "yes");
}

#[test]
fn a_program_that_enters_another_network_namespace_gets_its_sockets_there() {
    let run = run(
        r#"
cat >inner.sh <<'INNER'
set -eu
ip link set lo up
nstat -n
./ms listen 8300 >received 2>/dev/null &
for _ in $(seq 200); do ss -Hltn '( sport = :8300 )' | grep -q . && break; sleep 0.05; done
./ms send 8300 <data 2>/dev/null
wait
echo "FACT inner_syn=$(nstat -asz MPTcpExtMPCapableSYNRX | awk '$1 == "MPTcpExtMPCapableSYNRX" { print $2 }')"
INNER
payload data 65536
S unshare -n bash inner.sh
fact intact "$([ "$(sha data)" = "$(sha received)" ] && echo yes || echo no)"
fact outer_syn "$(counter MPTcpExtMPCapableSYNRX)"
"#,
        &[],
    );
    run.assert_success();
    run.expect("intact", "yes");
    assert_eq!(
        run.number("inner_syn"),
        1,
        "MPTCP in the inner namespace: {run}"
    );
    assert_eq!(
        run.number("outer_syn"),
        0,
        "nothing in the outer one: {run}"
    );
}

#[test]
fn force_returns_the_kernels_errno() {
    let run = run(
        r#"
fact on "$(S -m force ./ms probe)"
sysctl -qw net.mptcp.enabled=0
fact off "$(S -m force ./ms probe)"
fact off_default_mode "$(S ./ms probe)"
fact off_plain "$(./ms probe)"
"#,
        &[],
    );
    run.assert_success();
    run.expect("on", "protocol=262");
    assert_eq!(
        run.fact("off"),
        format!("errno={}", libc_enoprotoopt()),
        "{run}"
    );
    assert_eq!(run.fact("off_default_mode"), run.fact("off_plain"), "{run}");
}

/// ENOPROTOOPT on Linux (the tests do not link libc's crate for one number).
fn libc_enoprotoopt() -> u32 {
    92
}

#[test]
fn the_program_keeps_its_pid_status_and_children() {
    let run = run(
        r#"
set +e
out=$(bash -c 'echo "shell=$$"; exec "$SUPERVISE" ./ms pid 7')
fact status "$?"
set -e
fact shell "$(printf '%s\n' "$out" | sed -n 's/^shell=//p')"
fact program "$(printf '%s\n' "$out" | sed -n 's/^pid=//p')"
fact protocol "$(printf '%s\n' "$out" | sed -n 's/^protocol=//p')"
fact children "$(S ./gs nochildren | sed -n 's/^wait=//p')"
"#,
        &[],
    );
    run.assert_success();
    run.expect("status", "7");
    assert_eq!(run.fact("shell"), run.fact("program"), "{run}");
    run.expect("protocol", "262");
    assert_eq!(run.fact("children"), "ECHILD", "a stranger child: {run}");
}

#[test]
fn sigterm_ends_the_program_and_the_supervisor() {
    let run = run(
        r#"
# Not through the function S: `&` would put a subshell between $! and the program.
"$SUPERVISE" -d ./ms hold >out 2>log &
program=$!
for _ in $(seq 200); do grep -q ready out && break; sleep 0.05; done
supervisor=$(supervisor_pid log)
fact alive "$([ -d "/proc/$supervisor" ] && echo yes || echo no)"
fact program_is_the_launcher "$(tr '\0' ' ' <"/proc/$program/cmdline")"
fact parent_is_program "$([ "$(ps -o ppid= -p "$supervisor" | tr -d ' ')" = "$program" ] && echo yes || echo no)"
fact same_group "$([ "$(ps -o pgid= -p "$supervisor")" = "$(ps -o pgid= -p "$program")" ] && echo yes || echo no)"
fact same_session "$([ "$(ps -o sid= -p "$supervisor")" = "$(ps -o sid= -p "$program")" ] && echo yes || echo no)"
fact supervisor_fds "$(for fd in /proc/"$supervisor"/fd/*; do readlink "$fd"; done | sort | tr '\n' '|')"
fact supervisor_cwd "$(readlink "/proc/$supervisor/cwd")"
kill -TERM "$program"
set +e
wait "$program"
fact status "$?"
set -e
for _ in $(seq 100); do [ -d "/proc/$supervisor" ] || break; sleep 0.05; done
fact gone "$([ -d "/proc/$supervisor" ] && echo no || echo yes)"
fact protocol "$(sed -n 's/^protocol=//p' out)"
"#,
        &[],
    );
    run.assert_success();
    run.expect("protocol", "262");
    run.expect("alive", "yes");
    assert_eq!(
        run.fact("program_is_the_launcher"),
        "./ms hold ",
        "exec'd: {run}"
    );
    run.expect("parent_is_program", "no");
    run.expect("same_group", "no");
    run.expect("same_session", "no");
    run.expect("supervisor_cwd", "/");
    // stdin and stdout on /dev/null, stderr the log asked for with -d, the listener, the
    // supervisor's own network namespace, and the /proc/<tid>/cgroup of the one thread that made
    // a socket (remembered with its credentials): nothing of the program's.
    let fds = run.fact("supervisor_fds");
    let program_thread = fds
        .split('|')
        .filter(|fd| {
            fd.strip_prefix("/proc/")
                .and_then(|rest| rest.strip_suffix("/cgroup"))
                .is_some_and(|tid| !tid.is_empty() && tid.bytes().all(|b| b.is_ascii_digit()))
        })
        .count();
    assert_eq!(program_thread, 1, "{run}");
    assert_eq!(fds.matches("/dev/null").count(), 2, "{run}");
    assert_eq!(fds.matches("seccomp notify").count(), 1, "{run}");
    assert_eq!(fds.matches("net:[").count(), 1, "{run}");
    assert_eq!(
        fds.split('|').filter(|fd| !fd.is_empty()).count(),
        6,
        "{run}"
    );
    run.expect("status", "143");
    assert_eq!(
        run.fact("gone"),
        "yes",
        "the supervisor outlived the program: {run}"
    );
}

#[test]
fn sixteen_threads_of_a_thousand_sockets_leak_nothing() {
    for (enabled, protocol) in [("1", "262"), ("0", "6")] {
        let run = run(
            r#"
sysctl -qw net.mptcp.enabled="$ENABLED"
mkfifo hold
"$SUPERVISE" -d ./gs threads 16 1000 <hold >out 2>log &
program=$!
exec 3>hold
for _ in $(seq 1200); do grep -q bad= out && break; sleep 0.05; done
supervisor=$(supervisor_pid log)
fact result "$(cat out)"
links=$(for fd in /proc/"$supervisor"/fd/*; do readlink "$fd"; done)
# The /proc/<tid>/cgroup files of the threads it remembers (see supervisor.rs; "(deleted)" once
# the thread is gone), and the rest.
task='^/proc/[0-9]+/cgroup( \(deleted\))?$'
fact supervisor_tasks "$(grep -Ec "$task" <<<"$links" || true)"
fact supervisor_fds "$(grep -Evc "$task" <<<"$links" || true)"
fact supervisor_sockets "$(for fd in /proc/"$supervisor"/fd/*; do readlink "$fd"; done | grep -c socket: || true)"
exec 3>&-
wait "$program"
fact decisions "$(grep -c ' -> ' log)"
"#,
            &[("ENABLED", enabled)],
        );
        run.assert_success();
        let result = run.fact("result");
        let field = |name: &str| -> String {
            result
                .split(' ')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("no {name} in {result}\n{run}"))
                .to_string()
        };
        assert_eq!(field("protocol"), protocol, "{run}");
        assert_eq!(field("bad"), "0", "{run}");
        assert_eq!(field("fds_before"), field("fds_after"), "{run}");
        assert_eq!(run.number("supervisor_fds"), 5, "{run}");
        // At most one per thread that made a socket: 16, and the main thread.
        assert!(run.number("supervisor_tasks") <= 17, "{run}");
        assert_eq!(run.number("supervisor_sockets"), 0, "{run}");
        assert_eq!(run.number("decisions"), 16_001, "{run}");
    }
}

/// A daemon that drops root before it makes its sockets: the supervisor (root here) makes the
/// MPTCP socket in a worker thread that has the caller's credentials, so the socket's owner is
/// the caller's, as without the supervisor. A caller in another cgroup than the supervisor's
/// still gets its own TCP socket (a socket's cgroup is its maker's): `force` refuses it (EPERM).
#[test]
fn a_daemon_that_dropped_root_gets_mptcp_with_its_own_credentials() {
    let run = run(
        r#"
fact root_dropped_plain "$(./gs dropuid)"
fact root_dropped "$(S ./gs dropuid)"
fact root_dropped_force "$(S -m force ./gs dropuid)"
fact musl_dropped "$(S ./ms dropuid)"
# Another cgroup, made and removed here in the cgroup v2 hierarchy (mounted for the test when
# the machine has none mounted).
hierarchy=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
mounted=""
if [ -z "$hierarchy" ]; then
	hierarchy="$WORK/cgroup2"
	mkdir "$hierarchy"
	mount -t cgroup2 none "$hierarchy"
	mounted=yes
fi
group="$hierarchy/mptcpize-test-$$"
mkdir "$group"
release() {
	rmdir "$group" 2>/dev/null || true
	if [ -n "$mounted" ]; then umount "$hierarchy" || true; fi
	cleanup
}
trap release EXIT
moved() { S sh -c 'echo $$ >"$1/cgroup.procs" && exec ./gs probe' sh "$group"; }
fact other_cgroup "$(moved)"
fact other_cgroup_plain "$(sh -c 'echo $$ >"$1/cgroup.procs" && exec ./gs probe' sh "$group")"
"#,
        &[],
    );
    run.assert_success();
    run.expect("root_dropped_plain", "protocol=6 owner=65534");
    run.expect("root_dropped", "protocol=262 owner=65534");
    run.expect("root_dropped_force", "protocol=262 owner=65534");
    run.expect("musl_dropped", "protocol=262 owner=65534");
    run.expect("other_cgroup_plain", "protocol=6");
    run.expect("other_cgroup", "protocol=6");
}

/// An option MPTCP refuses before the socket starts (`IP_TTL`, as Go's `Dialer.Control` sets
/// it): the supervisor switches its socket to TCP behind the same number, carrying the bound
/// address, the status flags and the options, so the call succeeds as without it; a socket
/// with a second descriptor is not switched (the kernel's refusal). After the start, a value
/// that changes nothing succeeds as over TCP. Glibc static and musl.
#[test]
fn an_option_mptcp_refuses_before_the_start_makes_the_socket_tcp_invisibly() {
    let run = run(
        r#"
for program in gs ms; do
	fact "$program plain" "$(./$program ttl 8411)"
	fact "$program supervised" "$(S ./$program ttl 8412)"
	fact "$program bound_plain" "$(./$program ttl 8413 bound)"
	fact "$program bound" "$(S ./$program ttl 8414 bound)"
	fact "$program dup_plain" "$(./$program ttl 8415 dup)"
	fact "$program dup" "$(S ./$program ttl 8416 dup)"
	fact "$program force" "$(S -m force ./$program ttl 8417)"
	fact "$program after_plain" "$(./$program ttlafter 8418)"
	fact "$program after" "$(S ./$program ttlafter 8419)"
done
"#,
        &[],
    );
    run.assert_success();
    for program in ["gs", "ms"] {
        let fact = |name: &str| run.fact(&format!("{program} {name}"));
        run.expect(
            &format!("{program} plain"),
            "set=0 ttl=7 protocol=6 port=0 nonblock=0 keepalive=0 listen=0",
        );
        assert_eq!(fact("supervised"), fact("plain"), "{run}");
        assert_eq!(
            fact("bound"),
            fact("bound_plain").replace("8413", "8414"),
            "{run}"
        );
        run.expect(
            &format!("{program} bound"),
            "set=0 ttl=7 protocol=6 port=8414 nonblock=1 keepalive=1 listen=0",
        );
        assert_eq!(fact("dup_plain"), fact("plain"), "{run}");
        // Not switched: the kernel's refusal (EOPNOTSUPP) on the MPTCP socket.
        assert!(fact("dup").starts_with("set=-95 "), "{run}");
        assert!(fact("dup").contains(" protocol=262 "), "{run}");
        // force keeps MPTCP and its refusals.
        assert!(fact("force").starts_with("set=-95 "), "{run}");
        // After the start: the value a fresh socket has changes nothing and succeeds, as over
        // TCP; another keeps the kernel's refusal (docs/limitations.md).
        run.expect(
            &format!("{program} after_plain"),
            "default=0 other=0 protocol=6",
        );
        run.expect(
            &format!("{program} after"),
            "default=0 other=-95 protocol=262",
        );
    }
}

/// The supervisor remembers each thread's credentials; a thread that changes them mid-run is never
/// answered from what it was: alone (a raw `setresuid` in one thread: the others keep theirs) or
/// the whole process (glibc's), in a thread that made a socket before, as in the one that asked.
#[test]
fn a_thread_that_changes_its_credentials_mid_run_is_never_answered_as_before() {
    let run = run(
        r#"
fact plain "$(./gs dropmidrun)"
fact supervised "$(S ./gs dropmidrun)"
fact forced "$(S -m force ./gs dropmidrun)"
"#,
        &[],
    );
    run.assert_success();
    // Each socket's protocol and owner: root's before a drop, nobody's (65534) after.
    let expected = |protocol: &str| {
        format!(
            "before={protocol}/0 alone_before={protocol}/0 alone_after={protocol}/65534 \
             main={protocol}/0 thread_before={protocol}/0 after={protocol}/65534 \
             thread_after={protocol}/65534"
        )
    };
    // Without the supervisor every socket is TCP, and every call succeeds.
    assert_eq!(run.fact("plain"), expected("6"), "{run}");
    // Root's supervisor takes on each thread's new credentials in a worker: the owners are the
    // same as without it, never those remembered from before the drop.
    assert_eq!(run.fact("supervised"), expected("262"), "{run}");
    assert_eq!(run.fact("forced"), expected("262"), "{run}");
}

#[test]
fn an_unprivileged_user_is_told_about_no_new_privs() {
    let run = run(
        r#"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
fact nobody "$(as_nobody "$SUPERVISE" ./ms probe 2>note)"
fact note "$(grep -c 'cannot gain privileges' note || true)"
fact nobody_nnp "$(as_nobody "$SUPERVISE" grep NoNewPrivs /proc/self/status 2>/dev/null | tr -d '\t ')"
fact root_note "$(S ./ms probe 2>&1 >/dev/null | grep -c 'cannot gain privileges' || true)"
fact root_nnp "$(S grep NoNewPrivs /proc/self/status | tr -d '\t ')"
"#,
        &[],
    );
    run.assert_success();
    run.expect("nobody", "protocol=262");
    assert_eq!(run.number("note"), 1, "{run}");
    run.expect("nobody_nnp", "NoNewPrivs:1");
    assert_eq!(run.number("root_note"), 0, "{run}");
    run.expect("root_nnp", "NoNewPrivs:0");
}

#[test]
fn modes_off_listen_connect_and_missing_commands() {
    let run = run(
        r#"
set +e
fact off "$(S -m off ./ms probe)"
fact listen "$(S -m listen ./ms probe)"
fact connect "$(S -m 3 ./ms probe)"
S ./no-such-command 2>/dev/null
fact missing_status "$?"
MPTCPIZE=force S ./ms probe >/dev/null
fact env_mode_status "$?"
"#,
        &[],
    );
    run.assert_success();
    run.expect("off", "protocol=6");
    // listen: TCP until listen() (tests/go.rs has the switch); connect: MPTCP.
    run.expect("listen", "protocol=6");
    run.expect("connect", "protocol=262");
    run.expect("missing_status", "127");
    run.expect("env_mode_status", "0");
}

#[test]
fn a_static_go_program_that_ignores_godebug_is_reached() {
    let tools = common::built().repo.join("target/tools");
    let go = tools.join("go/bin/go");
    assert!(
        go.is_file(),
        "{} missing: scripts/test-deps.sh installs it",
        go.display()
    );
    // GODEBUG=multipathtcp=0 makes this Go behave like one older than 1.21: plain TCP sockets
    // of its own, made with raw system calls. `-m on` overrides it for the supervisor.
    for (enabled, handshakes) in [("1", 1), ("0", 0)] {
        let run = run(
            r#"
CGO_ENABLED=0 GOCACHE="$TOOLS/gocache" GOPATH="$TOOLS/gopath" GOTOOLCHAIN=local GOFLAGS= \
	"$GO" build -o gohttp "$HELPERS/gohttp/main.go"
fact static "$(readelf -l gohttp | grep -c INTERP || true)"
sysctl -qw net.mptcp.enabled="$ENABLED"
export GODEBUG=multipathtcp=0
S -m on timeout 30 ./gohttp serve 127.0.0.1:8400 2>server.err &
wait_listen 8400
fact body "$(S -m on ./gohttp get http://127.0.0.1:8400/)"
mptcp_facts
"#,
            &[
                ("ENABLED", enabled),
                ("GO", go.to_str().unwrap()),
                ("TOOLS", tools.to_str().unwrap()),
            ],
        );
        run.assert_success();
        assert_eq!(run.number("static"), 0, "a static Go binary: {run}");
        run.expect("body", "hello from go");
        assert_eq!(run.number("syn_rx"), handshakes, "{run}");
        assert_eq!(run.number("synack_rx"), handshakes, "{run}");
    }
}
