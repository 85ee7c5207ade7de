//! The other kernels users run, under QEMU (`scripts/kernels.sh`): Debian 12's 6.1 and the 6.12
//! LTS. Each must answer every socket option in every socket state as its committed table says
//! (`docs/options/<series>.txt`, from `scripts/option-table.sh`), and a table broken on purpose
//! for one kernel must fail for that kernel only; and `tests/option_table.rs` runs inside each, so
//! the library's option rules (written from 6.18's table) are checked against each kernel's.

mod common;
use std::process::Command;

#[test]
fn each_kernel_answers_as_its_committed_option_table_says() {
    let built = common::built();
    let repo = &built.repo;
    // A copy of the tables with one answer of the 6.1 table changed (TCP_MAXSEG, refused there,
    // written as accepted on a fresh MPTCP socket): only the 6.1 guest may notice.
    let tampered = repo.join("target/kernels/tampered-tables");
    std::fs::create_dir_all(&tampered).expect("target/kernels/tampered-tables");
    for entry in std::fs::read_dir(repo.join("docs/options")).expect("docs/options") {
        let path = entry.expect("docs/options entry").path();
        let mut text = std::fs::read_to_string(&path).expect("a table");
        if path.ends_with("6.1.txt") {
            let line = text
                .lines()
                .find(|l| l.starts_with("inet  TCP_MAXSEG"))
                .expect("6.1 has a TCP_MAXSEG row")
                .to_string();
            assert!(line.contains("OPP-"), "6.1 refuses TCP_MAXSEG: {line}");
            text = text.replacen(&line, &line.replacen("OPP-", "...~", 1), 1);
        }
        std::fs::write(tampered.join(path.file_name().expect("name")), text).expect("a copy");
    }
    let script = format!(
        r#"export EXAMPLES='{examples}'
scripts/option-table.sh --check && echo "committed: same" || echo "committed: differs"
OPTION_TABLES='{tampered}' scripts/option-table.sh --check >/dev/null 2>&1 \
    && echo "tampered: same" || echo "tampered: differs""#,
        examples = built.examples.display(),
        tampered = tampered.display(),
    );
    let output = Command::new(repo.join("scripts/kernels.sh"))
        .args(["--timeout", "300", "bash", "-c", &script])
        .current_dir(repo)
        .output()
        .expect("scripts/kernels.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = format!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{report}");
    let sections: Vec<&str> = stdout.split("== kernel ").skip(1).collect();
    assert_eq!(sections.len(), 2, "{report}");
    for section in sections {
        let series = section.split(' ').next().unwrap_or_default();
        assert!(section.contains("committed: same"), "{series}: {report}");
        let tampered = if series == "6.1" { "differs" } else { "same" };
        assert!(
            section.contains(&format!("tampered: {tampered}")),
            "{series}: {report}"
        );
    }
}

/// The newest test program cargo built from `tests/NAME.rs` (target/<profile>/deps/NAME-HASH).
fn test_program(name: &str) -> std::path::PathBuf {
    let deps = common::built().examples.join("../deps");
    let prefix = format!("{name}-");
    std::fs::read_dir(&deps)
        .expect("target/<profile>/deps")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension().is_none()
                && path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&prefix))
        })
        .max_by_key(|path| path.metadata().and_then(|m| m.modified()).ok())
        .unwrap_or_else(|| panic!("no test program {name} in {}", deps.display()))
}

#[test]
fn the_librarys_option_rules_hold_on_each_kernel() {
    // tests/option_table.rs, run inside each guest: every option in every state, with and without
    // the library in each mode, may differ only where docs/limitations.md says for that kernel.
    let built = common::built();
    let program = test_program("option_table");
    let output = Command::new(built.repo.join("scripts/kernels.sh"))
        .args(["--timeout", "300", "env"])
        .arg(format!("MPTCPIZE_TEST_LIBRARY={}", built.library.display()))
        .arg(&program)
        .arg("--test-threads=1")
        .current_dir(&built.repo)
        .output()
        .expect("scripts/kernels.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = format!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{report}");
    assert_eq!(
        stdout.matches("test result: ok. 2 passed").count(),
        2,
        "{report}"
    );
}
