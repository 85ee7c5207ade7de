//! The socket-option fallback, option by option, with a real Python program under the library:
//! an option MPTCP refuses, set before `connect()`/`listen()`, turns the socket into TCP (the
//! kernel's `SO_PROTOCOL` says so) and reads back as set; set afterwards, the kernel's error comes
//! back and the connection stays MPTCP (`MPTCP_INFO` answers). Data round-trips in every case.

mod common;
use common::in_netns;

const ENOPROTOOPT: i32 = 92;
const EOPNOTSUPP: i32 = 95;

/// (name, families, level, option, value, what it reads back as, errno MPTCP refuses it with)
type RefusedOption = (
    &'static str,
    &'static [&'static str],
    i32,
    i32,
    i32,
    &'static str,
    i32,
);

const REFUSED_OPTIONS: &[RefusedOption] = &[
    (
        "TCP_USER_TIMEOUT",
        &["4", "6"],
        6,
        18,
        1234,
        "1234",
        ENOPROTOOPT,
    ),
    // 0, not the default 1 (a default value keeps MPTCP); an unconnected socket reads 1 again.
    ("TCP_QUICKACK", &["4", "6"], 6, 12, 0, "1", ENOPROTOOPT),
    ("TCP_SYNCNT", &["4", "6"], 6, 7, 3, "3", ENOPROTOOPT),
    ("TCP_LINGER2", &["4", "6"], 6, 8, 10, "10", ENOPROTOOPT),
    (
        "TCP_WINDOW_CLAMP",
        &["4", "6"],
        6,
        10,
        65536,
        "65536",
        ENOPROTOOPT,
    ),
    ("IP_TTL", &["4"], 0, 2, 33, "33", EOPNOTSUPP),
    ("IP_MINTTL", &["4"], 0, 21, 2, "2", EOPNOTSUPP),
    ("IP_RECVERR", &["4"], 0, 11, 1, "1", EOPNOTSUPP),
    ("IPV6_TCLASS", &["6"], 41, 67, 32, "32", EOPNOTSUPP),
    ("IPV6_UNICAST_HOPS", &["6"], 41, 16, 33, "33", EOPNOTSUPP),
    ("SO_ZEROCOPY", &["4", "6"], 1, 60, 1, "1", EOPNOTSUPP),
];

#[test]
fn refused_options_before_and_after_connect_and_listen() {
    for &(name, families, level, option, value, read_back, refusal) in REFUSED_OPTIONS {
        for family in families {
            let run = in_netns(
                r#"
for role in client listener; do
	for when in before after; do
		fact "$role-$when" "$(preload python3 "$HELPERS/sockcheck.py" option "$FAMILY" "$role" "$when" $OPTION)"
	done
done
"#,
                &[
                    ("FAMILY", family),
                    ("OPTION", &format!("{level} {option} {value}")),
                ],
            );
            run.assert_success();
            let case = format!("{name} IPv{family}\n{run}");
            for role in ["client", "listener"] {
                let before = run.fact(&format!("{role}-before"));
                assert!(
                    before.starts_with(&format!("set_errno=0 value={read_back} protocol=6 ")),
                    "{role} before: {case}"
                );
                assert!(before.ends_with(" intact=1"), "{role} before: {case}");
                let after = run.fact(&format!("{role}-after"));
                assert!(
                    after.starts_with(&format!("set_errno={refusal} ")),
                    "{role} after: {case}"
                );
                assert!(
                    after
                        .ends_with("protocol=262 client_protocol=262 client_mptcp_info=1 intact=1"),
                    "{role} after: {case}"
                );
            }
        }
    }
}

#[test]
fn force_mode_returns_the_kernels_error() {
    let run = in_netns(
        r#"fact probe "$(MPTCPIZE=force preload python3 "$HELPERS/sockcheck.py" option 4 client before 6 18 1234)""#,
        &[],
    );
    run.assert_success();
    assert!(
        run.fact("probe")
            .starts_with(&format!("set_errno={ENOPROTOOPT} ")),
        "{run}"
    );
    assert!(run.fact("probe").contains(" protocol=262 "), "{run}");
}

#[test]
fn a_dual_stack_server_keeps_its_setup_through_the_switch() {
    let run = in_netns(
        r#"fact server "$(preload python3 "$HELPERS/sockcheck.py" dualstack)""#,
        &[],
    );
    run.assert_success();
    run.expect(
        "server",
        "protocol=6 user_timeout=4321 v6only=0 reuseaddr=1 defer_accept=1 port_kept=1 \
         v4_intact=1 v6_intact=1",
    );
}

/// netcat-openbsd's -M (IP_TTL), -m (IP_MINTTL) and -T lowdelay (IPV6_TCLASS) fail under
/// mptcpize; here both sides work and the data arrives.
#[test]
fn nc_with_options_mptcp_refuses() {
    for (family, address, flags) in [
        ("4", "127.0.0.1", "-M 5"),
        ("4", "127.0.0.1", "-m 5"),
        ("6", "::1", "-T lowdelay"),
    ] {
        let run = in_netns(
            r#"
payload "$WORK/data.bin" 100000
# shellcheck disable=SC2086 # FLAGS is a word list
preload timeout 30 nc "-$FAMILY" $FLAGS -l "$ADDR" 9000 >"$WORK/got.bin" &
server=$!
wait_listen 9000
# shellcheck disable=SC2086
preload timeout 30 nc "-$FAMILY" $FLAGS -N "$ADDR" 9000 <"$WORK/data.bin"
fact client_status "$?"
wait "$server"
fact server_status "$?"
fact intact "$(cmp -s "$WORK/data.bin" "$WORK/got.bin" && echo yes || echo no)"
"#,
            &[("FAMILY", family), ("ADDR", address), ("FLAGS", flags)],
        );
        run.assert_success();
        let case = format!("nc {flags}\n{run}");
        assert_eq!(run.fact("client_status"), "0", "{case}");
        assert_eq!(run.fact("server_status"), "0", "{case}");
        assert_eq!(run.fact("intact"), "yes", "{case}");
    }
}
