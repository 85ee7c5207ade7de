//! `enable` and `disable`: our own drop-in, `/etc/systemd/system/UNIT.d/50-mptcpize-rs.conf`,
//! written atomically (a temporary file renamed over it) and removed alone; the vendor unit and
//! every other drop-in are never touched.
//!
//! The unit's own `LD_PRELOAD` and `GODEBUG` are merged into ours (ours appended, its value
//! kept). On the running system systemd is asked (`systemctl show -p Environment`), so the
//! answer is the one it will use; under `--root` (or without a running systemd) the unit's
//! files are read the way systemd reads them (`unit_file`).

use super::args::Options;
use super::elf::{self, Reached};
use super::environment::Variables;
use super::unit_file::{apply_words, environment_of, exec_program, exec_starts, quote_value};
use super::{DROPIN_NAME, Failure, fatal, locate, prog, usage_error, warn};
use crate::mode::Mode;
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where unit files live, highest priority first (as systemd searches them).
const UNIT_DIRS: [&str; 4] = [
    "etc/systemd/system",
    "run/systemd/system",
    "usr/lib/systemd/system",
    "lib/systemd/system",
];
/// Unit types that run no program the library can reach (sockets have their own drop-in).
const NOT_SERVICES: [&str; 9] = [
    ".device",
    ".mount",
    ".automount",
    ".swap",
    ".target",
    ".path",
    ".timer",
    ".slice",
    ".scope",
];

/// Checks a unit name against systemd's rules; `.service` is added when it has no suffix.
pub fn unit_name(unit: &str) -> Result<String, Failure> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || ":_.@\\-".contains(c);
    if unit.is_empty() || !unit.chars().all(allowed) || unit.starts_with(['.', '-']) {
        return Err(Failure::Fatal(
            format!(
                "invalid unit name '{unit}' (letters, digits and :_.@\\- only; no paths, spaces \
                 or shell characters)"
            ),
            2,
        ));
    }
    if unit.len() > 255 {
        return Err(Failure::Fatal(
            "invalid unit name: longer than 255 characters".into(),
            2,
        ));
    }
    let full = if unit.ends_with(".service") || unit.ends_with(".socket") {
        unit.to_string()
    } else {
        format!("{unit}.service")
    };
    // systemd's own rule: a name before the type suffix, and a template's prefix before '@'.
    let stem = full.rsplit_once('.').map_or("", |(stem, _)| stem);
    if stem.is_empty() || stem.starts_with('@') || stem.ends_with('.') {
        return Err(Failure::Fatal(
            format!("invalid unit name '{unit}' (systemd would not load {full})"),
            2,
        ));
    }
    if unit.ends_with(".service") || unit.ends_with(".socket") {
        return Ok(full);
    }
    if NOT_SERVICES.iter().any(|suffix| unit.ends_with(suffix)) {
        return Err(Failure::Fatal(
            format!("{unit} is not a service: only services run programs the library can reach"),
            2,
        ));
    }
    Ok(full)
}

fn root_of(options: &Options) -> PathBuf {
    options.root.clone().unwrap_or_else(|| PathBuf::from("/"))
}

fn on_running_system(options: &Options) -> bool {
    options
        .root
        .as_deref()
        .is_none_or(|root| root == Path::new("/"))
        && Path::new("/run/systemd/system").is_dir()
}

/// `ROOT/etc/systemd/system/UNIT.d`. Under `--root`, a symbolic link on the way (or as the
/// drop-in) would lead out of the tree, as the host's paths it names: refused, never followed.
fn dropin_dir(options: &Options, unit: &str) -> Result<PathBuf, Failure> {
    let root = root_of(options);
    let dir = root.join("etc/systemd/system").join(format!("{unit}.d"));
    if root != Path::new("/") {
        let mut path = root.clone();
        for part in [
            "etc",
            "systemd",
            "system",
            &format!("{unit}.d"),
            DROPIN_NAME,
        ] {
            path.push(part);
            if path
                .symlink_metadata()
                .is_ok_and(|m| m.file_type().is_symlink())
            {
                return Err(fatal(format!(
                    "{} is a symbolic link: not followed under --root {}",
                    path.display(),
                    root.display()
                )));
            }
        }
    }
    Ok(dir)
}

pub fn enable(unit: &str, options: &Options) -> Result<i32, Failure> {
    let unit = unit_name(unit)?;
    if unit.ends_with(".socket") {
        return enable_socket(&unit, options);
    }
    let library = locate::library()?;
    refuse_unreached_programs(&unit, options)?;
    let existing = unit_environment(&unit, options);
    let existing_preload = existing.get("LD_PRELOAD").cloned().unwrap_or_default();
    let existing_godebug = existing.get("GODEBUG").cloned().unwrap_or_default();
    let wanted = Options {
        mode: Some(options.mode.unwrap_or(Mode::On)),
        advisory: options.advisory,
        ..Options::default()
    };
    let inherited = |name: &str| match name {
        "LD_PRELOAD" => Some(existing_preload.clone().into_bytes()),
        "GODEBUG" => Some(existing_godebug.clone().into_bytes()),
        _ => None,
    };
    let variables = Variables::new(&wanted, &inherited, Some(library.as_os_str()));
    let text = |v: &Option<Vec<u8>>| {
        String::from_utf8_lossy(v.as_deref().unwrap_or_default()).into_owned()
    };
    let (preload, mode, godebug) = (
        text(&variables.ld_preload),
        variables.mptcpize.unwrap_or("on"),
        text(&variables.godebug),
    );
    if !existing_preload.is_empty() {
        warn(&format!(
            "{unit} already sets LD_PRELOAD={existing_preload}; the drop-in sets LD_PRELOAD={preload}"
        ));
    }
    if !existing_godebug.is_empty() {
        warn(&format!(
            "{unit} already sets GODEBUG={existing_godebug}; the drop-in sets GODEBUG={godebug}"
        ));
    }
    let dir = dropin_dir(options, &unit)?;
    let contents = format!(
        "# Written by mptcpize-rs enable: runs {unit} with Multipath TCP.\n\
         # Remove it with: mptcpize-rs disable {unit}\n\
         [Service]\n\
         Environment=\"LD_PRELOAD={}\" \"MPTCPIZE={mode}\" \"GODEBUG={}\"\n",
        quote_value(&preload),
        quote_value(&godebug)
    );
    write_atomically(&dir, DROPIN_NAME, contents.as_bytes())
        .map_err(|e| fatal(format!("cannot write {}/{DROPIN_NAME}: {e}", dir.display())))?;
    println!("wrote {}/{DROPIN_NAME} (mode {mode})", dir.display());
    reload_systemd(options);
    println!("restart the unit to apply it: systemctl restart {unit}");
    Ok(0)
}

/// Where systemd looks for an `ExecStart=` program named without a path.
const EXEC_SEARCH_PATH: [&str; 6] = [
    "usr/local/sbin",
    "usr/local/bin",
    "usr/sbin",
    "usr/bin",
    "sbin",
    "bin",
];

/// The drop-in reaches a program through `LD_PRELOAD` and `GODEBUG` only. When the unit's every
/// `ExecStart=` program is out of their reach (static, musl, Go before 1.21…), enable refuses,
/// writes nothing, and names the way that works: the seccomp supervisor, by starting the program
/// through the launcher in a drop-in of the user's own. Changing the unit's command is not ours
/// to do: a vendor's later `ExecStart=` would be hidden behind a copy of the old one. When only
/// some are out of reach, each is named and the drop-in still serves the others.
fn refuse_unreached_programs(unit: &str, options: &Options) -> Result<(), Failure> {
    let mode = options.mode.unwrap_or(Mode::On);
    let root = root_of(options);
    let commands = exec_starts(&unit_files(&root, unit));
    let mut unreached = Vec::new();
    for command in &commands {
        let (prefixes, program) = exec_program(command);
        // A specifier or a missing file: only systemd knows what runs; the drop-in may serve it.
        let Some(path) = exec_path(&root, &program) else {
            continue;
        };
        if let Some(why) = elf::inspect(&path).unreached_by_environment(mode) {
            // Shown as the unit's system sees it (a name without a path, found in the search path).
            let shown = Path::new("/").join(path.strip_prefix(&root).unwrap_or(&path));
            unreached.push((command, prefixes, shown.display().to_string(), why));
        }
    }
    let Some((command, prefixes, program, why)) = unreached.first() else {
        return Ok(());
    };
    if unreached.len() < commands.len() {
        for (_, _, program, why) in &unreached {
            warn(&format!(
                "{unit}: {program} is {why}: the drop-in does not reach it, only the unit's other \
                 commands"
            ));
        }
        return Ok(());
    }
    let way = if !prefixes.contains('@') {
        let launcher = std::env::current_exe()
            .map_or_else(|_| prog().to_string(), |path| path.display().to_string());
        // As written in the unit (its specifiers and quoting mean the same in the user's drop-in).
        let arguments = &command[prefixes.len()..];
        format!(
            "the seccomp supervisor does, when the unit starts it through the launcher: in a \
             drop-in of your own (systemctl edit {unit}):\n[Service]\nExecStart=\n\
             ExecStart={prefixes}{launcher} run -m {} -- {arguments}",
            crate::mode::setting_name(mode, options.advisory)
        )
    } else {
        format!("the seccomp supervisor does, when the unit starts {program} through the launcher")
    };
    Err(fatal(format!(
        "{unit}: {program} is {why}: the drop-in's LD_PRELOAD and GODEBUG do not reach it, so \
         none was written; {way}"
    )))
}

/// The file an `ExecStart=` program names, inside ROOT; None when it names a specifier.
fn exec_path(root: &Path, program: &str) -> Option<PathBuf> {
    if program.contains('%') || program.is_empty() {
        return None;
    }
    if let Some(absolute) = program.strip_prefix('/') {
        return Some(root.join(absolute));
    }
    EXEC_SEARCH_PATH
        .iter()
        .map(|dir| root.join(dir).join(program))
        .find(|path| path.is_file())
}

pub fn disable(unit: &str, options: &Options) -> Result<i32, Failure> {
    let unit = unit_name(unit)?;
    let dir = dropin_dir(options, &unit)?;
    let dropin = dir.join(DROPIN_NAME);
    if !dropin.is_file() {
        println!(
            "{unit}: no mptcpize-rs drop-in ({}): nothing to do",
            dropin.display()
        );
        return Ok(0);
    }
    fs::remove_file(&dropin).map_err(|e| fatal(format!("{}: {e}", dropin.display())))?;
    let _ = fs::remove_dir(&dir); // only when nothing else is in it
    println!("removed {}", dropin.display());
    reload_systemd(options);
    println!("{}", restart_hint(&unit));
    Ok(0)
}

/// The systemd release that added `SocketProtocol=mptcp`.
const SOCKET_PROTOCOL_SINCE: u32 = 257;

/// `enable NAME.socket`: a socket-activated service inherits its listening socket, which the
/// library never touches, so systemd is asked to create it as MPTCP (`[Socket]
/// SocketProtocol=mptcp`). systemd has no fallback: where MPTCP cannot be had
/// (`net.mptcp.enabled=0`) the socket unit fails to start. Refused before systemd 257.
fn enable_socket(unit: &str, options: &Options) -> Result<i32, Failure> {
    if !matches!(
        options.mode.unwrap_or(Mode::On),
        Mode::On | Mode::Listen | Mode::Force
    ) {
        return Err(usage_error(format!(
            "{unit}: a socket unit only listens: -m on or listen (or: {} disable {unit})",
            prog()
        )));
    }
    let service = format!("{}.service", unit.trim_end_matches(".socket"));
    let version = systemd_version();
    if version.is_none_or(|v| v < SOCKET_PROTOCOL_SINCE) {
        let this = version.map_or("of unknown version".to_string(), |v| v.to_string());
        return Err(fatal(format!(
            "{unit}: SocketProtocol=mptcp needs systemd {SOCKET_PROTOCOL_SINCE} or newer, this is \
             systemd {this}; instead, let {service} open its own listener (no socket activation) \
             and run: {} enable {service}",
            prog()
        )));
    }
    let dir = dropin_dir(options, unit)?;
    let contents = format!(
        "# Written by mptcpize-rs enable: {unit} listens with Multipath TCP.\n\
         # Remove it with: mptcpize-rs disable {unit}\n\
         [Socket]\n\
         SocketProtocol=mptcp\n"
    );
    write_atomically(&dir, DROPIN_NAME, contents.as_bytes())
        .map_err(|e| fatal(format!("cannot write {}/{DROPIN_NAME}: {e}", dir.display())))?;
    println!(
        "wrote {}/{DROPIN_NAME} (SocketProtocol=mptcp)",
        dir.display()
    );
    reload_systemd(options);
    println!("{}", restart_hint(unit));
    Ok(0)
}

/// The major version of this host's systemd (`systemctl --version`), when it can be told.
fn systemd_version() -> Option<u32> {
    let output = Command::new("systemctl").arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .next()?
        .strip_prefix("systemd ")?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// How to apply a changed drop-in: a running service keeps the socket it was given.
fn restart_hint(unit: &str) -> String {
    match unit.strip_suffix(".socket") {
        Some(name) => format!(
            "restart the socket to apply it (a running service keeps the old socket): \
             systemctl stop {name}.service && systemctl restart {unit}"
        ),
        None => format!("restart the unit to apply it: systemctl restart {unit}"),
    }
}

/// The variables the unit sets itself (our own drop-in excluded).
fn unit_environment(unit: &str, options: &Options) -> BTreeMap<String, String> {
    if on_running_system(options) {
        if let Some(variables) = environment_from_systemd(unit) {
            return variables;
        }
    }
    environment_of(&unit_files(&root_of(options), unit))
}

/// systemd's own answer, with our drop-in's assignments left out (we are replacing them).
fn environment_from_systemd(unit: &str) -> Option<BTreeMap<String, String>> {
    let output = Command::new("systemctl")
        .args(["show", "-p", "Environment", "-p", "DropInPaths", "--", unit])
        .output()
        .ok()
        .filter(|output| output.status.success())?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut variables = BTreeMap::new();
    let mut ours_loaded = false;
    for line in text.lines() {
        if let Some(value) = line.strip_prefix("Environment=") {
            apply_words(value, &mut variables);
        } else if let Some(paths) = line.strip_prefix("DropInPaths=") {
            ours_loaded = paths.split_whitespace().any(|p| p.ends_with(DROPIN_NAME));
        }
    }
    if ours_loaded {
        // Our previous drop-in is part of systemd's answer: read the files instead, without it.
        return None;
    }
    Some(variables)
}

/// The texts of the unit's file (the highest-priority one) and its drop-ins (sorted by name, a
/// name in a higher-priority directory hiding the same name below), ours left out.
fn unit_files(root: &Path, unit: &str) -> Vec<String> {
    let template = unit.split_once('@').and_then(|(prefix, rest)| {
        rest.rsplit_once('.')
            .map(|(_, suffix)| format!("{prefix}@.{suffix}"))
    });
    let names: Vec<&str> = std::iter::once(unit).chain(template.as_deref()).collect();
    let mut texts = Vec::new();
    'main: for name in &names {
        for dir in UNIT_DIRS {
            if let Ok(text) = fs::read_to_string(root.join(dir).join(name)) {
                texts.push(text);
                break 'main;
            }
        }
    }
    let mut dropins: BTreeMap<String, PathBuf> = BTreeMap::new();
    for name in names.iter().rev() {
        for dir in UNIT_DIRS.iter().rev() {
            let Ok(entries) = fs::read_dir(root.join(dir).join(format!("{name}.d"))) else {
                continue;
            };
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                if file.ends_with(".conf") && file != DROPIN_NAME {
                    dropins.insert(file, entry.path());
                }
            }
        }
    }
    texts.extend(
        dropins
            .values()
            .filter_map(|path| fs::read_to_string(path).ok()),
    );
    texts
}

/// Writes `dir/name` so that readers see the old file or the new one, never a part.
fn write_atomically(dir: &Path, name: &str, contents: &[u8]) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    let temporary = dir.join(format!(".{name}.{}", std::process::id()));
    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&temporary)?;
        // 0644 whatever the umask: systemd and other users read drop-ins.
        file.set_permissions(fs::Permissions::from_mode(0o644))?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&temporary, dir.join(name))
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written
}

/// daemon-reload when systemd runs this host and we act on its own tree; otherwise say so.
fn reload_systemd(options: &Options) {
    if let Some(root) = options.root.as_deref().filter(|r| *r != Path::new("/")) {
        println!(
            "not reloading systemd: --root {} is not the running system",
            root.display()
        );
    } else if Path::new("/run/systemd/system").is_dir() {
        let reloaded = Command::new("systemctl")
            .arg("daemon-reload")
            .status()
            .is_ok_and(|s| s.success());
        if reloaded {
            println!("systemd reloaded");
        } else {
            warn("systemctl daemon-reload failed");
        }
    } else {
        println!("not reloading systemd: it is not running here");
    }
}
