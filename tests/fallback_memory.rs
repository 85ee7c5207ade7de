//! The fallback and its memory, with the kernel refusing MPTCP in each way it can: switched off
//! in the namespace (`ENOPROTOOPT`), and, through a seccomp filter, as a kernel without MPTCP
//! (`EPROTONOSUPPORT`), an old kernel (`EINVAL`) or a policy (`EPERM`, `EACCES`). strace counts
//! the MPTCP attempts the kernel actually saw.

mod common;
use common::in_netns;

/// Runs sockprobe under strace twice: a burst of 300 sockets alternating AF_INET/AF_INET6 (well
/// inside the 2 s memory even under strace in the emulated guests of tests/kernels.rs, where
/// 1000 once took longer while the host was busy), then
/// 3 sockets 1.1 s apart (past the 2 s transient memory by the third).
const SCRIPT: &str = r#"
if [ "$REFUSAL" = sysctl ]; then
	sysctl -qw net.mptcp.enabled=0
	refuse=()
else
	refuse=("$REFUSE_MPTCP" "$REFUSAL")
fi
traced() {
	local log=$1
	shift
	"${refuse[@]}" strace -f -qq -e trace=socket -E LD_PRELOAD="$LIB" -o "$log" "$SOCKPROBE" "$@"
}
fact burst "$(traced "$WORK/burst.trace" inet,inet6 stream 0 300)"
fact burst_attempts "$(grep -c IPPROTO_MPTCP "$WORK/burst.trace" || true)"
fact burst_attempts_inet6 "$(grep -c 'AF_INET6, SOCK_STREAM, IPPROTO_MPTCP' "$WORK/burst.trace" || true)"
fact burst_calls "$(grep -c 'socket(' "$WORK/burst.trace" || true)"
fact spaced "$(traced "$WORK/spaced.trace" inet stream 0 3 1100)"
fact spaced_attempts "$(grep -c IPPROTO_MPTCP "$WORK/spaced.trace" || true)"
"#;

#[test]
fn every_refusal_falls_back_and_is_remembered() {
    // (how MPTCP is refused, whether the refusal is permanent)
    let table = [
        ("sysctl", false),
        ("EPROTONOSUPPORT", true),
        ("EINVAL", true),
        ("EPERM", false),
        ("EACCES", false),
    ];
    for (refusal, permanent) in table {
        let run = in_netns(SCRIPT, &[("REFUSAL", refusal)]);
        run.assert_success();
        // Every socket is a working TCP socket and the caller's errno survived each fallback.
        assert!(
            run.fact("burst")
                .starts_with("count=300 mptcp=0 tcp=300 other=0 failed=0 errno_kept=300 "),
            "{refusal}: {run}"
        );
        assert!(
            run.fact("spaced")
                .starts_with("count=3 mptcp=0 tcp=3 other=0 failed=0 errno_kept=3 "),
            "{refusal}: {run}"
        );
        // One attempt per address family, however many sockets: no two syscalls per socket.
        assert_eq!(run.number("burst_attempts"), 2, "{refusal}: {run}");
        assert_eq!(run.number("burst_attempts_inet6"), 1, "{refusal}: {run}");
        assert_eq!(run.number("burst_calls"), 302, "{refusal}: {run}");
        // A permanent refusal is never retried; a transient one is, once its memory expires.
        let expected = if permanent { 1 } else { 2 };
        assert_eq!(run.number("spaced_attempts"), expected, "{refusal}: {run}");
    }
}

#[test]
fn mptcp_switched_back_on_is_picked_up_without_a_restart() {
    let run = in_netns(
        r#"
sysctl -qw net.mptcp.enabled=0
(sleep 0.5; sysctl -qw net.mptcp.enabled=1) &
fact probe "$(preload "$SOCKPROBE" inet stream 0 3 1100)"
"#,
        &[],
    );
    run.assert_success();
    // First socket refused (TCP), second within the memory (TCP), third after it: MPTCP.
    assert!(
        run.fact("probe").starts_with("count=3 mptcp=1 tcp=2 "),
        "{run}"
    );
}
