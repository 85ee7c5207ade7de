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

/// Options that only some kernels refuse on an MPTCP socket (docs/options/: 6.1 and 6.12 refuse
/// TCP_MAXSEG, 6.1 the others too; 6.18 takes them all): (name, families, level, option, value).
/// Each is checked where the running kernel's committed table says MPTCP refuses it and TCP
/// takes it (tests/kernels.rs runs this file inside 6.1 and 6.12).
const KERNEL_DEPENDENT: &[(&str, &[&str], i32, i32, i32)] = &[
    ("TCP_MAXSEG", &["4", "6"], 6, 2, 1200),
    ("TCP_NOTSENT_LOWAT", &["4", "6"], 6, 25, 16384),
    ("TCP_FASTOPEN", &["4", "6"], 6, 23, 5),
    ("TCP_FASTOPEN_NO_COOKIE", &["4", "6"], 6, 34, 1),
    // The low end of the range; 0 as the high end leaves the namespace's own.
    ("IP_LOCAL_PORT_RANGE", &["4"], 0, 51, 40000),
    ("IP_BIND_ADDRESS_NO_PORT", &["4"], 0, 24, 1),
];

/// The errno a table cell's third letter (set to a typical value) stands for; 0 for '.'.
fn errno_of_cell(cell: &str) -> i32 {
    match cell.as_bytes().get(2) {
        Some(b'.') => 0,
        Some(b'O') => EOPNOTSUPP,
        Some(b'P') => ENOPROTOOPT,
        Some(b'I') => 22,
        Some(b'E') => 1,
        other => panic!("a cell this test does not know: {cell} ({other:?})"),
    }
}

/// One `key=value` word of a sockcheck.py line.
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split(' ')
        .find_map(|word| word.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key} in {line:?}"))
}

#[test]
fn options_only_this_kernel_refuses_switch_before_and_answer_after() {
    let mut checked = Vec::new();
    for &(name, families, level, option, value) in KERNEL_DEPENDENT {
        for &family in families {
            let table_family = if family == "6" { "inet6" } else { "inet" };
            let (Some(mptcp), Some(tcp)) = (
                common::committed_answers("IPPROTO_MPTCP", table_family, name),
                common::committed_answers("IPPROTO_TCP", table_family, name),
            ) else {
                panic!("{name} ({table_family}) is not in this kernel's option table");
            };
            if errno_of_cell(&mptcp[0]) == 0 || errno_of_cell(&tcp[0]) != 0 {
                continue;
            }
            checked.push(format!("{name}/{family}"));
            let run = in_netns(
                r#"
for role in client listener; do
	for when in before after; do
		fact "$role-$when" "$(preload python3 "$HELPERS/sockcheck.py" option "$FAMILY" "$role" "$when" $OPTION)"
		fact "plain-$role-$when" "$(python3 "$HELPERS/sockcheck.py" option "$FAMILY" "$role" "$when" $OPTION)"
	done
done
"#,
                &[
                    ("FAMILY", family),
                    ("OPTION", &format!("{level} {option} {value}")),
                ],
            );
            run.assert_success();
            let case = format!("{name} IPv{family}, table {mptcp:?}\n{run}");
            for (role, state) in [("client", 4), ("listener", 1)] {
                // Before: the socket became TCP and answers as it does without the library.
                let with = run.fact(&format!("{role}-before"));
                let plain = run.fact(&format!("plain-{role}-before"));
                for key in ["set_errno", "value", "protocol", "intact"] {
                    assert_eq!(
                        field(&with, key),
                        field(&plain, key),
                        "{role} {key}: {case}"
                    );
                }
                assert_eq!(field(&with, "protocol"), "6", "{role}: {case}");
                // After: the connection stays MPTCP and answers as without the library (an
                // option it remembers and answers, TCP's own error where TCP refuses it too) or
                // the kernel's refusal.
                let with = run.fact(&format!("{role}-after"));
                let plain = run.fact(&format!("plain-{role}-after"));
                let (with_errno, plain_errno) =
                    (field(&with, "set_errno"), field(&plain, "set_errno"));
                assert!(
                    with_errno == plain_errno
                        || (plain_errno == "0"
                            && with_errno == errno_of_cell(&mptcp[state]).to_string()),
                    "{role} after: {case}"
                );
                assert!(
                    with.ends_with("protocol=262 client_protocol=262 client_mptcp_info=1 intact=1"),
                    "{role} after: {case}"
                );
            }
        }
    }
    eprintln!(
        "Linux {}: options only this kernel refuses, checked: {}",
        common::kernel_series(),
        if checked.is_empty() {
            "none".to_string()
        } else {
            checked.join(" ")
        }
    );
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
