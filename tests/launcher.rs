//! The launcher itself: it contains none of the library's hooks, runs the program in its own
//! PID, and the fixes of issue 10 — a library path ld.so would split is refused, a file without
//! execute bits is "not executable", `--root` must name a directory, a filter that selects none
//! of our lines is reported once, `check` works with a log file exported, `enable` reads
//! `Environment=` as systemd does, and `-d` shows the mode's true origin. Also the entry-point
//! script finding a launcher installed beside it. Then what a hostile review found: closed
//! standard descriptors stay closed, a setuid program keeps its privileges, `status` without the
//! right to look is an error, `--root` never follows a link out of its tree.

mod common;
use common::{built, in_netns};
use std::process::Command;

/// Symbols the library exports into host programs; the launcher must define none of them, or
/// its own calls would go through them.
const HOOKS: [&str; 10] = [
    "socket",
    "setsockopt",
    "listen",
    "connect",
    "close",
    "dup2",
    "dup3",
    "close_range",
    "sendmsg",
    "accept",
];

#[test]
fn the_launcher_contains_none_of_the_hooks() {
    let launcher = env!("CARGO_BIN_EXE_mptcpize-rs");
    for dynamic in [false, true] {
        let mut nm = Command::new("nm");
        nm.arg("--defined-only");
        if dynamic {
            nm.arg("-D");
        }
        let output = nm.arg(launcher).output().expect("nm (binutils)");
        assert!(output.status.success(), "nm {launcher}: {output:?}");
        let symbols = String::from_utf8_lossy(&output.stdout);
        for line in symbols.lines() {
            let name = line.split_whitespace().last().unwrap_or_default();
            let name = name.split('@').next().unwrap_or_default();
            assert!(!HOOKS.contains(&name), "{launcher} defines {line}");
        }
    }
    // And the library does export them (the check above would be empty otherwise).
    let output = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(built().library)
        .output()
        .expect("nm");
    let symbols = String::from_utf8_lossy(&output.stdout);
    assert!(
        symbols.lines().any(|l| l.ends_with(" T socket")),
        "{symbols}"
    );
}

#[test]
fn run_refuses_what_would_fail_silently_and_keeps_the_pid() {
    let run = in_netns(
        r#"
set +e
for dir in "with space" "with:colon"; do
	mkdir -p "$WORK/$dir"
	cp "$LIB" "$WORK/$dir/libmptcpize_rs.so"
	MPTCPIZE_LIBRARY="$WORK/$dir/libmptcpize_rs.so" "$WRAPPER" true 2>"$WORK/err"
	fact "path[$dir]" "$?:$(cat "$WORK/err")"
done
printf '#!/bin/sh\necho ran\n' >"$WORK/script"
chmod 0644 "$WORK/script"
W "$WORK/script" 2>"$WORK/err"; fact noexec "$?:$(cat "$WORK/err")"
W enable web --root "$WORK/missing" 2>"$WORK/err"; fact root_missing "$?:$(head -n 1 "$WORK/err")"
printf 'echo "no shebang $1"\n' >"$WORK/plain-script"
chmod +x "$WORK/plain-script"
fact no_shebang "$(W "$WORK/plain-script" arg)"
# A blocked signal stays blocked across the launcher, as across a shell's exec.
fact sigblk "$(MPTCPIZE_LIBRARY="$LIB" python3 -c '
import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
os.execv(sys.argv[1], sys.argv[1:])' "$WRAPPER" grep SigBlk /proc/self/status | tr -d '\t ')"
env MPTCPIZE_LIBRARY="$LIB" "$WRAPPER" sh -c 'echo $$ >"$1"; exec sleep 0.2' _ "$WORK/pid" &
launched=$!
wait "$launched"
fact same_pid "$([ "$(cat "$WORK/pid")" = "$launched" ] && echo yes || echo "no: $launched $(cat "$WORK/pid")")"
"#,
        &[],
    );
    run.assert_success();
    let space = run.fact("path[with space]");
    assert!(
        space.starts_with("1:mptcpize-rs.sh: the library's path ")
            && space.contains("contains a space: LD_PRELOAD cannot name it"),
        "{run}"
    );
    let colon = run.fact("path[with:colon]");
    assert!(
        colon.starts_with("1:") && colon.contains("contains a colon"),
        "{run}"
    );
    let noexec = run.fact("noexec");
    assert!(
        noexec.starts_with("126:mptcpize-rs.sh: ") && noexec.ends_with("/script: not executable"),
        "{run}"
    );
    let root = run.fact("root_missing");
    assert!(
        root.starts_with("2:mptcpize-rs.sh: --root ")
            && root.ends_with("/missing: no such directory"),
        "{run}"
    );
    run.expect("same_pid", "yes");
    run.expect("no_shebang", "no shebang arg");
    // SIGUSR1 is signal 10: bit 9.
    run.expect("sigblk", "SigBlk:0000000000000200");
}

#[test]
fn the_library_reports_a_filter_that_logs_nothing_and_the_true_mode_origin() {
    // Each program makes three TCP sockets; the library sets itself up once per process.
    let run = in_netns(
        r#"
sockets='import socket
for _ in range(3): socket.socket().close()'
MPTCPIZE_LOG=verbose W python3 -c "$sockets" 2>"$WORK/err"
fact invalid_log "$(grep -c 'invalid MPTCPIZE_LOG="verbose"' "$WORK/err")"
MPTCPIZE_LOG=debug W python3 -c "$sockets" 2>"$WORK/err"
fact valid_log "$(grep -c 'invalid MPTCPIZE_LOG' "$WORK/err" || true)"
W -d python3 -c "$sockets" 2>"$WORK/err"
fact origin "$(grep -o 'mode On (from [A-Za-z]*)' "$WORK/err")"
fact mptcp_sockets "$(grep -c -- '-> MPTCP' "$WORK/err")"
W -m off -d python3 -c "$sockets" 2>"$WORK/err"
fact off_origin "$(grep -o 'mode Off (from [A-Za-z]*)' "$WORK/err")"
fact off_mptcp_sockets "$(grep -c -- '-> MPTCP' "$WORK/err" || true)"
"#,
        &[],
    );
    run.assert_success();
    assert_eq!(run.fact("invalid_log"), "1", "warned once: {run}");
    run.expect("valid_log", "0");
    run.expect("origin", "mode On (from Mptcpize)");
    run.expect("mptcp_sockets", "3");
    run.expect("off_origin", "mode Off (from Mptcpize)");
    run.expect("off_mptcp_sockets", "0");
}

#[test]
fn check_probes_mptcp_itself_even_with_a_log_file_exported() {
    let run = in_netns(
        r#"
set +e
MPTCPIZE_LOG_FILE="$WORK/log" MPTCPIZE_LOG=debug W check >"$WORK/out"; fact on_status "$?"
fact on_socket "$(grep '^MPTCP socket' "$WORK/out")"
fact on_limits "$(grep '^kernel limits' "$WORK/out")"
fact on_behaviour "$(grep '^kernel behaviour' "$WORK/out")"
fact on_close_timeout "$(grep -c '^net.mptcp.close_timeout: ' "$WORK/out")"
sysctl -qw net.mptcp.enabled=0
MPTCPIZE_LOG_FILE="$WORK/log" W check >"$WORK/out"; fact off_status "$?"
fact off_socket "$(grep '^MPTCP socket' "$WORK/out")"
# The kernel's own answer, for comparison.
fact kernel_off "$(python3 -c 'import socket
try: socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262); print("yes")
except OSError as e: print(e.errno)')"
"#,
        &[],
    );
    run.assert_success();
    run.expect("on_status", "0");
    run.expect("on_socket", "MPTCP socket: yes");
    // What this kernel's committed option table says its MPTCP refuses on a new socket, of the
    // options newer kernels take (tests/kernels.rs runs this inside 6.1 and 6.12).
    let refused: Vec<&str> = [
        "TCP_MAXSEG",
        "TCP_NOTSENT_LOWAT",
        "TCP_FASTOPEN",
        "TCP_FASTOPEN_NO_COOKIE",
        "IP_LOCAL_PORT_RANGE",
        "IP_BIND_ADDRESS_NO_PORT",
    ]
    .into_iter()
    .filter(|name| {
        let cells = common::committed_answers("IPPROTO_MPTCP", "inet", name)
            .unwrap_or_else(|| panic!("{name} is not in this kernel's option table"));
        cells[0].as_bytes()[2] != b'.'
    })
    .collect();
    if refused.is_empty() {
        run.expect(
            "on_limits",
            "kernel limits: none beyond every kernel's (docs/limitations.md)",
        );
    } else {
        run.expect(
            "on_limits",
            &format!(
                "kernel limits: {} make a socket TCP when set before connect()/listen() \
                 (this kernel's MPTCP refuses them; newer kernels take them)",
                refused.join(", ")
            ),
        );
    }
    // What this kernel's committed behaviour table says of a receive buffer set before listen().
    let behaviour = std::fs::read_to_string(
        common::built()
            .repo
            .join(format!("docs/behaviour/{}.txt", common::kernel_series())),
    )
    .expect("this kernel's behaviour table");
    let slow = behaviour
        .lines()
        .find(|line| line.starts_with("rcvbuf listener before listen, send "))
        .expect("the table's first transfer")
        .ends_with(" slow");
    assert_eq!(
        run.fact("on_behaviour").contains("SO_RCVBUF"),
        slow,
        "{behaviour}\n{run}"
    );
    run.expect("on_close_timeout", "1");
    assert_eq!(run.fact("kernel_off"), "92", "ENOPROTOOPT: {run}");
    run.expect("off_status", "1");
    run.expect("off_socket", "MPTCP socket: no (ENOPROTOOPT)");
}

#[test]
fn enable_reads_environment_lines_as_systemd_does() {
    let run = in_netns(
        r#"
root="$WORK/root"
mkdir -p "$root/usr/lib/systemd/system" "$root/etc/systemd/system/app.service.d"
printf '[Service]\nExecStart=/bin/true\nEnvironment="LD_PRELOAD=/opt/a.so /opt/b.so" PORT=80 GODEBUG=x=1\n' \
	>"$root/usr/lib/systemd/system/app.service"
printf '[Service]\nEnvironment=A=1 "GODEBUG=http2client=0,multipathtcp=0" \\\n  B=2\n' \
	>"$root/etc/systemd/system/app.service.d/10-local.conf"
W enable app --root "$root" >/dev/null 2>"$WORK/err"; fact status "$?"
fact dropin "$(sed -n 's/^Environment=//p' "$root/etc/systemd/system/app.service.d/50-mptcpize-rs.conf")"
fact warnings "$(tr '\n' '|' <"$WORK/err")"
# systemd's own reading of the result.
fact verify "$(SYSTEMD_UNIT_PATH="$root/etc/systemd/system:$root/usr/lib/systemd/system:" \
	systemd-analyze verify app.service 2>&1; echo "status $?")"
"#,
        &[],
    );
    run.assert_success();
    let lib = built().library.canonicalize().unwrap();
    let lib = lib.display();
    run.expect("status", "0");
    assert_eq!(
        run.fact("dropin"),
        format!(
            "\"LD_PRELOAD=/opt/a.so /opt/b.so:{lib}\" \"MPTCPIZE=on\" \
             \"GODEBUG=http2client=0,multipathtcp=1\""
        ),
        "both libraries kept, the drop-in's GODEBUG wins: {run}"
    );
    let warnings = run.fact("warnings");
    assert!(
        warnings.contains("app.service already sets LD_PRELOAD=/opt/a.so /opt/b.so;"),
        "{run}"
    );
    assert!(
        warnings.contains("already sets GODEBUG=http2client=0,multipathtcp=0;"),
        "{run}"
    );
    run.expect("verify", "status 0");
}

/// A unit whose program neither the library nor `GODEBUG` reaches (Debian's hey, Go 1.19; static
/// busybox) gets no drop-in that would do nothing: enable fails and prints the drop-in that
/// reaches it through the launcher, which systemd reads as a valid unit. A unit with another,
/// reachable command gets the drop-in and a warning.
#[test]
fn enable_refuses_a_unit_whose_program_only_the_supervisor_reaches() {
    let run = in_netns(
        r#"
root="$WORK/root"
units="$root/usr/lib/systemd/system"
mkdir -p "$units" "$root/usr/bin" "$root/bin"
cp "$(command -v hey)" "$root/usr/bin/hey"
cp /bin/busybox "$root/bin/busybox"
printf '[Service]\nExecStart=-hey -n 1 http://127.0.0.1:%%i/\n' >"$units/go@.service"
printf '[Service]\nExecStart=/bin/busybox httpd -f\n' >"$units/static.service"
printf '[Service]\nType=oneshot\nExecStart=/usr/bin/hey\nExecStart=/bin/true\n' >"$units/mixed.service"
for unit in go@8080 static mixed; do
	set +e
	W enable "$unit" --root "$root" >/dev/null 2>"$WORK/$unit.err"
	fact "$unit.status" "$?"
	set -e
	fact "$unit.err" "$(tr '\n' '|' <"$WORK/$unit.err")"
	fact "$unit.dropin" "$(ls "$root/etc/systemd/system/$unit.service.d" 2>/dev/null || true)"
done
W enable go@8080 -m listen --root "$root" >/dev/null 2>"$WORK/listen.err" || fact listen.status "$?"
fact listen.err "$(tr '\n' '|' <"$WORK/listen.err")"
W enable go@8080 -m off --root "$root" >/dev/null 2>&1 && fact off.status 0
# The drop-in the refusal names, as a user would write it, read by systemd.
mkdir -p "$root/etc/systemd/system/go@8080.service.d"
sed -n '/^\[Service\]$/,$p' "$WORK/go@8080.err" >"$root/etc/systemd/system/go@8080.service.d/50-mine.conf"
fact suggested "$(tr '\n' '|' <"$root/etc/systemd/system/go@8080.service.d/50-mine.conf")"
rm "$root/etc/systemd/system/go@8080.service.d/50-mptcpize-rs.conf"
fact verify "$(SYSTEMD_UNIT_PATH="$root/etc/systemd/system:$units:" \
	systemd-analyze verify go@8080.service 2>&1; echo "status $?")"
"#,
        &[],
    );
    run.assert_success();
    for (unit, why) in [
        (
            "go@8080",
            "/usr/bin/hey is a Go 1.19 program (Go has no GODEBUG=multipathtcp before 1.21)",
        ),
        ("static", "/bin/busybox is statically linked"),
    ] {
        run.expect(&format!("{unit}.status"), "1");
        run.expect(&format!("{unit}.dropin"), "");
        let err = run.fact(&format!("{unit}.err"));
        assert!(err.contains(&format!("{unit}.service: ")), "{run}");
        assert!(err.contains(why), "{unit}: {run}");
        assert!(err.contains("so none was written"), "{unit}: {run}");
    }
    let launcher = env!("CARGO_BIN_EXE_mptcpize-rs");
    assert_eq!(
        run.fact("suggested"),
        format!(
            "[Service]|ExecStart=|ExecStart=-{launcher} run -m on -- hey -n 1 \
             http://127.0.0.1:%i/|"
        ),
        "the unit's prefixes and specifiers kept: {run}"
    );
    run.expect("verify", "status 0");
    run.expect("mixed.status", "0");
    run.expect("mixed.dropin", "50-mptcpize-rs.conf");
    assert!(
        run.fact("mixed.err")
            .contains("/usr/bin/hey is a Go 1.19 program (Go has no GODEBUG=multipathtcp before 1.21): the drop-in does not reach it, only the unit's other commands"),
        "{run}"
    );
    run.expect("listen.status", "1");
    assert!(
        run.fact("listen.err")
            .contains(&format!("ExecStart=-{launcher} run -m listen -- hey")),
        "the supervisor serves the listen mode too: {run}"
    );
    run.expect("off.status", "0");
}

#[test]
fn the_script_runs_a_launcher_installed_beside_it() {
    let run = in_netns(
        r#"
set +e
mkdir -p "$WORK/bin" "$WORK/lib/mptcpize-rs"
cp "$WRAPPER" "$WORK/bin/mptcpize-rs.sh"
cp "$MPTCPIZE_LAUNCHER" "$WORK/bin/mptcpize-rs"
cp "$LIB" "$WORK/lib/mptcpize-rs/libmptcpize_rs.so"
unset MPTCPIZE_LAUNCHER
fact preload "$("$WORK/bin/mptcpize-rs.sh" sh -c 'printf %s "$LD_PRELOAD"')"
"$WORK/bin/mptcpize-rs.sh" no-such-command 2>"$WORK/err"; fact missing "$?:$(cat "$WORK/err")"
"$WORK/bin/mptcpize-rs" no-such-command 2>"$WORK/err"; fact direct "$?:$(cat "$WORK/err")"
rm "$WORK/bin/mptcpize-rs"
"$WORK/bin/mptcpize-rs.sh" true 2>"$WORK/err"; fact alone "$?:$(cat "$WORK/err")"
"#,
        &[],
    );
    run.assert_success();
    assert!(
        run.fact("preload")
            .ends_with("/lib/mptcpize-rs/libmptcpize_rs.so"),
        "{run}"
    );
    assert_eq!(
        run.fact("missing"),
        "127:mptcpize-rs.sh: no-such-command: command not found"
    );
    assert_eq!(
        run.fact("direct"),
        "127:mptcpize-rs: no-such-command: command not found"
    );
    assert!(
        run.fact("alone")
            .starts_with("1:mptcpize-rs.sh: cannot find the launcher"),
        "{run}"
    );
}

/// What a hostile review of the launcher found: the program must get the descriptor table and
/// privileges it has without us, `status` must not report "no connections" when it could not
/// look, and `--root` must never write outside its tree.
#[test]
fn the_program_keeps_its_descriptors_and_privileges_and_root_stays_inside() {
    let run = in_netns(
        r#"
set +e
cd "$WORK"
chmod 755 "$WORK"
# A closed stdin stays closed for the program, as without the launcher.
fact stdin_plain "$(bash -c 'exec <&-; sh -c "[ -e /proc/self/fd/0 ] && echo open || echo closed"')"
fact stdin_launched "$(bash -c 'exec <&-; MPTCPIZE_LIBRARY="$LIB" "$WRAPPER" sh -c "[ -e /proc/self/fd/0 ] && echo open || echo closed"')"
# A static setuid-root program run by nobody keeps its privilege: no seccomp filter (which
# needs no_new_privs) is put in its way.
printf '#include <stdio.h>\n#include <unistd.h>\nint main(void) { printf("%%d\\n", (int)geteuid()); return 0; }\n' |
	gcc -static -x c - -o suid
chmod 4755 suid
fact euid_plain "$(setpriv --reuid=nobody --regid=nogroup --clear-groups ./suid)"
fact euid_launched "$(setpriv --reuid=nobody --regid=nogroup --clear-groups env MPTCPIZE_LIBRARY="$LIB" "$WRAPPER" ./suid 2>/dev/null)"
setpriv --reuid=nobody --regid=nogroup --clear-groups env MPTCPIZE_LIBRARY="$LIB" "$WRAPPER" --seccomp ./suid 2>seccomp.err
fact seccomp_suid_status "$?"
fact seccomp_suid_message "$(cat seccomp.err)"
# A musl program never gets our glibc library from an inherited LD_PRELOAD.
printf '#include <stdio.h>\n#include <stdlib.h>\nint main(void) { const char *p = getenv("LD_PRELOAD"); puts(p && *p ? p : "none"); return 0; }\n' |
	musl-gcc -x c - -o musl
fact musl_preload "$(LD_PRELOAD="$LIB" W ./musl 2>/dev/null)"
# status without the right to read a process's descriptors: an error, not "no connections".
python3 -c 'import socket, time; s = socket.socket(); s.bind(("127.0.0.1", 8123)); s.listen(); time.sleep(20)' &
sleep 0.5
setpriv --bounding-set -sys_ptrace "$WRAPPER" status $! >status.out 2>status.err
fact status_status "$?"
fact status_err "$(cat status.err)"
# --root: a symbolic link in the tree is never followed out of it.
mkdir -p tree/etc/systemd outside
ln -s "$WORK/outside" tree/etc/systemd/system
W enable demo --root tree 2>enable.err
fact enable_status "$?"
# A symbolic link loop cannot be run (126), as a shell says; it is not "not found" (127).
ln -s loop2 loop1
ln -s loop1 loop2
W ./loop1 2>/dev/null
fact loop_status "$?"
fact outside "$(find outside -type f | wc -l)"
"#,
        &[],
    );
    run.assert_success();
    run.expect("stdin_plain", "closed");
    run.expect("stdin_launched", "closed");
    run.expect("euid_plain", "0");
    run.expect("euid_launched", "0");
    run.expect("seccomp_suid_status", "1");
    run.expect("seccomp_suid_message", "mptcpize-rs.sh: ./suid: setuid, setgid or with file capabilities: under the seccomp filter \
         (no_new_privs) it would run without its privileges; not run");
    run.expect("musl_preload", "none");
    run.expect("status_status", "1");
    assert!(
        run.fact("status_err")
            .contains("cannot read the descriptors"),
        "{run}"
    );
    run.expect("enable_status", "1");
    run.expect("outside", "0");
    run.expect("loop_status", "126");
}

/// `+advisory` after a mode reaches the program through every way in: `run -m`, `env` and the
/// drop-in `enable` writes (read by systemd); `force+advisory` is a usage error. Through the
/// wrapper, a client that sets TCP_USER_TIMEOUT before connecting stays MPTCP with the policy
/// (the namespace's MP_CAPABLE counter, SO_PROTOCOL, MPTCP_INFO) and becomes TCP without it, as
/// it is without the library.
#[test]
fn the_advisory_suffix_reaches_the_program_through_run_env_and_enable() {
    let run = in_netns(
        r#"
check=(python3 "$HELPERS/sockcheck.py" option 4 client before 6 18 1234)
fact plain "$("${check[@]}")"
fact default "$(W "${check[@]}")"
synack=$(counter MPTcpExtMPCapableSYNACKRX)
fact advisory "$(W -m on+advisory "${check[@]}")"
fact advisory.synack "$(($(counter MPTcpExtMPCapableSYNACKRX) - synack))"
fact env "$(W env -m connect+advisory | grep MPTCPIZE)"
set +e
W -m force+advisory true 2>"$WORK/force.err"; fact force.status "$?"
set -e
fact force.err "$(head -n 1 "$WORK/force.err")"
root="$WORK/root"
mkdir -p "$root/usr/lib/systemd/system"
printf '[Service]\nExecStart=/bin/true\n' >"$root/usr/lib/systemd/system/app.service"
W enable app -m on+advisory --root "$root" >"$WORK/enable.out"
fact enable.out "$(head -n 1 "$WORK/enable.out")"
fact dropin "$(grep -o '"MPTCPIZE=[^"]*" "GODEBUG=[^"]*"' "$root/etc/systemd/system/app.service.d/50-mptcpize-rs.conf")"
fact verify "$(SYSTEMD_UNIT_PATH="$root/etc/systemd/system:$root/usr/lib/systemd/system:" \
	systemd-analyze verify app.service 2>&1; echo "status $?")"
"#,
        &[],
    );
    run.assert_success();
    let plain = run.fact("plain");
    assert!(
        plain.starts_with("set_errno=0 value=1234 protocol=6 "),
        "{run}"
    );
    run.expect("default", &plain);
    run.expect(
        "advisory",
        "set_errno=0 value=1234 protocol=262 client_protocol=262 client_mptcp_info=1 intact=1",
    );
    run.expect("advisory.synack", "1");
    run.expect("env", "export MPTCPIZE=connect+advisory");
    run.expect("force.status", "2");
    assert!(
        run.fact("force.err")
            .contains("invalid mode 'force+advisory' (accepted: 0/off, 1/on, 2/listen, 3/connect, force; +advisory after any but force)"),
        "{run}"
    );
    assert!(
        run.fact("enable.out").ends_with("(mode on+advisory)"),
        "{run}"
    );
    run.expect(
        "dropin",
        "\"MPTCPIZE=on+advisory\" \"GODEBUG=multipathtcp=1\"",
    );
    run.expect("verify", "status 0");
}
