//! The kernel's answers to every socket option, per socket state, measured by
//! `examples/optiontable.rs` and committed under `docs/options/<kernel>.txt`: the rules of the
//! library (switch before `connect()`/`listen()`, answers after) are written from that table, so
//! this test fails as soon as the running kernel answers differently from the committed one.

mod common;
use common::in_netns;

/// `6.18` for `6.18.0-1-amd64`: the table's file name.
fn kernel_series() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("kernel release");
    release
        .trim()
        .split('.')
        .take(2)
        .collect::<Vec<_>>()
        .join(".")
}

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
