//! The compatibility matrix: real servers and clients of many languages and projects under the
//! library, each in a namespace of its own, first without the library, then: with MPTCP on (the
//! namespace's MP_CAPABLE counters must rise on both sides) and switched off (they must still
//! work, over TCP); a `listen`-mode server and a `connect`-mode client with an MPTCP peer (MPTCP);
//! and with a plain TCP peer on either side (TCP). The payload is compared byte for byte where
//! the program carries one. The table is written to target/compatibility.md, from which the
//! README's table is copied.

mod common;
use common::{Run, in_netns};
use std::fmt::Write as _;

/// (name, version command, server command, client command, payload compared?, why its
/// connections are TCP under the library where they are)
/// Commands see $PORT, $PAYLOAD (a 64 KiB text file), $GOT (where the client writes), $WWW (a
/// directory holding $PAYLOAD as data.txt) and `P` (runs its arguments under the library).
type Program = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    Option<&'static str>,
);

const PROGRAMS: &[Program] = &[
    (
        "curl + python3 http.server",
        "curl --version | head -n 1 | cut -d' ' -f1-2; python3 --version",
        r#"P python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$WWW""#,
        r#"P curl -sS --fail -o "$GOT" "http://127.0.0.1:$PORT/data.txt""#,
        true,
        None,
    ),
    (
        "python3 urllib",
        "python3 --version",
        r#"P python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$WWW""#,
        r#"P python3 -c 'import os, urllib.request; open(os.environ["GOT"], "wb").write(urllib.request.urlopen("http://127.0.0.1:%s/data.txt" % os.environ["PORT"]).read())'"#,
        true,
        None,
    ),
    (
        "python3 asyncio streams",
        "python3 --version",
        r#"P python3 "$HELPERS/asyncio_pair.py" serve "$PORT" "$PAYLOAD""#,
        r#"P python3 "$HELPERS/asyncio_pair.py" get "$PORT" "$GOT""#,
        true,
        None,
    ),
    (
        "nc (netcat-openbsd)",
        "dpkg-query -W -f='netcat-openbsd ${Version}' netcat-openbsd",
        r#"P nc -N -l 127.0.0.1 "$PORT" <"$PAYLOAD""#,
        r#"P nc -d 127.0.0.1 "$PORT" >"$GOT""#,
        true,
        None,
    ),
    (
        "socat",
        "socat -V | sed -n 's/^socat version \\([^ ]*\\).*/socat \\1/p'",
        r#"P socat -u "OPEN:$PAYLOAD" "TCP-LISTEN:$PORT,bind=127.0.0.1""#,
        r#"P socat -u "TCP:127.0.0.1:$PORT" "CREATE:$GOT""#,
        true,
        None,
    ),
    (
        "Node.js http",
        "echo \"node $(node --version)\"",
        r#"P node -e 'const fs = require("fs"); const s = require("http").createServer((q, r) => { r.end(fs.readFileSync(process.env.PAYLOAD)); s.close(); }); s.listen(+process.env.PORT, "127.0.0.1")'"#,
        r#"P node -e 'require("http").get(`http://127.0.0.1:${process.env.PORT}/`, r => r.pipe(require("fs").createWriteStream(process.env.GOT)))'"#,
        true,
        None,
    ),
    (
        "Java ServerSocket/Socket",
        "java -version 2>&1 | head -n 1",
        r#"P java "$HELPERS/Compat.java" serve "$PORT" "$PAYLOAD""#,
        r#"P java "$HELPERS/Compat.java" get "$PORT" "$GOT""#,
        true,
        None,
    ),
    (
        "Perl IO::Socket::INET",
        "perl -e 'print \"perl $^V\"'",
        r#"P perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ENV{PORT}, Listen => 1, ReuseAddr => 1) or die; my $c = $s->accept; open my $f, "<", $ENV{PAYLOAD}; local $/; print {$c} <$f>; close $c'"#,
        r#"P perl -MIO::Socket::INET -e 'my $c = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $ENV{PORT}) or die; open my $f, ">", $ENV{GOT}; local $/; print {$f} <$c>'"#,
        true,
        None,
    ),
    (
        "nginx + curl",
        "nginx -v 2>&1 | sed 's/.*: //'",
        r#"printf 'pid %s/nginx.pid; error_log %s/error.log; events {} http { access_log off; server { listen 127.0.0.1:%s; root %s; } }\n' "$WORK" "$WORK" "$PORT" "$WWW" >"$WORK/nginx.conf"
P nginx -c "$WORK/nginx.conf" -p "$WORK" -g 'daemon off;'"#,
        r#"P curl -sS --fail -o "$GOT" "http://127.0.0.1:$PORT/data.txt""#,
        true,
        None,
    ),
    (
        "redis-server + redis-cli",
        "redis-server --version | cut -d' ' -f1-3",
        r#"P redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no"#,
        r#"P redis-cli -p "$PORT" -x set payload <"$PAYLOAD" >/dev/null && P redis-cli -p "$PORT" --raw get payload | head -c "$(stat -c %s "$PAYLOAD")" >"$GOT""#,
        true,
        None,
    ),
    (
        "OpenSSH sshd + ssh",
        "ssh -V 2>&1 | cut -d, -f1",
        r#"mkdir -p /run/sshd # sshd's privilege-separation directory, as its package creates at boot
ssh-keygen -q -t ed25519 -N '' -f "$WORK/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/client_key"
cp "$WORK/client_key.pub" "$WORK/authorized_keys"
printf '%s\n' "Port $PORT" 'ListenAddress 127.0.0.1' "HostKey $WORK/host_key" "PidFile $WORK/sshd.pid" \
	"AuthorizedKeysFile $WORK/authorized_keys" 'PermitRootLogin yes' 'UsePAM no' 'StrictModes no' \
	'PasswordAuthentication no' >"$WORK/sshd_config"
P /usr/sbin/sshd -D -e -f "$WORK/sshd_config""#,
        r#"P ssh -i "$WORK/client_key" -p "$PORT" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR root@127.0.0.1 cat "$PAYLOAD" >"$GOT""#,
        true,
        None,
    ),
    (
        "vsftpd + curl (FTP)",
        "dpkg-query -W -f='vsftpd ${Version}' vsftpd",
        // vsftpd sets SO_OOBINLINE on each control connection it accepts and dies if that fails.
        r#"mkdir -p /var/run/vsftpd/empty # its secure_chroot_dir, as its package creates at boot
printf '%s\n' listen=YES listen_ipv6=NO listen_address=127.0.0.1 "listen_port=$PORT" background=NO \
	anonymous_enable=YES "anon_root=$WWW" local_enable=NO write_enable=NO seccomp_sandbox=NO \
	secure_chroot_dir=/var/run/vsftpd/empty xferlog_enable=NO >"$WORK/vsftpd.conf"
P vsftpd "$WORK/vsftpd.conf""#,
        r#"P curl -sS --fail -o "$GOT" "ftp://127.0.0.1:$PORT/data.txt""#,
        true,
        None,
    ),
    (
        "openbsd-inetd + inetutils ftpd + curl",
        r#"printf 'openbsd-inetd %s, inetutils-ftpd %s' "$(dpkg-query -W -f='${Version}' openbsd-inetd)" "$(dpkg-deb -f "$FTPD_DEB" Version)""#,
        // inetd accepts, then execs ftpd on the connection, without LD_PRELOAD (it strips LD_*):
        // ftpd sets SO_OOBINLINE on the MPTCP connection it inherited, logs the refusal, goes on.
        // Anonymous FTP chroots into the ftp user's home: a private mount puts $WWW there.
        r#"printf '127.0.0.1:%s stream tcp nowait root %s ftpd -A\n' "$PORT" "$FTPD" >"$WORK/inetd.conf"
mkdir -p /srv/ftp # the ftp user's home (vsftpd's package made the user)
unshare -m bash -c 'mount --bind "$WWW" /srv/ftp && P /usr/sbin/inetd -d "$WORK/inetd.conf"'"#,
        r#"P curl -sS --fail -o "$GOT" "ftp://127.0.0.1:$PORT/data.txt""#,
        true,
        None,
    ),
    (
        "iperf3",
        "iperf3 --version | head -n 1 | cut -d' ' -f1-2",
        r#"P iperf3 -s -1 -B 127.0.0.1 -p "$PORT""#,
        r#"P iperf3 -c 127.0.0.1 -p "$PORT" -n 4M >/dev/null && cp "$PAYLOAD" "$GOT""#,
        false,
        None,
    ),
    (
        "OpenBGPD (privilege-separated, chrooted, TTL security)",
        "dpkg-query -W -f='openbgpd ${Version}' openbgpd",
        // The parent binds the listener, forks and execs its engines, and passes the listener to
        // the session engine, chrooted into /run/openbgpd as _openbgpd, which sets IP_TTL and
        // IP_MINTTL (ttl-security) before listen() and on each outgoing socket before connect().
        r#"mkdir -p /run/openbgpd # its chroot, which its unit makes at boot
printf '%s\n' 'AS 65001' 'router-id 127.0.0.1' "listen on 127.0.0.1 port $PORT" \
	"socket \"$WORK/bgpd-server.sock\"" 'neighbor 127.0.0.2 {' ' remote-as 65002' ' passive' \
	' ttl-security yes' '}' 'allow from any' 'allow to any' >"$WORK/bgpd-server.conf"
P bgpd -d -f "$WORK/bgpd-server.conf""#,
        // A second speaker connects and announces a prefix; the session is up when the server has
        // learnt it.
        r#"printf '%s\n' 'AS 65002' 'router-id 127.0.0.2' "listen on 127.0.0.2 port $((PORT + 1))" \
	"socket \"$WORK/bgpd-client.sock\"" 'network 203.0.113.0/24' 'neighbor 127.0.0.1 {' \
	' remote-as 65001' " port $PORT" ' local-address 127.0.0.2' ' ttl-security yes' '}' \
	'allow from any' 'allow to any' >"$WORK/bgpd-client.conf"
P bgpd -d -f "$WORK/bgpd-client.conf" >"$WORK/bgpd-client.log" 2>&1 &
speaker=$!
for _ in $(seq 150); do
	bgpctl -s "$WORK/bgpd-server.sock" show rib 2>/dev/null | grep -q 203.0.113.0/24 && break
	sleep 0.2
done
bgpctl -s "$WORK/bgpd-server.sock" show rib | grep -q 203.0.113.0/24 && cp "$PAYLOAD" "$GOT"
learnt=$?
kill "$speaker"
exit "$learnt""#,
        false,
        Some("listener passed between processes, TTL security"),
    ),
];

/// The Debian packages a program of the table comes from, where scripts/test-deps.sh may have had
/// to leave one out (apt would have removed a package the user has: openbsd-inetd replaces
/// xinetd): (program, package). A program whose package is missing is said on stderr and in the
/// table, and not run; on CI every package is installed.
const PACKAGES: &[(&str, &str)] = &[
    ("socat", "socat"),
    ("nginx + curl", "nginx-light"),
    ("redis-server + redis-cli", "redis-server"),
    ("OpenSSH sshd + ssh", "openssh-server"),
    ("vsftpd + curl (FTP)", "vsftpd"),
    ("openbsd-inetd + inetutils ftpd + curl", "openbsd-inetd"),
    ("iperf3", "iperf3"),
    (
        "OpenBGPD (privilege-separated, chrooted, TTL security)",
        "openbgpd",
    ),
];

/// The package `name` needs that is not installed here, if any.
fn missing_package(name: &str) -> Option<&'static str> {
    let &(_, package) = PACKAGES.iter().find(|(program, _)| *program == name)?;
    let status = std::process::Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .ok()?;
    (!String::from_utf8_lossy(&status.stdout).contains("install ok installed")).then_some(package)
}

const DRIVER: &str = r#"
sysctl -qw net.mptcp.enabled="$ENABLED"
# Runs a program under the library in mode $MODE, or without it when $MODE is "none".
P() { if [ "$MODE" = none ]; then "$@"; else env MPTCPIZE="$MODE" LD_PRELOAD="$LIB" "$@"; fi; }
export -f P
export PORT=9100 PAYLOAD="$WORK/payload.txt" GOT="$WORK/got" WWW="$WORK/www" WORK HELPERS LIB
# inetutils' ftpd, unpacked by scripts/test-deps.sh (its package conflicts with vsftpd's).
export FTPD_DEB FTPD="$FTPD_ROOT/usr/sbin/ftpd"
mkdir -p "$WWW"
head -c 49152 /dev/urandom | base64 -w 0 >"$PAYLOAD"
cp "$PAYLOAD" "$WWW/data.txt"
chmod -R a+rX "$WORK"
fact version "$(bash -c "$VERSION" 2>/dev/null | tr '\n' ' ' | sed 's/ *$//')"
MODE=$SERVER_MODE timeout 60 bash -c "$SERVER" >"$WORK/server.out" 2>&1 &
wait_listen "$PORT"
MODE=$CLIENT_MODE timeout 60 bash -c "$CLIENT" 2>"$WORK/client.err"
fact client_status "$?"
fact intact "$(cmp -s "$PAYLOAD" "$GOT" && echo yes || echo no)"
mptcp_facts
"#;

/// The runs of each program: MPTCP enabled, the server's and the client's mode (`none`: without
/// the library), whether the handshake must be MPTCP (both sides' MP_CAPABLE counters) or must
/// not be (neither). The first is the program without the library: what every other run must do.
const RUNS: &[(&str, &str, &str, bool)] = &[
    ("1", "none", "none", false),
    ("1", "on", "on", true),
    ("0", "on", "on", false),
    ("1", "listen", "on", true),
    ("1", "on", "connect", true),
    ("1", "on", "none", false),
    ("1", "none", "on", false),
];

fn run(program: &Program, enabled: &str, server_mode: &str, client_mode: &str) -> Run {
    let &(_, version, server, client, _, _) = program;
    in_netns(
        &format!("set +e\n{DRIVER}"),
        &[
            ("ENABLED", enabled),
            ("SERVER_MODE", server_mode),
            ("CLIENT_MODE", client_mode),
            ("VERSION", version),
            ("SERVER", server),
            ("CLIENT", client),
            ("FTPD_ROOT", &ftpd_root()),
            ("FTPD_DEB", &ftpd_deb()),
        ],
    )
}

/// Where scripts/test-deps.sh unpacked inetutils-ftpd, and the package it unpacked.
fn ftpd_root() -> String {
    let root = common::built().repo.join("target/tools/inetutils-ftpd");
    root.join("root").display().to_string()
}

fn ftpd_deb() -> String {
    let root = common::built().repo.join("target/tools/inetutils-ftpd");
    std::fs::read_dir(&root)
        .ok()
        .and_then(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .find(|path| path.extension().is_some_and(|ext| ext == "deb"))
        })
        .map(|path| path.display().to_string())
        .unwrap_or_else(|| panic!("{}: no .deb; run scripts/test-deps.sh", root.display()))
}

#[test]
fn real_programs_work_with_mptcp_and_without() {
    let mut table = String::from(
        "| program | version | MPTCP in the default mode (counters, both sides) | payload intact | MPTCP off: works over TCP | listen/connect modes, TCP peers: work |\n|---|---|---|---|---|---|\n",
    );
    for program in PROGRAMS {
        let (name, _, _, _, compares_payload, tcp_because) = *program;
        if let Some(package) = missing_package(name) {
            eprintln!(
                "{name}: NOT RUN: the package {package} is not installed (scripts/test-deps.sh \
                 leaves out a package whose installation would remove one of yours)"
            );
            writeln!(
                table,
                "| {name} | not run: {package} not installed | | | | |"
            )
            .unwrap();
            continue;
        }
        let started = std::time::Instant::now();
        let mut version = String::new();
        for &(enabled, server_mode, client_mode, mptcp) in RUNS {
            let label =
                format!("net.mptcp.enabled={enabled}, server {server_mode}, client {client_mode}");
            let run = run(program, enabled, server_mode, client_mode);
            run.assert_success();
            assert_eq!(run.fact("client_status"), "0", "{name}, {label}: {run}");
            assert_eq!(run.fact("intact"), "yes", "{name}, {label}: {run}");
            let counters = (run.number("syn_rx"), run.number("synack_rx"));
            if mptcp && tcp_because.is_none() {
                assert!(
                    counters.0.min(counters.1) >= 1,
                    "{name}, {label}: no MPTCP handshake: {run}"
                );
            } else {
                assert_eq!(counters, (0, 0), "{name}, {label}: MPTCP: {run}");
            }
            version = run.fact("version");
        }
        eprintln!("{name}: {:.1} s", started.elapsed().as_secs_f64());
        let payload = if compares_payload {
            "yes"
        } else {
            "n/a (no payload)"
        };
        let mptcp = match tcp_because {
            None => "yes".to_string(),
            Some(why) => format!("no, TCP by design ({why})"),
        };
        writeln!(
            table,
            "| {name} | {version} | {mptcp} | {payload} | yes | yes |"
        )
        .unwrap();
    }
    let target = common::built().repo.join("target/compatibility.md");
    std::fs::write(&target, &table).expect("writing target/compatibility.md");
}

#[test]
fn every_package_named_belongs_to_a_program_of_the_table() {
    for (program, _) in PACKAGES {
        assert!(
            PROGRAMS.iter().any(|row| row.0 == *program),
            "PACKAGES names {program:?}, which is no program of the table"
        );
    }
}
