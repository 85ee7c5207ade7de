//! Deploying: `mptcpize-rs.sh enable`/`disable` against a systemd tree under a temporary root (the
//! exact drop-in, the vendor unit and other drop-ins untouched byte for byte, idempotence, hostile
//! unit names refused), `scripts/install.sh` into a DESTDIR and back out, the reach warnings for programs the library cannot help, and `check`'s
//! verdicts in a namespace whose MPTCP settings and interfaces the test controls.

mod common;
use common::{built, in_netns};

const ENABLE_DISABLE: &str = r#"
root="$WORK/root"
mkdir -p "$root/usr/lib/systemd/system" "$root/etc/systemd/system/web.service.d"
printf '[Service]\nExecStart=/usr/sbin/web\nEnvironment="LD_PRELOAD=/opt/trace.so" "PORT=80"\n' \
	>"$root/usr/lib/systemd/system/web.service"
printf '[Service]\nEnvironment=GODEBUG=http2client=0\n' >"$root/etc/systemd/system/web.service.d/10-local.conf"
before=$(cd "$root" && find . -type f -exec sha256sum {} + | sort)
W enable web --root "$root" -m listen >"$WORK/out" 2>"$WORK/err"
fact enable_status "$?"
fact dropin "$(cat "$root/etc/systemd/system/web.service.d/50-mptcpize-rs.conf" | tr '\n' '|')"
fact enable_out "$(tr '\n' '|' <"$WORK/out")"
fact enable_err "$(tr '\n' '|' <"$WORK/err")"
first=$(sha256sum <"$root/etc/systemd/system/web.service.d/50-mptcpize-rs.conf")
W enable web.service --root "$root" -m listen >/dev/null 2>&1
fact idempotent "$([ "$first" = "$(sha256sum <"$root/etc/systemd/system/web.service.d/50-mptcpize-rs.conf")" ] && echo yes || echo no)"
fact leftovers "$(find "$root" -name '.50-mptcpize-rs.conf.*' | wc -l)"
W disable web --root "$root" >"$WORK/out"
fact disable_out "$(tr '\n' '|' <"$WORK/out")"
after=$(cd "$root" && find . -type f -exec sha256sum {} + | sort)
fact restored "$([ "$before" = "$after" ] && echo yes || echo no)"
W disable web --root "$root" >"$WORK/out"; fact again_status "$?"; fact again_out "$(cat "$WORK/out")"
W enable plain --root "$root" >/dev/null
fact plain_dir "$(ls "$root/etc/systemd/system/plain.service.d")"
W disable plain --root "$root" >/dev/null
fact plain_gone "$([ -e "$root/etc/systemd/system/plain.service.d" ] && echo no || echo yes)"
set +e
for name in '../x' 'a b' 'x;y' '$(id)' 'web.socket' '' '.hidden' 'demo.' '@.service'; do
	W enable "$name" --root "$root" >/dev/null 2>"$WORK/err"
	fact "hostile[$name]" "$?:$(head -n 1 "$WORK/err")"
done
fact tree_after_hostile "$(cd "$root" && find . | sort | tr '\n' ' ')"
printf '[Unit]\nDescription=checked\n[Service]\nExecStart=/bin/true\n' >"$root/usr/lib/systemd/system/checked.service"
W enable checked --root "$root" -m connect >/dev/null
# systemd's own parser reads the unit with our drop-in and finds nothing to say.
fact verify "$(SYSTEMD_UNIT_PATH="$root/etc/systemd/system:$root/usr/lib/systemd/system:" \
	systemd-analyze verify checked.service 2>&1; echo "status $?")"
"#;

#[test]
fn enable_and_disable_write_and_remove_only_our_drop_in() {
    let run = in_netns(ENABLE_DISABLE, &[]);
    run.assert_success();
    let lib = built().library.canonicalize().unwrap();
    let lib = lib.display();
    run.expect("enable_status", "0");
    assert_eq!(
        run.fact("dropin"),
        format!(
            "# Written by mptcpize-rs enable: runs web.service with Multipath TCP.|\
             # Remove it with: mptcpize-rs disable web.service|\
             [Service]|\
             Environment=\"LD_PRELOAD=/opt/trace.so:{lib}\" \"MPTCPIZE=listen\" \
             \"GODEBUG=http2client=0,multipathtcp=2\"|"
        ),
        "{run}"
    );
    let out = run.fact("enable_out");
    assert!(out.contains("not reloading systemd: --root"), "{run}");
    assert!(out.contains("systemctl restart web.service"), "{run}");
    let err = run.fact("enable_err");
    assert!(
        err.contains("already sets LD_PRELOAD=/opt/trace.so"),
        "{run}"
    );
    assert!(err.contains("already sets GODEBUG=http2client=0"), "{run}");
    run.expect("idempotent", "yes");
    run.expect("leftovers", "0");
    assert!(run.fact("disable_out").starts_with("removed "), "{run}");
    assert_eq!(
        run.fact("restored"),
        "yes",
        "vendor unit and 10-local.conf untouched: {run}"
    );
    run.expect("again_status", "0");
    assert!(run.fact("again_out").ends_with("nothing to do"), "{run}");
    run.expect("plain_dir", "50-mptcpize-rs.conf");
    assert_eq!(
        run.fact("plain_gone"),
        "yes",
        "our empty .d directory removed: {run}"
    );
    for name in [
        "../x",
        "a b",
        "x;y",
        "$(id)",
        "",
        ".hidden",
        "demo.",
        "@.service",
    ] {
        let verdict = run.fact(&format!("hostile[{name}]"));
        assert!(
            verdict.starts_with("2:mptcpize-rs.sh: invalid unit name"),
            "{name:?}: {run}"
        );
    }
    // This host's systemd (252) predates SocketProtocol=mptcp (tests/systemd.rs has both sides).
    assert!(
        run.fact("hostile[web.socket]")
            .starts_with("1:mptcpize-rs.sh: web.socket: SocketProtocol=mptcp needs systemd 257"),
        "{run}"
    );
    assert!(
        !run.fact("tree_after_hostile").contains("x.service"),
        "{run}"
    );
    assert!(!run.fact("tree_after_hostile").contains("id"), "{run}");
    assert_eq!(
        run.fact("verify"),
        "status 0",
        "systemd-analyze verify: {run}"
    );
}

#[test]
fn the_launcher_says_how_it_reaches_each_program() {
    let run = in_netns(
        r#"
printf 'int main(void) { return 0; }\n' | gcc -static -x c - -o "$WORK/static"
cp /bin/true "$WORK/setuid"
chmod u+s "$WORK/setuid"
printf '#include <stdlib.h>\n#include <stdio.h>\nint main(void) { puts(getenv("LD_PRELOAD") ? "preloaded" : "plain"); return 0; }\n' |
	musl-gcc -x c - -o "$WORK/musl"
fact musl_ran "$(W "$WORK/musl" 2>/dev/null)"
for target in static setuid musl; do
	W "$WORK/$target" 2>"$WORK/err"
	fact "$target" "$(cat "$WORK/err")"
done
W /bin/true 2>"$WORK/err"
fact dynamic "$(cat "$WORK/err")"
"#,
        &[],
    );
    run.assert_success();
    assert!(
        run.fact("static")
            .ends_with("static: reached through seccomp (each socket() costs about 25 µs more)"),
        "{run}"
    );
    assert!(
        run.fact("musl")
            .ends_with("musl: reached through seccomp (each socket() costs about 25 µs more)"),
        "{run}"
    );
    assert!(
        run.fact("setuid")
            .contains("setuid is setuid/setgid: the loader ignores LD_PRELOAD"),
        "{run}"
    );
    run.expect("dynamic", "");
}

#[test]
fn check_gives_a_verdict_and_a_command_that_works() {
    let run = in_netns(
        r#"
set +e
ip link add v0 type veth peer name v1
ip addr add 10.9.0.1/24 dev v0
ip link set v0 up
ip mptcp limits set subflow 0
W check >"$WORK/one"; fact one_status "$?"
fact one_verdict "$(grep '^verdict' "$WORK/one")"
suggested=$(sed -n 's/^  `\(.*\)`$/\1/p' "$WORK/one" | head -n 1)
fact suggested "$suggested"
bash -c "$suggested"; fact suggested_status "$?"
W check >"$WORK/ready"; fact ready_status "$?"
fact ready_verdict "$(grep '^verdict' "$WORK/ready")"
sysctl -qw net.mptcp.enabled=0
W check >"$WORK/off"; fact off_status "$?"
fact off_verdict "$(grep '^verdict' "$WORK/off")"
"#,
        &[],
    );
    run.assert_success();
    run.expect("one_status", "0");
    run.expect(
        "one_verdict",
        "verdict: MPTCP works but only one path will be used: add one with",
    );
    run.expect(
        "suggested",
        "ip mptcp limits set subflow 2 add_addr_accepted 2 && \
         ip mptcp endpoint add 10.9.0.1 dev v0 subflow",
    );
    run.expect("suggested_status", "0");
    run.expect("ready_status", "0");
    run.expect("ready_verdict", "verdict: ready for multipath");
    run.expect("off_status", "1");
    run.expect(
        "off_verdict",
        "verdict: MPTCP unavailable: MPTCP is switched off in this network namespace: \
         sysctl -w net.mptcp.enabled=1",
    );
}

#[test]
fn installed_wrapper_finds_the_installed_library_and_uninstall_restores_the_tree() {
    let run = in_netns(
        r#"
dest="$WORK/dest"
mkdir -p "$dest/usr/local/bin" "$dest/usr/local/lib" "$dest/usr/local/share/man/man8"
before=$(cd "$dest" && find . | sort)
DESTDIR="$dest" "$REPO/scripts/install.sh" --library "$LIB" >/dev/null
installed="$dest/usr/local/bin/mptcpize-rs"
fact preload "$("$installed" env | sed -n 's/^export LD_PRELOAD=//p')"
fact man "$(man -l "$dest/usr/local/share/man/man8/mptcpize-rs.8" 2>/dev/null | grep -c 'mptcpize-rs' || true)"
mkdir -p "$WORK/srv"
payload "$WORK/srv/data.bin" 100000
"$installed" timeout 30 python3 -m http.server 8000 --bind 127.0.0.1 --directory "$WORK/srv" >/dev/null 2>&1 &
wait_listen 8000
"$installed" curl -sS --fail -o "$WORK/got.bin" http://127.0.0.1:8000/data.bin
fact intact "$(cmp -s "$WORK/srv/data.bin" "$WORK/got.bin" && echo yes || echo no)"
mptcp_facts
# A static program started by a shell: the installed library finds the installed helper.
"$installed" sh -c 'exec busybox wget -q -O "$1" http://127.0.0.1:8000/data.bin' sh "$WORK/got2.bin"
fact static_intact "$(cmp -s "$WORK/srv/data.bin" "$WORK/got2.bin" && echo yes || echo no)"
fact static_syn_rx "$(counter MPTcpExtMPCapableSYNRX)"
DESTDIR="$dest" "$REPO/scripts/install.sh" --uninstall >/dev/null
after=$(cd "$dest" && find . | sort)
fact restored "$([ "$before" = "$after" ] && echo yes || echo no)"
"#,
        &[("REPO", built().repo.to_str().unwrap())],
    );
    run.assert_success();
    assert!(
        run.fact("preload")
            .ends_with("/dest/usr/local/lib/mptcpize-rs/libmptcpize_rs.so"),
        "{run}"
    );
    assert_ne!(run.fact("man"), "0", "{run}");
    run.expect("intact", "yes");
    assert!(
        run.number("syn_rx") >= 1 && run.number("synack_rx") >= 1,
        "{run}"
    );
    run.expect("static_intact", "yes");
    assert!(
        run.number("static_syn_rx") > run.number("syn_rx"),
        "busybox wget behind sh: {run}"
    );
    run.expect("restored", "yes");
}

#[test]
fn the_debian_package_holds_the_install_layout_and_works() {
    let repo = built().repo;
    let debian = repo.join("target/debian");
    let package = std::fs::read_dir(&debian)
        .ok()
        .and_then(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .find(|path| path.extension().is_some_and(|e| e == "deb"))
        })
        .unwrap_or_else(|| {
            panic!(
                "no .deb in {}: scripts/test.sh builds it (cargo deb)",
                debian.display()
            )
        });
    let run = in_netns(
        r#"
fact files "$(dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ { print $6 }' | grep -v '/doc/' | sort | tr '\n' ' ')"
dpkg-deb -x "$DEB" "$WORK/root"
wrapper="$WORK/root/usr/bin/mptcpize-rs"
mkdir -p "$WORK/srv"
payload "$WORK/srv/data.bin" 100000
"$wrapper" timeout 30 python3 -m http.server 8000 --bind ::1 --directory "$WORK/srv" >/dev/null 2>&1 &
wait_listen 8000
"$wrapper" curl -sS --fail -o "$WORK/got.bin" 'http://[::1]:8000/data.bin'
fact intact "$(cmp -s "$WORK/srv/data.bin" "$WORK/got.bin" && echo yes || echo no)"
fact preload "$("$wrapper" env | sed -n 's/^export LD_PRELOAD=//p')"
mptcp_facts
"#,
        &[("DEB", package.to_str().unwrap())],
    );
    run.assert_success();
    assert_eq!(
        run.fact("files"),
        "./usr/bin/mptcpize-rs ./usr/lib/mptcpize-rs/libmptcpize_rs.so \
         ./usr/lib/mptcpize-rs/libmptcpize_rs_log.so ./usr/lib/mptcpize-rs/mptcpize-rs-seccomp \
         ./usr/share/man/man8/mptcpize-rs.8.gz ",
        "the layout of scripts/install.sh with PREFIX=/usr: {run}"
    );
    assert!(
        run.fact("preload")
            .ends_with("/root/usr/lib/mptcpize-rs/libmptcpize_rs.so"),
        "{run}"
    );
    run.expect("intact", "yes");
    assert!(
        run.number("syn_rx") >= 1 && run.number("synack_rx") >= 1,
        "{run}"
    );
}
