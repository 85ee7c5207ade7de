//! The advisory-options policy (`MPTCPIZE=on+advisory`, `-m on+advisory`): an option MPTCP
//! refuses that only tunes timing keeps the socket MPTCP, the call succeeds and the value reads
//! back as without the library. A real Python program (tests/helpers/sockcheck.py) runs each
//! case first without the library, which gives the expected answers, then with it; the kernel's
//! MP_CAPABLE counters of the test's own namespace, `SO_PROTOCOL` and `MPTCP_INFO` say the
//! connection was MPTCP, and the payload must arrive intact. Without the policy nothing changes
//! (tests/socket_options.rs holds those answers); a value the policy does not cover (a hop limit
//! below the default) is treated as without it.

mod common;
use common::in_netns;

/// (name, families, level, option, value): every row of mptcpize-core's `advisory::ADVISORY`.
const ADVISORY: &[(&str, &[&str], i32, i32, i32)] = &[
    ("TCP_USER_TIMEOUT", &["4", "6"], 6, 18, 1234),
    ("TCP_SYNCNT", &["4", "6"], 6, 7, 3),
    ("TCP_QUICKACK", &["4", "6"], 6, 12, 0),
    ("TCP_LINGER2", &["4", "6"], 6, 8, 10),
    ("TCP_WINDOW_CLAMP", &["4", "6"], 6, 10, 65536),
    ("IP_TTL", &["4"], 0, 2, 100),
    ("IPV6_UNICAST_HOPS", &["6"], 41, 16, 100),
    ("IPV6_TCLASS", &["6"], 41, 67, 32),
];

/// One `key=value` word of a sockcheck.py line.
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split(' ')
        .find_map(|word| word.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key} in {line:?}"))
}

#[test]
fn advisory_options_keep_mptcp_and_answer_as_tcp_would() {
    let mut cases = String::new();
    for &(name, families, level, option, value) in ADVISORY {
        for family in families {
            cases.push_str(&format!("{name} {family} {level} {option} {value}\n"));
        }
    }
    let run = in_netns(
        r#"
while read -r name family level option value; do
	for role in client listener; do
		for when in before after; do
			key="$name-$family-$role-$when"
			fact "plain-$key" "$(python3 "$HELPERS/sockcheck.py" option "$family" "$role" "$when" "$level" "$option" "$value" accepted)"
			synack=$(counter MPTcpExtMPCapableSYNACKRX)
			fact "advisory-$key" "$(MPTCPIZE=on+advisory preload python3 "$HELPERS/sockcheck.py" option "$family" "$role" "$when" "$level" "$option" "$value" accepted)"
			fact "synack-$key" "$(($(counter MPTcpExtMPCapableSYNACKRX) - synack))"
		done
	done
done <<<"$CASES"
"#,
        &[("CASES", cases.trim_end())],
    );
    run.assert_success();
    let mut checked = 0;
    for &(name, families, ..) in ADVISORY {
        for family in families {
            for role in ["client", "listener"] {
                for when in ["before", "after"] {
                    let key = format!("{name}-{family}-{role}-{when}");
                    let plain = run.fact(&format!("plain-{key}"));
                    let with = run.fact(&format!("advisory-{key}"));
                    let case = format!("{key}\nplain:    {plain}\nadvisory: {with}\n{run}");
                    assert_eq!(field(&plain, "intact"), "1", "{case}");
                    assert_eq!(field(&plain, "protocol"), "6", "{case}");
                    // Kept MPTCP, by the kernel's word, and the data intact.
                    assert!(
                        with.contains(
                            "protocol=262 client_protocol=262 client_mptcp_info=1 intact=1"
                        ),
                        "{case}"
                    );
                    assert_eq!(
                        run.fact(&format!("synack-{key}")),
                        "1",
                        "one MP_CAPABLE handshake: {case}"
                    );
                    // Answered as without the library: the call, and what the program reads.
                    assert_eq!(
                        field(&with, "set_errno"),
                        field(&plain, "set_errno"),
                        "{case}"
                    );
                    // TCP_QUICKACK reads the connection's current ACK mode, which TCP changes by
                    // itself; the policy answers the value last set.
                    if !(name == "TCP_QUICKACK" && when == "before") {
                        assert_eq!(field(&with, "value"), field(&plain, "value"), "{case}");
                    }
                    // A connection inherits its listener's values as TCP's does; one set on the
                    // listener after the connection arrived is passed on at accept() (TCP: not).
                    // On a connection TCP reads the window clamp it computed, which MPTCP does
                    // not read (a fresh socket's 0 answers, with the policy or without).
                    let set_on_listener_later = role == "listener" && when == "after";
                    let read_by_state = matches!(name, "TCP_QUICKACK" | "TCP_WINDOW_CLAMP");
                    if !read_by_state && !set_on_listener_later {
                        assert_eq!(
                            field(&with, "accepted_value"),
                            field(&plain, "accepted_value"),
                            "{case}"
                        );
                    }
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 4 * 13);
}

#[test]
fn without_the_policy_or_outside_it_the_socket_becomes_tcp_as_before() {
    let run = in_netns(
        r#"
check=("$HELPERS/sockcheck.py" option)
fact exact-plain "$(python3 "${check[@]}" 4 client before 6 18 1234)"
fact exact "$(MPTCPIZE=on preload python3 "${check[@]}" 4 client before 6 18 1234)"
# A hop limit below the default narrows where packets go: not advisory.
fact low-ttl-plain "$(python3 "${check[@]}" 4 client before 0 2 33)"
fact low-ttl "$(MPTCPIZE=on+advisory preload python3 "${check[@]}" 4 client before 0 2 33)"
fact low-ttl-after "$(MPTCPIZE=on+advisory preload python3 "${check[@]}" 4 client after 0 2 33 2>/dev/null)"
# A value kept by the policy goes with the socket when another option then makes it TCP.
carry='
import socket
s = socket.socket()
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 4321)
s.setsockopt(socket.IPPROTO_IP, 21, 2)  # IP_MINTTL
print(s.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL), s.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT))
'
fact carry-plain "$(python3 -c "$carry")"
fact carry "$(MPTCPIZE=on+advisory preload python3 -c "$carry")"
# One value's life: duplicate, reset, reused number, fork, a value TCP refuses.
fact life-plain "$(python3 "$HELPERS/advisory_life.py")"
fact life "$(MPTCPIZE=on+advisory preload python3 "$HELPERS/advisory_life.py")"
# force answers as the kernel does: force+advisory is refused, and the library stays out.
fact force "$(MPTCPIZE=force+advisory preload python3 "${check[@]}" 6 client before 6 18 1234 2>/dev/null)"
fact force-warning "$(MPTCPIZE=force+advisory preload python3 "${check[@]}" 6 client before 6 18 1234 2>&1 >/dev/null)"
"#,
        &[],
    );
    run.assert_success();
    let plain = run.fact("exact-plain");
    assert!(
        plain.starts_with("set_errno=0 value=1234 protocol=6 "),
        "{run}"
    );
    assert_eq!(run.fact("exact"), plain, "{run}");
    let plain = run.fact("low-ttl-plain");
    assert!(
        plain.starts_with("set_errno=0 value=33 protocol=6 "),
        "{run}"
    );
    assert_eq!(run.fact("low-ttl"), plain, "{run}");
    assert!(
        run.fact("low-ttl-after").starts_with("set_errno=95 "),
        "refused on a connection, as without the policy: {run}"
    );
    let life = run.fact("life-plain");
    assert_eq!(
        life,
        "dup=1234 reset=0 reused=1 fresh=0 child=555 negative_errno=22 after_negative=555 \
         protocol=6",
        "{run}"
    );
    assert_eq!(
        run.fact("life"),
        life.replace("protocol=6", "protocol=262"),
        "{run}"
    );
    assert_eq!(run.fact("carry-plain"), "6 4321", "{run}");
    assert_eq!(run.fact("carry"), "6 4321", "{run}");
    assert_eq!(
        run.fact("force"),
        "set_errno=0 value=1234 protocol=6 client_protocol=6 client_mptcp_info=0 intact=1",
        "{run}"
    );
    let warning = run.fact("force-warning");
    assert!(
        warning.starts_with("mptcpize-rs[")
            && warning.contains("WARN invalid MPTCPIZE=\"force+advisory\""),
        "{run}"
    );
}

/// The direction modes switch a listener at `listen()`: in `listen` mode a TCP listener that set
/// an advisory option becomes MPTCP all the same, the value kept (and inherited by the
/// connections it accepts); in `connect` mode the MPTCP listener that kept one becomes TCP with
/// the value set for real. Both read as without the library. (The client of this program is
/// TCP in `listen` mode, and the listener TCP in `connect` mode: the listener's `SO_PROTOCOL` is
/// the kernel's word here; MPTCP connections of an advisory listener are checked above.)
#[test]
fn the_direction_modes_carry_advisory_values_across_their_switch() {
    let run = in_netns(
        r#"
check=("$HELPERS/sockcheck.py" option 4 listener before 6 18 1234 accepted)
fact plain "$(python3 "${check[@]}")"
for mode in listen connect; do
	fact "$mode" "$(MPTCPIZE=$mode preload python3 "${check[@]}")"
	fact "$mode+advisory" "$(MPTCPIZE=$mode+advisory preload python3 "${check[@]}")"
done
"#,
        &[],
    );
    run.assert_success();
    let plain = run.fact("plain");
    assert!(
        plain.starts_with("set_errno=0 value=1234 protocol=6 ")
            && plain.ends_with("intact=1 accepted_value=1234"),
        "{run}"
    );
    // Without the policy the listen-mode listener stays TCP, as before.
    assert!(
        run.fact("listen")
            .starts_with("set_errno=0 value=1234 protocol=6 "),
        "{run}"
    );
    let listen = run.fact("listen+advisory");
    assert!(
        listen.starts_with("set_errno=0 value=1234 protocol=262 ")
            && listen.ends_with("intact=1 accepted_value=1234"),
        "{run}"
    );
    // connect mode: the listener is TCP in the end, with or without the policy.
    for setting in ["connect", "connect+advisory"] {
        let line = run.fact(setting);
        assert!(
            line.starts_with("set_errno=0 value=1234 protocol=6 ")
                && line.ends_with("intact=1 accepted_value=1234"),
            "{setting}: {run}"
        );
    }
}
