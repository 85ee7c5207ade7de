//! The systemd path against a real systemd: `mptcpize-rs enable`/`disable` run inside a booted
//! Debian container (tests/nspawn), on units systemd then really starts.
//!
//! The artifacts are installed the way users get them: `scripts/install.sh` into a staging
//! directory bound read-only at `/usr/local`, or the `.deb` that `cargo deb` built, installed
//! with `dpkg -i` inside the container. The service (tests/helpers/unitserver.py) reports
//! `SO_PROTOCOL` of its own listener, of an outgoing socket and of each accepted connection
//! through the bound `/srv/out`; a client inside the container connects with an explicit MPTCP
//! socket, so the container's MP_CAPABLE counters rise only when the service's listener is MPTCP.
//! Every unit is probed before `enable` (the TCP baseline), after it, and after `disable`.

mod common;
mod nspawn;

use common::{Run, built};
use nspawn::{BOOKWORM, Container, TRIXIE};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Shell helpers for the scripts run inside the container.
const PRELUDE: &str = r#"
set -euo pipefail
OUT=/srv/out
fact() { printf 'FACT %s=%s\n' "$1" "$2"; }
# Each key=value line on stdin as the fact LABEL.key.
facts_from() { local key value; while IFS='=' read -r key value; do fact "$1.$key" "$value"; done; }
# A file's lines joined with |, as one fact.
fact_file() { fact "$1" "$(tr '\n' '|' <"$2")"; }
# A unit as a package would install it.
vendor_unit() { cat >"/usr/lib/systemd/system/$1"; }
# Waits (10 s at most) for the service's report.
wait_file() {
	local _
	for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done
	echo "$1 never appeared" >&2
	return 1
}
# probe LABEL UNIT RESULT PORT: starts UNIT afresh, waits for its report, connects to it.
probe() {
	local label=$1 unit=$2 result=$OUT/$3 port=$4
	rm -f "$result" "$result.accepted"
	systemctl restart "$unit"
	if ! wait_file "$result"; then
		systemctl --no-pager status "$unit" >&2 || true
		return 1
	fi
	facts_from "$label" <"$result"
	python3 /srv/helpers/unitserver.py client "$port" | facts_from "$label"
	echo "accepted=$(cat "$result.accepted")" | facts_from "$label"
}
# enable/disable through the installed command; their output as facts.
toggle() {
	local verb=$1 unit=$2
	shift 2
	local status=0
	mptcpize-rs "$verb" "$unit" "$@" >"$OUT/$verb.out" 2>"$OUT/$verb.err" || status=$?
	fact "$verb.status" "$status"
	fact_file "$verb.out" "$OUT/$verb.out"
	fact_file "$verb.err" "$OUT/$verb.err"
}
"#;

const IPPROTO_TCP: &str = "6";
const IPPROTO_MPTCP: &str = "262";
/// Where `scripts/install.sh` puts the library with PREFIX=/usr/local, and the `.deb` with /usr.
const INSTALLED_LIBRARY: &str = "/usr/local/lib/mptcpize-rs/libmptcpize_rs.so";
const PACKAGED_LIBRARY: &str = "/usr/lib/mptcpize-rs/libmptcpize_rs.so";

/// A container of `suite` with the test helpers at `/srv/helpers` and the artifacts installed
/// by `scripts/install.sh` (PREFIX=/usr/local, staged with DESTDIR and bound read-only).
fn with_installed_wrapper(suite: &str) -> Container {
    let built = built();
    let mut container = Container::new(suite);
    let stage = container.scratch_dir("stage");
    let output = Command::new(built.repo.join("scripts/install.sh"))
        .arg("--library")
        .arg(&built.library)
        .arg("--launcher")
        .arg(env!("CARGO_BIN_EXE_mptcpize-rs"))
        .env("DESTDIR", &stage)
        .env("PREFIX", "/usr/local")
        .output()
        .expect("running scripts/install.sh");
    assert!(output.status.success(), "scripts/install.sh: {output:?}");
    container
        .bind_ro(&built.repo.join("tests/helpers"), "/srv/helpers")
        .bind_ro(&stage.join("usr/local"), "/usr/local");
    container
}

/// Runs PRELUDE + `script` in the container; panics with everything shown unless it succeeded.
fn run_script(container: &Container, script: &str) -> Run {
    let run = container.run(&format!("{PRELUDE}\n{script}"));
    assert_eq!(
        run.code,
        Some(0),
        "the script failed\n{run}\n{}",
        container.console()
    );
    run
}

/// The facts of probe LABEL, for messages.
fn probe_facts(run: &Run, label: &str) -> Vec<(String, String)> {
    let prefix = format!("FACT {label}.");
    run.stdout
        .lines()
        .filter_map(|line| line.strip_prefix(&prefix))
        .filter_map(|fact| fact.split_once('='))
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

/// Probe LABEL saw a TCP service: its sockets report IPPROTO_TCP, no MP_CAPABLE handshake, and
/// the payload came back whole over the client's fallen-back connection.
fn assert_tcp(run: &Run, label: &str) {
    for (fact, expected) in [
        ("listener", IPPROTO_TCP),
        ("accepted", IPPROTO_TCP),
        ("intact", "1"),
        ("mptcp_info", "0"),
        ("syn_rx", "0"),
        ("synack_rx", "0"),
    ] {
        assert_eq!(
            run.fact(&format!("{label}.{fact}")),
            expected,
            "{label}.{fact}\n{run}"
        );
    }
}

/// Probe LABEL saw an MPTCP service: listener and accepted socket report IPPROTO_MPTCP, the
/// kernel counted the MP_CAPABLE handshake on both sides, the connection did not fall back, and
/// the payload came back whole.
fn assert_mptcp(run: &Run, label: &str) {
    for (fact, expected) in [
        ("listener", IPPROTO_MPTCP),
        ("accepted", IPPROTO_MPTCP),
        ("intact", "1"),
        ("mptcp_info", "1"),
    ] {
        assert_eq!(
            run.fact(&format!("{label}.{fact}")),
            expected,
            "{label}.{fact}\n{run}"
        );
    }
    assert!(
        run.number(&format!("{label}.syn_rx")) >= 1,
        "{label}: no MP_CAPABLE SYN\n{run}"
    );
    assert!(
        run.number(&format!("{label}.synack_rx")) >= 1,
        "{label}: no MP_CAPABLE SYN/ACK\n{run}"
    );
}

/// What `disable` + restart gave is exactly the baseline from before `enable`.
fn assert_same_as_before(run: &Run, label: &str) {
    let mut before = probe_facts(run, "before");
    let mut after = probe_facts(run, label);
    // The counters' rise is asserted by assert_tcp; the rest must match value for value.
    before.sort();
    after.sort();
    assert!(!before.is_empty(), "no baseline\n{run}");
    assert_eq!(before, after, "{label} differs from the baseline\n{run}");
}

/// The service case: vendor `units`, then probes `before`, after `enable UNIT ENABLE_ARGS`
/// (`enabled`) and after `disable UNIT` (`disabled`); `restart` is the systemctl name.
fn service_case(
    container: &Container,
    units: &[(&str, &str)],
    unit: &str,
    enable_args: &str,
    restart: &str,
    result: &str,
    port: u16,
) -> Run {
    let mut script = String::new();
    for (name, text) in units {
        script.push_str(&format!("vendor_unit {name} <<'UNIT'\n{text}UNIT\n"));
    }
    script.push_str(&format!(
        "systemctl daemon-reload
probe before {restart} {result} {port}
toggle enable {unit} {enable_args}
fact_file dropin /etc/systemd/system/{restart}.d/50-mptcpize-rs.conf
probe enabled {restart} {result} {port}
toggle disable {unit}
fact dropin_left \"$(ls /etc/systemd/system/{restart}.d 2>&1 || true)\"
probe disabled {restart} {result} {port}
"
    ));
    run_script(container, &script)
}

/// What enable says and does for a service, whatever the unit.
fn assert_enable_disable_output(run: &Run, service: &str) {
    run.expect("enable.status", "0");
    let enable = run.fact("enable.out");
    assert!(
        enable.contains("systemd reloaded"),
        "enable reloads the running systemd\n{run}"
    );
    assert!(
        enable.contains(&format!("systemctl restart {service}")),
        "{run}"
    );
    run.expect("disable.status", "0");
    assert!(
        run.fact("disable.out").contains("systemd reloaded"),
        "{run}"
    );
    assert!(
        run.fact("dropin_left").contains("No such file"),
        "disable removes our drop-in and its empty directory\n{run}"
    );
}

const DEMO: &str = "[Unit]
Description=mptcpize-rs test service
[Service]
ExecStart=/usr/bin/python3 /srv/helpers/unitserver.py serve /srv/out/demo 8081
";

#[test]
fn a_service_enabled_by_the_wrapper_is_mptcp_until_disabled() {
    let mut container = with_installed_wrapper(BOOKWORM);
    container.boot();
    let run = service_case(
        &container,
        &[("demo.service", DEMO)],
        "demo",
        "",
        "demo.service",
        "demo",
        8081,
    );
    assert_tcp(&run, "before");
    assert_eq!(run.fact("before.dialer"), IPPROTO_TCP, "{run}");
    assert_mptcp(&run, "enabled");
    assert_eq!(
        run.fact("enabled.dialer"),
        IPPROTO_MPTCP,
        "mode on: outgoing too\n{run}"
    );
    run.expect("enabled.mptcpize", "on");
    run.expect("enabled.godebug", "multipathtcp=1");
    assert_eq!(run.fact("enabled.ld_preload"), INSTALLED_LIBRARY, "{run}");
    assert_enable_disable_output(&run, "demo.service");
    assert_tcp(&run, "disabled");
    assert_same_as_before(&run, "disabled");
}

#[test]
fn status_of_the_running_unit_lists_its_listener_and_a_client_as_mptcp() {
    let mut container = with_installed_wrapper(BOOKWORM);
    container.boot();
    let run = run_script(
        &container,
        &format!(
            r#"vendor_unit demo.service <<'UNIT'
{DEMO}UNIT
systemctl daemon-reload
toggle enable demo
probe enabled demo.service demo 8081
# A client that stays connected: the service sits in its echo loop on that connection.
rm -f "$OUT/demo.accepted"
python3 -c 'import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.connect(("127.0.0.1", 8081))
s.sendall(b"held")
time.sleep(30)' &
wait_file "$OUT/demo.accepted"
mptcpize-rs status demo >"$OUT/status" 2>&1 || true
fact_file status "$OUT/status"
mptcpize-rs status "$(systemctl show -p MainPID --value demo)" >"$OUT/status.pid" 2>&1 || true
fact_file status_pid "$OUT/status.pid"
kill %1
"#
        ),
    );
    assert_mptcp(&run, "enabled");
    for status in [run.fact("status"), run.fact("status_pid")] {
        assert!(status.contains("MPTCP LISTEN     127.0.0.1:8081"), "{run}");
        assert!(
            status.contains("MPTCP ESTAB      127.0.0.1:8081 -> 127.0.0.1:"),
            "{run}"
        );
        assert!(
            !status.contains(" TCP "),
            "no TCP socket in the service\n{run}"
        );
    }
}

#[test]
fn one_instance_of_a_template_is_enabled_alone() {
    let mut container = with_installed_wrapper(BOOKWORM);
    container.boot();
    let template = "[Service]
ExecStart=/usr/bin/python3 /srv/helpers/unitserver.py serve /srv/out/demo@%i 808%i
";
    let run = service_case(
        &container,
        &[("demo@.service", template)],
        "demo@1",
        "",
        "demo@1.service",
        "demo@1",
        8081,
    );
    assert_tcp(&run, "before");
    assert_mptcp(&run, "enabled");
    assert_enable_disable_output(&run, "demo@1.service");
    assert_tcp(&run, "disabled");
    assert_same_as_before(&run, "disabled");
    // Another instance of the same template, started while demo@1 is enabled, stays TCP.
    let run = run_script(
        &container,
        "toggle enable demo@1\nprobe other demo@2.service demo@2 8082\nprobe one demo@1.service demo@1 8081\n",
    );
    assert_tcp(&run, "other");
    assert_mptcp(&run, "one");
}

#[test]
fn a_type_notify_service_starts_and_is_mptcp() {
    let mut container = with_installed_wrapper(BOOKWORM);
    container.boot();
    // `systemctl restart` returns only once the service said READY=1 through NOTIFY_SOCKET, an
    // AF_UNIX socket the library leaves alone.
    let notify = "[Service]
Type=notify
NotifyAccess=main
TimeoutStartSec=20
ExecStart=/usr/bin/python3 /srv/helpers/unitserver.py serve /srv/out/notify 8083
";
    let run = service_case(
        &container,
        &[("notify.service", notify)],
        "notify.service",
        "",
        "notify.service",
        "notify",
        8083,
    );
    assert_tcp(&run, "before");
    assert_mptcp(&run, "enabled");
    assert_enable_disable_output(&run, "notify.service");
    assert_tcp(&run, "disabled");
    assert_same_as_before(&run, "disabled");
}

#[test]
fn a_vendor_ld_preload_and_godebug_are_kept() {
    let mut container = with_installed_wrapper(BOOKWORM);
    container.boot();
    // The vendor preloads two objects in one space-separated value (missing ones: ld.so says so
    // on stderr and goes on) and sets a GODEBUG of its own.
    let vendor = "[Service]
Environment=\"LD_PRELOAD=/x.so /y.so\" GODEBUG=http2client=0
ExecStart=/usr/bin/python3 /srv/helpers/unitserver.py serve /srv/out/vendor 8084
";
    let run = service_case(
        &container,
        &[("vendor.service", vendor)],
        "vendor",
        "",
        "vendor.service",
        "vendor",
        8084,
    );
    assert_tcp(&run, "before");
    run.expect("before.ld_preload", "/x.so /y.so");
    run.expect("before.godebug", "http2client=0");
    assert_mptcp(&run, "enabled");
    let preload = run.fact("enabled.ld_preload");
    let entries: Vec<&str> = preload
        .split([' ', ':'])
        .filter(|e| !e.is_empty())
        .collect();
    assert_eq!(
        entries,
        ["/x.so", "/y.so", INSTALLED_LIBRARY],
        "both vendor objects kept, ours last\n{run}"
    );
    run.expect("enabled.godebug", "http2client=0,multipathtcp=1");
    assert!(
        run.fact("enable.err").contains("already sets LD_PRELOAD"),
        "{run}"
    );
    assert_enable_disable_output(&run, "vendor.service");
    assert_same_as_before(&run, "disabled");
}

#[test]
fn listen_mode_makes_the_listener_mptcp_and_leaves_outgoing_tcp() {
    let mut container = with_installed_wrapper(BOOKWORM);
    container.boot();
    let run = service_case(
        &container,
        &[("demo.service", DEMO)],
        "demo",
        "-m listen",
        "demo.service",
        "demo",
        8081,
    );
    assert_tcp(&run, "before");
    assert_mptcp(&run, "enabled");
    assert_eq!(
        run.fact("enabled.dialer"),
        IPPROTO_TCP,
        "listen mode: outgoing stays TCP\n{run}"
    );
    run.expect("enabled.mptcpize", "listen");
    run.expect("enabled.godebug", "multipathtcp=2");
    assert_same_as_before(&run, "disabled");
}

#[test]
fn a_go_service_follows_the_mode() {
    let built = built();
    let go = built.repo.join("target/tools/go/bin/go");
    assert!(
        go.is_file(),
        "{} missing: scripts/test-deps.sh installs it",
        go.display()
    );
    let mut container = with_installed_wrapper(BOOKWORM);
    let bin = container.scratch_dir("bin");
    let tools = built.repo.join("target/tools");
    let output = Command::new(&go)
        .args(["build", "-o"])
        .arg(bin.join("gohttp"))
        .arg(built.repo.join("tests/helpers/gohttp/main.go"))
        .env("GOCACHE", tools.join("gocache"))
        .env("GOPATH", tools.join("gopath"))
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "")
        .output()
        .expect("running go build");
    assert!(output.status.success(), "go build: {output:?}");
    container.bind_ro(&bin, "/srv/bin");
    container.boot();
    let run = run_script(
        &container,
        r#"
vendor_unit go.service <<'UNIT'
[Service]
ExecStart=/srv/bin/gohttp serve 127.0.0.1:8090
UNIT
systemctl daemon-reload
# Go makes its own sockets: the drop-in's GODEBUG=multipathtcp=N, not the library, reaches it.
go_probe() {
	systemctl restart go.service
	python3 /srv/helpers/unitserver.py client 8090 http | facts_from "$1"
}
go_probe before
for mode in on listen connect off; do
	toggle enable go -m "$mode"
	fact "$mode.godebug" "$(sed -n 's/.*"GODEBUG=\([^"]*\)".*/\1/p' /etc/systemd/system/go.service.d/50-mptcpize-rs.conf)"
	go_probe "$mode"
done
toggle disable go
go_probe disabled
"#,
    );
    for (mode, godebug, mptcp) in [
        ("on", "multipathtcp=1", true),
        ("listen", "multipathtcp=2", true),
        ("connect", "multipathtcp=3", false),
        ("off", "multipathtcp=0", false),
    ] {
        assert_eq!(run.fact(&format!("{mode}.godebug")), godebug, "{run}");
        assert_eq!(run.fact(&format!("{mode}.intact")), "1", "{mode}\n{run}");
        let handshake = run.number(&format!("{mode}.syn_rx")) >= 1
            && run.number(&format!("{mode}.synack_rx")) >= 1;
        assert_eq!(handshake, mptcp, "-m {mode}: MP_CAPABLE handshake\n{run}");
        assert_eq!(
            run.fact(&format!("{mode}.mptcp_info")),
            if mptcp { "1" } else { "0" },
            "{mode}\n{run}"
        );
    }
    // Without the drop-in the service is back to Go's own default, whatever this Go's is.
    assert_same_as_before(&run, "disabled");
}

/// A service whose program only the seccomp supervisor reaches (Debian's rclone, Go 1.19): enable
/// refuses and writes nothing; the drop-in it names instead, written as a user would, makes the
/// service MPTCP under the real systemd; without it the service is back to its baseline.
#[test]
fn an_old_go_service_is_refused_and_reached_through_the_named_drop_in() {
    let container = booted_with_rclone();
    let run = run_script(
        &container,
        r#"
vendor_unit rclone.service <<'UNIT'
[Service]
Environment=RCLONE_CONFIG=/run/rclone.conf
ExecStart=/srv/bin/rclone serve http /srv/files --addr 127.0.0.1:8092
UNIT
systemctl daemon-reload
rclone_probe() {
	systemctl restart rclone.service
	python3 /srv/helpers/unitserver.py client 8092 http /hello | facts_from "$1"
}
rclone_probe before
toggle enable rclone
fact dropin "$(ls /etc/systemd/system/rclone.service.d 2>&1 || true)"
mkdir -p /etc/systemd/system/rclone.service.d
sed -n '/^\[Service\]$/,$p' "$OUT/enable.err" >/etc/systemd/system/rclone.service.d/50-mine.conf
fact_file mine /etc/systemd/system/rclone.service.d/50-mine.conf
systemctl daemon-reload
rclone_probe supervised
fact noted "$(journalctl -u rclone.service -o cat --no-pager | grep -c 'reached through seccomp' || true)"
rm -r /etc/systemd/system/rclone.service.d
systemctl daemon-reload
rclone_probe after
"#,
    );
    run.expect("enable.status", "1");
    assert!(
        run.fact("enable.err").contains("so none was written"),
        "{run}"
    );
    assert!(run.fact("dropin").contains("No such file"), "{run}");
    assert_eq!(
        run.fact("mine"),
        "[Service]|ExecStart=|ExecStart=/usr/local/bin/mptcpize-rs run -m on -- \
         /srv/bin/rclone serve http /srv/files --addr 127.0.0.1:8092|",
        "{run}"
    );
    for label in ["before", "after"] {
        run.expect(&format!("{label}.intact"), "1");
        run.expect(&format!("{label}.mptcp_info"), "0");
        run.expect(&format!("{label}.syn_rx"), "0");
    }
    run.expect("supervised.intact", "1");
    run.expect("supervised.mptcp_info", "1");
    assert!(run.number("supervised.syn_rx") >= 1, "{run}");
    assert!(run.number("supervised.synack_rx") >= 1, "{run}");
    assert!(run.number("noted") >= 1, "the launcher said it once\n{run}");
}

/// A booted bookworm container with the wrapper installed, Debian's rclone (Go 1.19) at
/// `/srv/bin/rclone` and a file to serve in `/srv/files`.
fn booted_with_rclone() -> Container {
    let rclone = Path::new("/usr/bin/rclone");
    assert!(
        rclone.is_file(),
        "{} missing: scripts/test-deps.sh installs it",
        rclone.display()
    );
    let mut container = with_installed_wrapper(BOOKWORM);
    let files = container.scratch_dir("files");
    std::fs::write(files.join("hello"), "hello from go").unwrap();
    container
        .bind_ro(rclone, "/srv/bin/rclone")
        .bind_ro(&files, "/srv/files");
    container.boot();
    container
}

/// A unit whose `ExecStart=` is a shell script that execs the same old Go program: the drop-in's
/// library reaches the shell, which hands rclone to the seccomp supervisor at `exec`
/// (crates/preload/src/reach.rs), so `enable` alone makes it MPTCP, and `disable` undoes it.
#[test]
fn an_old_go_program_started_by_a_script_in_exec_start_is_mptcp_once_enabled() {
    let container = booted_with_rclone();
    let run = run_script(
        &container,
        r#"
cat >/opt/start-rclone <<'SCRIPT'
#!/bin/sh
export RCLONE_CONFIG=/run/rclone.conf
exec /srv/bin/rclone serve http /srv/files --addr 127.0.0.1:8094
SCRIPT
chmod 755 /opt/start-rclone
vendor_unit rclone-script.service <<'UNIT'
[Service]
ExecStart=/opt/start-rclone
UNIT
systemctl daemon-reload
rclone_probe() {
	systemctl restart rclone-script.service
	python3 /srv/helpers/unitserver.py client 8094 http /hello | facts_from "$1"
}
rclone_probe before
toggle enable rclone-script
rclone_probe enabled
fact main_is_rclone "$(readlink "/proc/$(systemctl show -P MainPID rclone-script.service)/exe")"
toggle disable rclone-script
rclone_probe after
"#,
    );
    run.expect("enable.status", "0");
    for label in ["before", "after"] {
        run.expect(&format!("{label}.intact"), "1");
        run.expect(&format!("{label}.mptcp_info"), "0");
        run.expect(&format!("{label}.syn_rx"), "0");
    }
    run.expect("enabled.intact", "1");
    run.expect("enabled.mptcp_info", "1");
    assert!(run.number("enabled.syn_rx") >= 1, "{run}");
    // The script's process became rclone (same PID): systemd still watches the server itself.
    run.expect("main_is_rclone", "/srv/bin/rclone");
}

/// The `.deb` that `cargo deb` built (scripts/test.sh builds it before the tests).
fn debian_package() -> PathBuf {
    let debian = built().repo.join("target/debian");
    let mut packages: Vec<PathBuf> = std::fs::read_dir(&debian)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "deb"))
        .collect();
    packages.sort_by_key(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok());
    packages.pop().unwrap_or_else(|| {
        panic!(
            "no .deb in {}: scripts/test.sh builds it (cargo deb)",
            debian.display()
        )
    })
}

#[test]
fn the_debian_package_installed_with_dpkg_gives_the_same_results() {
    let built = built();
    let mut container = Container::new(BOOKWORM);
    container
        .bind_ro(&built.repo.join("tests/helpers"), "/srv/helpers")
        .bind_ro(&debian_package(), "/srv/pkg/mptcpize-rs.deb");
    container.boot();
    let installed = run_script(
        &container,
        "dpkg -i /srv/pkg/mptcpize-rs.deb >/dev/null
fact status \"$(dpkg-query -W -f='${Status}' mptcpize-rs)\"
fact command \"$(command -v mptcpize-rs)\"",
    );
    installed.expect("status", "install ok installed");
    installed.expect("command", "/usr/bin/mptcpize-rs");
    let run = service_case(
        &container,
        &[("demo.service", DEMO)],
        "demo",
        "",
        "demo.service",
        "demo",
        8081,
    );
    assert_tcp(&run, "before");
    assert_mptcp(&run, "enabled");
    assert_eq!(run.fact("enabled.ld_preload"), PACKAGED_LIBRARY, "{run}");
    assert_enable_disable_output(&run, "demo.service");
    assert_same_as_before(&run, "disabled");
}

/// A socket-activated service: systemd makes the listening socket and passes it as fd 3.
const SOCKET_UNITS: &str = r#"
vendor_unit demo.socket <<'UNIT'
[Socket]
ListenStream=127.0.0.1:8085
UNIT
vendor_unit demo.service <<'UNIT'
[Service]
ExecStart=/usr/bin/python3 /srv/helpers/unitserver.py serve /srv/out/demo 0
UNIT
systemctl daemon-reload
systemctl start demo.socket
# The README's restart for a socket unit, then the service started by hand (not by a client's
# connection, so that its own first connection is the one it accepts first).
probe_socket() {
	systemctl stop demo.service
	systemctl restart demo.socket
	probe "$1" demo.service demo 8085
}
"#;

#[test]
fn a_socket_unit_is_made_mptcp_by_systemd_itself() {
    let mut container = with_installed_wrapper(TRIXIE);
    container.boot();
    let run = run_script(
        &container,
        &format!(
            "{SOCKET_UNITS}
fact systemd \"$(systemctl --version | head -n 1)\"
probe_socket before
toggle enable demo.socket
fact_file dropin /etc/systemd/system/demo.socket.d/50-mptcpize-rs.conf
probe_socket enabled
# systemd has no fallback: with MPTCP off in this namespace the socket cannot be made.
echo 0 >/proc/sys/net/mptcp/enabled
systemctl stop demo.service
fact mptcp_off \"$(systemctl restart demo.socket 2>/dev/null && echo started || echo failed)\"
fact mptcp_off_why \"$(journalctl --no-pager -u demo.socket | grep -c 'Protocol not available' || true)\"
echo 1 >/proc/sys/net/mptcp/enabled
systemctl reset-failed demo.socket
toggle disable demo.socket
probe_socket disabled
"
        ),
    );
    assert!(run.fact("systemd").starts_with("systemd 257"), "{run}");
    assert_tcp(&run, "before");
    run.expect("enable.status", "0");
    run.expect(
        "dropin",
        "# Written by mptcpize-rs enable: demo.socket listens with Multipath TCP.|\
         # Remove it with: mptcpize-rs disable demo.socket|\
         [Socket]|\
         SocketProtocol=mptcp|",
    );
    let enable = run.fact("enable.out");
    assert!(enable.contains("systemd reloaded"), "{run}");
    assert!(
        enable.contains("systemctl stop demo.service && systemctl restart demo.socket"),
        "{run}"
    );
    assert_mptcp(&run, "enabled");
    // The service itself runs without the library: its outgoing socket stays TCP.
    run.expect("enabled.ld_preload", "");
    assert_eq!(run.fact("enabled.dialer"), IPPROTO_TCP, "{run}");
    run.expect("mptcp_off", "failed");
    assert_ne!(
        run.fact("mptcp_off_why"),
        "0",
        "ENOPROTOOPT in the journal\n{run}"
    );
    assert_tcp(&run, "disabled");
    assert_same_as_before(&run, "disabled");
}

#[test]
fn a_socket_unit_is_refused_before_systemd_257() {
    let mut container = with_installed_wrapper(BOOKWORM);
    container.boot();
    let run = run_script(
        &container,
        &format!(
            "{SOCKET_UNITS}
fact systemd \"$(systemctl --version | head -n 1)\"
set +e
toggle enable demo.socket
fact dropin_dir \"$(ls -d /etc/systemd/system/demo.socket.d 2>&1)\"
probe_socket still
"
        ),
    );
    assert!(run.fact("systemd").starts_with("systemd 252"), "{run}");
    run.expect("enable.status", "1");
    run.expect(
        "enable.err",
        "mptcpize-rs: demo.socket: SocketProtocol=mptcp needs systemd 257 or newer, \
         this is systemd 252; instead, let demo.service open its own listener (no socket \
         activation) and run: mptcpize-rs enable demo.service|",
    );
    assert!(
        run.fact("dropin_dir").contains("No such file"),
        "nothing written\n{run}"
    );
    assert_tcp(&run, "still");
}
