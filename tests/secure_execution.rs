//! Secure execution: with the library in `/etc/ld.so.preload` (inside a private mount namespace
//! over an overlay of /etc, so the host is untouched) a setuid-root program and a program with file
//! capabilities, run by an unprivileged user, work, keep following `MPTCPIZE`, and never create
//! or write the `MPTCPIZE_LOG_FILE` an unprivileged user names (the kernel sets `AT_SECURE`).

mod common;
use common::in_netns;

const SCRIPT: &str = r#"
export WORK
chmod 0755 "$WORK"
cp "$LIB" "$WORK/libmptcpize_rs.so"
# The log companion, which the library loads from its own directory (never in secure mode).
cp "${LIB%/*}/libmptcpize_rs_log.so" "$WORK/"
cp "$SOCKPROBE" "$WORK/setuid-probe"
chmod 4755 "$WORK/setuid-probe"
cp "$SOCKPROBE" "$WORK/caps-probe"
setcap cap_net_bind_service+ep "$WORK/caps-probe"
mkdir "$WORK/upper" "$WORK/overlay-work" "$WORK/logs"
chmod 0777 "$WORK/logs"
# The private mount namespace ends with this unshare: /etc is untouched for everyone else.
unshare -m --propagation private bash -euo pipefail -c '
	mount -t overlay overlay -o "lowerdir=/etc,upperdir=$WORK/upper,workdir=$WORK/overlay-work" /etc
	echo "$WORK/libmptcpize_rs.so" >/etc/ld.so.preload
	as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- env "$@"; }
	for probe in setuid-probe caps-probe; do
		printf "FACT %s_default=%s\n" "$probe" "$(as_nobody MPTCPIZE_LOG=debug MPTCPIZE_LOG_FILE="$WORK/logs/$probe.log" "$WORK/$probe" inet stream 0 2>"$WORK/$probe.err")"
		printf "FACT %s_stderr=%s\n" "$probe" "$(cat "$WORK/$probe.err")"
		printf "FACT %s_off=%s\n" "$probe" "$(as_nobody MPTCPIZE=off "$WORK/$probe" inet stream 0)"
	done
	# The same file, not privileged: the log variables apply (the control).
	printf "FACT plain=%s\n" "$(as_nobody MPTCPIZE_LOG=debug MPTCPIZE_LOG_FILE="$WORK/logs/plain.log" "$SOCKPROBE" inet stream 0)"
'
fact logs "$(ls "$WORK/logs" | tr '\n' ' ')"
fact host_preload "$([ -e /etc/ld.so.preload ] && echo present || echo absent)"
"#;

#[test]
fn setuid_and_capability_programs_ignore_our_file_variables_but_follow_the_mode() {
    let host_had_preload = std::path::Path::new("/etc/ld.so.preload").exists();
    let run = in_netns(SCRIPT, &[]);
    run.assert_success();
    for probe in ["setuid-probe", "caps-probe"] {
        assert!(
            run.fact(&format!("{probe}_default"))
                .starts_with("count=1 mptcp=1 tcp=0 "),
            "{probe}: MPTCP through /etc/ld.so.preload: {run}"
        );
        assert_eq!(
            run.fact(&format!("{probe}_stderr")),
            "",
            "{probe}: MPTCPIZE_LOG ignored: {run}"
        );
        assert!(
            run.fact(&format!("{probe}_off"))
                .starts_with("count=1 mptcp=0 tcp=1 "),
            "{probe}: MPTCPIZE=off still applies: {run}"
        );
    }
    assert!(run.fact("plain").starts_with("count=1 mptcp=1 "), "{run}");
    // Only the unprivileged control wrote its log file.
    run.expect("logs", "plain.log ");
    if !host_had_preload {
        assert_eq!(
            run.fact("host_preload"),
            "absent",
            "/etc/ld.so.preload leaked: {run}"
        );
    }
}
