//! The kernel's MPTCP behaviours the library avoids, measured against the same program without
//! it: a transfer into a receive buffer the program set (`SO_RCVBUF`), which kernels from 6.13 on
//! stall in zero-window probes over MPTCP (crates/core/src/behaviour.rs). Where the program sets
//! the buffer before `connect()`/`listen()`, the socket must stay TCP on such a kernel; where it
//! cannot (set after `listen()` or `connect()`), it stays MPTCP and the buffer is not passed on.
//! Either way the transfer takes no more than twice its time without the library, and the
//! program reads back the buffer sizes it reads without it; a socket without a buffer of its own
//! must still be MPTCP. `force`, the kernel's MPTCP as it is, shows the stall; the committed
//! behaviour table, checked here too, shows it without the library.

mod common;
use common::{Run, in_netns};

/// 384 KiB, as the asyncio test that found it (a 4 KiB buffer; loopback at Ethernet's MTU).
const SCRIPT: &str = r#"
ip link set lo mtu 1500
sysctl -qw net.mptcp.enabled=1
P() {
	case "$MODE" in
	none) "$@" ;;
	seccomp) W --seccomp "$@" ;;
	*) env MPTCPIZE="$MODE" LD_PRELOAD="$LIB" "$@" ;;
	esac
}
line=$(P timeout 70 python3 "$HELPERS/small_buffer.py" "$WHERE" 4096 393216 "$FAMILY")
for word in $line; do fact "${word%%=*}" "${word#*=}"; done
mptcp_facts
"#;

fn transfer(place: &str, mode: &str) -> Run {
    transfer_over(place, mode, "4")
}

/// The transfer over IPv4 (`family` "4") or IPv6 ("6").
fn transfer_over(place: &str, mode: &str, family: &str) -> Run {
    let run = in_netns(
        SCRIPT,
        &[("WHERE", place), ("MODE", mode), ("FAMILY", family)],
    );
    run.assert_success();
    assert_eq!(run.fact("sent"), run.fact("got"), "data intact\n{run}");
    assert_eq!(run.number("bytes"), 393_216, "{run}");
    run
}

fn seconds(run: &Run) -> f64 {
    run.fact("seconds").parse().expect("seconds")
}

/// Whether the running kernel stalls transfers into a set receive buffer (from 6.13 on).
fn affected() -> bool {
    let series = common::kernel_series();
    let mut parts = series
        .split('.')
        .map(|part| part.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (6, 13)
}

/// Twice the time without the library, and half a second for a busy machine: a stall lasts
/// seconds.
fn allowed(without: f64) -> f64 {
    2.0 * without + 0.5
}

#[test]
fn a_receive_buffer_set_before_the_start_keeps_the_transfer_as_fast_as_without_the_library() {
    for (place, family) in [
        ("listener-before", "4"),
        ("client-before", "4"),
        ("listener-before", "6"),
        ("client-before", "6"),
    ] {
        let without = transfer_over(place, "none", family);
        without.expect("receiver_proto", "6");
        let tcp_time = seconds(&without);
        for mode in ["on", "listen", "connect"] {
            let run = transfer_over(place, mode, family);
            let took = seconds(&run);
            assert!(
                took <= allowed(tcp_time),
                "{place} IPv{family}, -m {mode}: {took:.3} s, without the library \
                 {tcp_time:.3} s\n{run}"
            );
            if affected() {
                // The receiving socket stayed TCP: no MPTCP connection at all.
                run.expect("receiver_proto", "6")
                    .expect("receiver_mptcp_info", "no");
                assert_eq!(
                    run.number("syn_rx"),
                    0,
                    "{place} IPv{family}, -m {mode}: MPTCP\n{run}"
                );
            }
        }
    }
}

#[test]
fn without_a_buffer_of_its_own_the_same_program_is_mptcp_and_as_fast() {
    let tcp_time = seconds(&transfer("none", "none"));
    let run = transfer("none", "on");
    run.expect("receiver_proto", "262")
        .expect("receiver_mptcp_info", "yes")
        .expect("sender_mptcp_info", "yes");
    assert!(
        run.number("syn_rx") >= 1 && run.number("synack_rx") >= 1,
        "{run}"
    );
    assert!(seconds(&run) <= allowed(tcp_time), "{run}");
}

#[test]
fn force_keeps_mptcp_and_shows_the_stall_on_an_affected_kernel() {
    // force is the kernel's MPTCP as it is: no rule of the library applies, so this is also the
    // stall every other test here avoids.
    for place in ["listener-before", "listener-after"] {
        let tcp_time = seconds(&transfer(place, "none"));
        let run = transfer(place, "force");
        run.expect("receiver_proto", "262")
            .expect("receiver_mptcp_info", "yes");
        assert!(run.number("syn_rx") >= 1, "{run}");
        if affected() {
            assert!(
                seconds(&run) > allowed(tcp_time),
                "{place}: the kernel no longer stalls ({:.3} s, TCP {tcp_time:.3} s): update \
                 crates/core/src/behaviour.rs and docs/behaviour/\n{run}",
                seconds(&run)
            );
        }
    }
}

#[test]
fn the_kernel_behaves_as_its_committed_behaviour_table_says() {
    // scripts/behaviour.py's scenarios over TCP and MPTCP, against docs/behaviour/<series>.txt;
    // and against a copy with one MPTCP answer changed, which must be noticed.
    let built = common::built();
    let repo = &built.repo;
    let series = common::kernel_series();
    let committed = repo.join(format!("docs/behaviour/{series}.txt"));
    let table = std::fs::read_to_string(&committed).unwrap_or_else(|_| {
        panic!(
            "{}: no behaviour table for this kernel",
            committed.display()
        )
    });
    let row = table
        .lines()
        .find(|line| line.starts_with("read after the peer's shutdown(SHUT_WR)"))
        .expect("the table has the shutdown row");
    assert!(row.ends_with("EOF at once"), "{row}");
    let tampered = repo.join("target/behaviour-tampered");
    std::fs::create_dir_all(&tampered).expect("target/behaviour-tampered");
    std::fs::write(
        tampered.join(format!("{series}.txt")),
        table.replacen(row, &row.replace("EOF at once", "blocks"), 1),
    )
    .expect("a tampered copy");
    let check = |tables: &std::path::Path| {
        std::process::Command::new(repo.join("scripts/behaviour-table.sh"))
            .arg("--check")
            .env("BEHAVIOUR_TABLES", tables)
            .output()
            .expect("scripts/behaviour-table.sh")
    };
    let output = check(&repo.join("docs/behaviour"));
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let output = check(&tampered);
    assert!(!output.status.success(), "a changed row went unnoticed");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("shutdown(SHUT_WR)"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn a_receive_buffer_set_after_the_start_is_kept_from_mptcp_in_every_mode() {
    // asyncio's tests set SO_RCVBUF on a listener after listen(): the listener is MPTCP by then
    // (but in connect mode) and cannot change, so the buffer is not passed on, and the program
    // reads back what it reads without the library, on the listener and on the accepted socket.
    // (In listen mode the client is TCP, so the accepted socket is too.)
    let without = transfer("listener-after", "none");
    let tcp_time = seconds(&without);
    for (mode, proto) in [
        ("on", "262"),
        ("listen", "6"),
        ("on+advisory", "262"),
        ("connect", "6"),
    ] {
        let run = transfer("listener-after", mode);
        run.expect("receiver_proto", proto)
            .expect("listener_rcvbuf", &without.fact("listener_rcvbuf"))
            .expect("accepted_rcvbuf", &without.fact("accepted_rcvbuf"));
        if proto == "262" {
            run.expect("receiver_mptcp_info", "yes");
            assert!(run.number("syn_rx") >= 1, "-m {mode}\n{run}");
        }
        assert!(
            seconds(&run) <= allowed(tcp_time),
            "-m {mode}: {:.3} s, without the library {tcp_time:.3} s\n{run}",
            seconds(&run)
        );
    }
    // A client that sets it once connected, and receives: an MPTCP socket in on and connect modes
    // (in connect mode the listener is TCP, so the connection fell back).
    let without = transfer("client-after", "none");
    let tcp_time = seconds(&without);
    for (mode, connection) in [("on", "yes"), ("connect", "no")] {
        let run = transfer("client-after", mode);
        run.expect("receiver_proto", "262")
            .expect("receiver_mptcp_info", connection)
            .expect("client_rcvbuf", &without.fact("client_rcvbuf"));
        assert!(
            seconds(&run) <= allowed(tcp_time),
            "client-after, -m {mode}: {:.3} s, without the library {tcp_time:.3} s\n{run}",
            seconds(&run)
        );
    }
}

/// The seccomp supervisor keeps the same rule: a receive buffer set before `connect()`/`listen()`
/// on a kernel that stalls with it makes the socket TCP (it switches its socket behind the same
/// number), so the transfer is as fast as without the launcher.
#[test]
fn under_the_supervisor_a_receive_buffer_set_before_the_start_keeps_the_transfer_fast() {
    for place in ["listener-before", "client-before"] {
        let tcp_time = seconds(&transfer(place, "none"));
        let run = transfer(place, "seccomp");
        assert!(
            seconds(&run) <= allowed(tcp_time),
            "{place} under --seccomp: {:.3} s, without the launcher {tcp_time:.3} s\n{run}",
            seconds(&run)
        );
        if affected() {
            run.expect("receiver_proto", "6")
                .expect("receiver_mptcp_info", "no");
        } else {
            run.expect("receiver_mptcp_info", "yes");
        }
    }
}
