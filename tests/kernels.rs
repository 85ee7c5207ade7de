//! The other kernels users run, under QEMU (`scripts/kernels.sh`): Debian 12's 6.1 and the 6.12
//! LTS. Each must answer every socket option in every socket state as its committed table says
//! (`docs/options/<series>.txt`, from `scripts/option-table.sh`), and a table broken on purpose
//! for one kernel must fail for that kernel only; each must behave as its behaviour table says
//! (`docs/behaviour/<series>.txt`, from `scripts/behaviour-table.sh`); and `tests/option_table.rs` runs inside each, so
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
    && echo "tampered: same" || echo "tampered: differs"
scripts/behaviour-table.sh --check && echo "behaviour: same" || echo "behaviour: differs""#,
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
        // What a program sees over TCP and MPTCP (docs/behaviour/<series>.txt).
        assert!(section.contains("behaviour: same"), "{series}: {report}");
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

/// The core of the suite, run inside each guest: (test file, test names; empty: all of it).
const CORE: &[(&str, &[&str])] = &[
    // curl and nc with and without the library, MPTCP on and off; force mode with MPTCP off.
    ("real_programs", &[]),
    // The switch before connect()/listen() and the answers after, for the options only the
    // running kernel refuses; force mode. (The options every kernel refuses take about three
    // minutes per guest under emulation: they run on this machine's kernel.)
    (
        "socket_options",
        &[
            "options_only_this_kernel_refuses_switch_before_and_answer_after",
            "force_mode_returns_the_kernels_error",
        ],
    ),
    // Options set on accepted and connected sockets behave as without the library.
    ("established", &[]),
    // Every refusal falls back; MPTCP turned back on is picked up.
    ("fallback_memory", &[]),
    // A two-path transfer over veth pairs, read by `status`.
    (
        "status",
        &["status_names_both_paths_a_fallback_and_plain_tcp"],
    ),
    // The seccomp supervisor with static, musl and raw-syscall programs.
    (
        "seccomp",
        &["static_musl_and_raw_syscall_programs_get_mptcp_and_fall_back_to_tcp"],
    ),
    // `check`, with MPTCP on and off.
    (
        "launcher",
        &["check_probes_mptcp_itself_even_with_a_log_file_exported"],
    ),
];

#[test]
fn the_core_of_the_suite_passes_on_each_kernel() {
    let built = common::built();
    let mut script = String::from("status=0\n");
    for (file, names) in CORE {
        let program = test_program(file);
        let filter = if names.is_empty() {
            String::new()
        } else {
            format!("--exact {}", names.join(" "))
        };
        script += &format!(
            "echo \"== test file {file}\"\n\
             '{program}' --test-threads=1 --nocapture {filter} 2>&1 || status=1\n",
            program = program.display(),
        );
    }
    script += "exit $status\n";
    let output = Command::new(built.repo.join("scripts/kernels.sh"))
        .args(["--timeout", "900", "env"])
        .arg(format!("MPTCPIZE_TEST_LIBRARY={}", built.library.display()))
        .args(["bash", "-c", &script])
        .current_dir(&built.repo)
        .output()
        .expect("scripts/kernels.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = format!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{report}");
    let sections: Vec<&str> = stdout.split("== kernel ").skip(1).collect();
    assert_eq!(sections.len(), 2, "{report}");
    for section in sections {
        let series = section.split(' ').next().unwrap_or_default();
        for (file, names) in CORE {
            let part = section
                .split("== test file ")
                .find(|part| part.starts_with(&format!("{file}\n")))
                .unwrap_or_else(|| panic!("{series}: {file} did not run\n{report}"));
            // Every test named ran (a misspelt name would only be filtered out).
            let passed = if names.is_empty() {
                !part.contains(" 0 passed")
            } else {
                part.contains(&format!("test result: ok. {} passed", names.len()))
            };
            assert!(
                part.contains("test result: ok.") && passed,
                "{series}: {file}\n{report}"
            );
        }
        // The options only this kernel refuses were among those checked.
        let only_here = match series {
            "6.1" => {
                "TCP_MAXSEG/4 TCP_MAXSEG/6 TCP_NOTSENT_LOWAT/4 TCP_NOTSENT_LOWAT/6 TCP_FASTOPEN/4 \
                 TCP_FASTOPEN/6 TCP_FASTOPEN_NO_COOKIE/4 TCP_FASTOPEN_NO_COOKIE/6 \
                 IP_LOCAL_PORT_RANGE/4 IP_BIND_ADDRESS_NO_PORT/4"
            }
            _ => "TCP_MAXSEG/4 TCP_MAXSEG/6",
        };
        assert!(
            section.contains(&format!(
                "Linux {series}: options only this kernel refuses, checked: {only_here}\n"
            )),
            "{series}\n{report}"
        );
    }
}
