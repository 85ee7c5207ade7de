//! The kernel's answers to every socket option, per socket state, measured by
//! `examples/optiontable.rs` and committed under `docs/options/<kernel>.txt`: the rules of the
//! library (switch before `connect()`/`listen()`, answers after) are written from that table, so
//! this test fails as soon as the running kernel answers differently from the committed one.

mod common;
use common::{in_netns, kernel_series};

#[test]
fn the_committed_option_table_is_what_this_kernel_answers() {
    let series = kernel_series();
    let path = common::built()
        .repo
        .join(format!("docs/options/{series}.txt"));
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no option table for Linux {series}: {} is missing; make it as its first lines say",
            path.display()
        )
    });
    let run = in_netns(
        r#"
echo "== IPPROTO_MPTCP"
"$EXAMPLES/optiontable" mptcp
echo "== IPPROTO_TCP"
"$EXAMPLES/optiontable" tcp
"#,
        &[],
    );
    run.assert_success();
    let measured: Vec<&str> = run.stdout.lines().collect();
    let committed: Vec<&str> = committed
        .lines()
        .filter(|l| !l.starts_with("# optiontable") && !l.starts_with("# unshare"))
        .collect();
    let differences: Vec<String> = committed
        .iter()
        .zip(&measured)
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("committed: {a}\nmeasured:  {b}"))
        .collect();
    assert!(
        differences.is_empty() && committed.len() == measured.len(),
        "Linux {series} answers differently from {}:\n{}\n({} lines committed, {} measured)",
        path.display(),
        differences.join("\n"),
        committed.len(),
        measured.len()
    );
    assert!(
        run.stdout
            .contains("# established sockets that did not carry data intact: 0")
    );
}

/// Rows `| `A`, `B` | why |` of the docs/limitations.md block that starts with `<!-- MARKER:`:
/// the names.
fn documented_list(marker: &str) -> Vec<String> {
    documented_list_if_any(marker)
        .unwrap_or_else(|| panic!("docs/limitations.md has no <!-- {marker}: --> block"))
}

/// As [`documented_list`], `None` when there is no such block.
fn documented_list_if_any(marker: &str) -> Option<Vec<String>> {
    let path = common::built().repo.join("docs/limitations.md");
    let text = std::fs::read_to_string(&path).expect("docs/limitations.md");
    let block = text
        .split(&format!("<!-- {marker}:"))
        .nth(1)
        .and_then(|rest| rest.split("<!-- end -->").next())?;
    Some(
        block
            .lines()
            .filter_map(|line| line.trim_start().strip_prefix("| `"))
            .filter_map(|line| line.split(" |").next())
            .flat_map(|names| names.split(", ").map(|n| n.trim_matches('`').to_string()))
            .collect(),
    )
}

/// `family option` → the six state cells of one `optiontable` run.
fn cells(table: &str) -> std::collections::BTreeMap<(String, String), Vec<String>> {
    table
        .lines()
        .filter(|line| !line.starts_with('#') && !line.starts_with("family"))
        .filter_map(|line| {
            let mut words = line.split_whitespace().map(str::to_string);
            Some(((words.next()?, words.next()?), words.collect()))
        })
        .collect()
}

/// Every option, in every state, under the library in each mode, as without it: the only
/// differences are the options docs/limitations.md lists, and those only where it says. Sockets carry data
/// in every state, and are MPTCP where the mode says (the kernel's `SO_PROTOCOL`).
#[test]
fn every_option_in_every_state_answers_as_without_the_library() {
    let run = in_netns(
        r#"
echo "== plain"; "$EXAMPLES/optiontable" program
for mode in on listen connect; do
	echo "== $mode"; MPTCPIZE=$mode LD_PRELOAD="$LIB" "$EXAMPLES/optiontable" program 2>/dev/null
done
"#,
        &[],
    );
    run.assert_success();
    let tables: Vec<&str> = run.stdout.split("== ").skip(1).collect();
    assert_eq!(tables.len(), 4, "{run}");
    let plain = cells(tables[0]);
    assert!(plain.len() > 150, "{run}");
    // The list for every kernel, and the options only this kernel's MPTCP refuses once started.
    let series = kernel_series();
    let mut refused = documented_list("refused-after-start");
    if let Some(more) = documented_list_if_any(&format!("refused-after-start-on {series}")) {
        refused.extend(more);
    }
    let differing = documented_list("differences");
    assert!(
        refused.len() > 20 && differing.len() >= 3,
        "{refused:?} {differing:?}"
    );
    let mut refused_seen = std::collections::BTreeSet::new();
    let mut unlisted = Vec::new();
    for table in &tables[1..] {
        let mode = table.lines().next().unwrap_or_default();
        for line in table.lines().filter(|l| l.starts_with("# ")) {
            assert!(
                !line.starts_with("# established") || line.ends_with(": 0"),
                "{mode}: {line}"
            );
        }
        let protocols: Vec<&str> = table.lines().filter(|l| l.contains("protocols:")).collect();
        let mptcp_states = match mode {
            "on" => "fresh=262 listen=262 acc-mp=262 acc-tcp=6 con-mp=262 con-tcp=262",
            "listen" => "fresh=6 listen=262 acc-mp=262 acc-tcp=6 con-mp=6 con-tcp=6",
            _ => "fresh=262 listen=6 acc-mp=6 acc-tcp=6 con-mp=262 con-tcp=262",
        };
        assert_eq!(protocols.len(), 2, "{mode}\n{table}");
        for line in protocols {
            assert!(line.ends_with(mptcp_states), "{mode}: {line}");
        }
        for (key, with) in cells(table) {
            let without = &plain[&key];
            if &with == without {
                continue;
            }
            let (family, option) = &key;
            let case =
                format!("{mode} {family} {option}: {with:?}, without the library {without:?}");
            if differing.contains(option) {
                continue;
            }
            if !refused.contains(option) {
                unlisted.push(case);
                continue;
            }
            refused_seen.insert(option.clone());
            for (cell, plain_cell) in with.iter().zip(without) {
                if cell != plain_cell {
                    // Only the typical (non-default) value is refused, with MPTCP's errno.
                    let set_typical = cell.chars().nth(2).unwrap_or('?');
                    assert!("OPI".contains(set_typical), "{case}");
                }
            }
        }
    }
    assert!(
        unlisted.is_empty(),
        "Linux {series}: not in docs/limitations.md's lists:\n{}",
        unlisted.join("\n")
    );
    // An option this kernel's TCP itself refuses in every state (one newer than the kernel, say)
    // has nothing to differ on.
    let tcp_takes = |option: &String| {
        plain
            .iter()
            .any(|((_, name), states)| name == option && states.iter().any(|c| c.starts_with("..")))
    };
    let never: Vec<&String> = refused
        .iter()
        .filter(|o| !refused_seen.contains(*o) && tcp_takes(o))
        .collect();
    assert!(
        never.is_empty(),
        "Linux {series}: docs/limitations.md lists options that answer as without the library: \
         {never:?}"
    );
}
