//! A real systemd for the tests: a Debian root file system built once with debootstrap, booted
//! with `systemd-nspawn` as PID 1 of a container, driven with `nsenter … systemctl`, and always
//! torn down.
//!
//! The host's PID 1 need not be systemd, so the container runs with `--register=no --keep-unit`
//! (no host bus to register with) and `--private-network` (its own network namespace, loopback
//! only). Each container boots from a fresh overlay over the shared rootfs, mounted in a private
//! mount namespace of its own (the mount disappears with nspawn, whatever happens), and runs in a
//! cgroup of its own, so teardown can kill everything left and remove the cgroups deepest first.
//! Teardown is `Drop`: it runs when a test's assertion panics too. Every wait is bounded; on a
//! timeout nspawn is killed by its PID. Containers run one at a time (a process-wide lock):
//! the machine has few cores, and a boot takes well under a second.

#![allow(dead_code)] // each test file uses its own subset

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Debian's stable release when this was written: systemd 252.
pub const BOOKWORM: &str = "bookworm";
/// The next release: systemd 257, the first with `SocketProtocol=mptcp`.
pub const TRIXIE: &str = "trixie";

/// What debootstrap puts in the rootfs besides the minimal base: a booting systemd, its bus, and
/// python3 for the test service (tests/helpers/unitserver.py).
const INCLUDED_PACKAGES: &str = "systemd,systemd-sysv,dbus,python3";
/// A file in a finished rootfs holding INCLUDED_PACKAGES.
const ROOTFS_STAMP: &str = "mptcpize-rs-test-rootfs";
/// Longest a rootfs build may take (about 50 s on a good network).
const DEBOOTSTRAP_TIMEOUT: &str = "900";
/// Longest from nspawn's start to `systemctl is-system-running` saying the boot is over.
const BOOT_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest a script run inside the container may take.
const SCRIPT_TIMEOUT: &str = "120";
/// Longest an orderly power-off may take before nspawn is killed.
const POWEROFF_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest to wait for the killed container's processes to be gone.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);
/// The PATH of scripts run inside the container.
const CONTAINER_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One container at a time, across the test binary's threads.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
/// Numbers the containers of this process (their names and scratch directories).
static NEXT_CONTAINER: AtomicUsize = AtomicUsize::new(0);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What a command run inside the container did.
pub use super::common::Run;

/// Runs a host command to completion; panics, showing its output, when it fails.
fn host(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("running {command:?}: {error}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{command:?} failed ({})\n{stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The Debian mirror apt uses on this host (`/etc/apt/sources.list*`), for debootstrap: the
/// first `deb` source of a plain release suite (not -security or -updates).
pub fn apt_mirror() -> String {
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(entries) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        more.sort();
        files.extend(more);
    }
    let is_release =
        |suite: &str| !suite.is_empty() && suite.chars().all(|c| c.is_ascii_lowercase());
    for file in files {
        let Ok(text) = fs::read_to_string(&file) else {
            continue;
        };
        // One-line format: deb [options] URI SUITE COMPONENT...
        for line in text.lines() {
            // Options in brackets may hold spaces: drop them whole.
            let line = match (line.find('['), line.find(']')) {
                (Some(open), Some(close)) if open < close => {
                    format!("{} {}", &line[..open], &line[close + 1..])
                }
                _ => line.to_string(),
            };
            let words: Vec<&str> = line.split_whitespace().collect();
            if let ["deb", uri, suite, ..] = words[..] {
                if is_release(suite) && uri.contains("debian") {
                    return uri.to_string();
                }
            }
        }
        // deb822 format: stanzas of "Field: value" lines separated by blank lines.
        for stanza in text.split("\n\n") {
            let field = |name: &str| {
                stanza
                    .lines()
                    .find_map(|line| line.strip_prefix(name))
                    .map(str::trim)
                    .unwrap_or("")
            };
            let uri = field("URIs:").split_whitespace().next().unwrap_or("");
            if field("Types:").split_whitespace().any(|t| t == "deb")
                && field("Suites:").split_whitespace().any(is_release)
                && uri.contains("debian")
            {
                return uri.to_string();
            }
        }
    }
    panic!("no Debian mirror found in /etc/apt/sources.list*: debootstrap needs one")
}

/// Whether process `pid` still exists.
fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes a directory tree without ever crossing into another file system: a debootstrap
/// killed mid-way leaves /proc, /sys or a bind of /dev mounted inside its target, and those
/// must not be emptied with it. Best effort: false when something is left.
fn remove_tree(path: &Path) -> bool {
    if !path.exists() {
        return true;
    }
    let _ = Command::new("rm")
        .args(["-rf", "--one-file-system", "--"])
        .arg(path)
        .status();
    !path.exists()
}

/// The PID in a scratch name `<prefix><pid>-…`, if it has one.
fn owner_pid(name: &str, prefix: &str) -> Option<u32> {
    name.strip_prefix(prefix)?.split('-').next()?.parse().ok()
}

/// The rootfs of Debian `suite` under `target/systemd-rootfs/`, built on first use and reused
/// afterwards. It is built beside its final name and renamed into place, so an interrupted
/// build never leaves a half rootfs where a later run would take it for a whole one.
pub fn rootfs(suite: &str) -> PathBuf {
    let parent = repo().join("target/systemd-rootfs");
    let done = parent.join(suite);
    // The stamp names what the rootfs was built with: a change of INCLUDED_PACKAGES rebuilds it.
    let stamp = Path::new(ROOTFS_STAMP);
    if fs::read_to_string(done.join(stamp)).is_ok_and(|built| built == INCLUDED_PACKAGES) {
        return done;
    }
    assert!(
        remove_tree(&done),
        "cannot remove {}, built with other packages",
        done.display()
    );
    fs::create_dir_all(&parent).expect("creating target/systemd-rootfs");
    // Builds a killed test run left behind.
    let stale_prefix = format!("{suite}.partial-");
    for entry in fs::read_dir(&parent).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if owner_pid(&name, &stale_prefix).is_some_and(|pid| !alive(pid)) {
            remove_tree(&entry.path());
        }
    }
    let partial = parent.join(format!("{stale_prefix}{}", std::process::id()));
    let log = parent.join(format!("{suite}.debootstrap.log"));
    let mirror = apt_mirror();
    eprintln!(
        "building the {suite} rootfs for the systemd tests (debootstrap from {mirror}, once)"
    );
    let started = Instant::now();
    let log_file = fs::File::create(&log).expect("creating the debootstrap log");
    let status = Command::new("timeout")
        .args([
            "-k",
            "10",
            DEBOOTSTRAP_TIMEOUT,
            "debootstrap",
            "--variant=minbase",
        ])
        .arg(format!("--include={INCLUDED_PACKAGES}"))
        .arg(suite)
        .arg(&partial)
        .arg(&mirror)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("debootstrap log"))
        .stderr(log_file)
        .status()
        .expect("running debootstrap (Debian package debootstrap, scripts/test-deps.sh)");
    if !status.success() {
        remove_tree(&partial);
        let tail = fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = tail.lines().rev().take(20).collect();
        panic!(
            "debootstrap {suite} failed ({status}); the end of {}:\n{}",
            log.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    fs::write(partial.join(stamp), INCLUDED_PACKAGES).expect("writing the rootfs stamp");
    fs::rename(&partial, &done).expect("moving the finished rootfs into place");
    eprintln!("built {} in {:.0?}", done.display(), started.elapsed());
    done
}

/// The cgroup hierarchies a container's processes are tracked in: the unified (v2) one, and on
/// a hybrid host also systemd's named v1 one, where a booted systemd makes its own tree.
fn cgroup_hierarchies() -> Vec<PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    if root.join("cgroup.controllers").is_file() {
        return vec![root.to_path_buf()];
    }
    [root.join("unified"), root.join("systemd")]
        .into_iter()
        .filter(|path| path.join("cgroup.procs").is_file())
        .collect()
}

/// Every directory under `top`, deepest first (the order cgroups can be removed in).
fn deepest_first(top: &Path) -> Vec<PathBuf> {
    let mut found = vec![];
    let mut pending = vec![top.to_path_buf()];
    while let Some(dir) = pending.pop() {
        if let Ok(entries) = fs::read_dir(&dir) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    pending.push(entry.path());
                }
            }
        }
        found.push(dir);
    }
    found.sort_by_key(|dir| std::cmp::Reverse(dir.components().count()));
    found
}

/// Kills every process in cgroup `top` and below, and removes the cgroups, deepest first. Best
/// effort and bounded: returns what could not be removed.
fn remove_cgroup_tree(top: &Path) -> Vec<PathBuf> {
    if !top.exists() {
        return vec![];
    }
    let deadline = Instant::now() + KILL_TIMEOUT;
    loop {
        // cgroup.kill (v2, Linux 5.14) kills the whole subtree at once; elsewhere, each task.
        if top.join("cgroup.kill").exists() {
            let _ = fs::write(top.join("cgroup.kill"), "1");
        } else {
            for dir in deepest_first(top) {
                for pid in fs::read_to_string(dir.join("cgroup.procs"))
                    .unwrap_or_default()
                    .lines()
                {
                    let _ = Command::new("kill").args(["-KILL", pid]).status();
                }
            }
        }
        let left: Vec<PathBuf> = deepest_first(top)
            .into_iter()
            .filter(|dir| fs::remove_dir(dir).is_err())
            .collect();
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        sleep(Duration::from_millis(50));
    }
}

/// Scratch directories and cgroups of containers whose test process was killed (so its `Drop`
/// never ran): removed before a new container starts.
fn sweep_leftovers(scratch_parent: &Path) {
    let prefix = "mptcpize-test-";
    let mut names = vec![];
    for entry in fs::read_dir(scratch_parent).into_iter().flatten().flatten() {
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    for hierarchy in cgroup_hierarchies() {
        for entry in fs::read_dir(&hierarchy).into_iter().flatten().flatten() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    names.dedup();
    for name in names {
        if owner_pid(&name, prefix).is_none_or(alive) {
            continue;
        }
        for hierarchy in cgroup_hierarchies() {
            remove_cgroup_tree(&hierarchy.join(&name));
        }
        remove_tree(&scratch_parent.join(&name));
    }
}

/// A host directory made visible inside the container.
struct Bind {
    host: PathBuf,
    inside: String,
    writable: bool,
}

/// A container: prepared with [`Container::new`] and the `bind` methods, started with
/// [`Container::boot`], driven with [`Container::run`], torn down when dropped.
pub struct Container {
    name: String,
    suite: String,
    rootfs: PathBuf,
    /// Overlay upper and work directories, the mount point, the result directory, the console
    /// log: all under `target/systemd-run/<name>/`, removed at teardown.
    scratch: PathBuf,
    binds: Vec<Bind>,
    cgroups: Vec<PathBuf>,
    nspawn: Option<Child>,
    /// The container's PID 1 (systemd), as the host sees it.
    leader: Option<u32>,
    _one_at_a_time: MutexGuard<'static, ()>,
}

impl Container {
    /// A container of Debian `suite` (its rootfs built if needed), not yet booted. Its result
    /// directory, [`Container::out`], is bound read-write at `/srv/out`.
    pub fn new(suite: &str) -> Container {
        let guard = ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let rootfs = rootfs(suite);
        let scratch_parent = repo().join("target/systemd-run");
        fs::create_dir_all(&scratch_parent).expect("creating target/systemd-run");
        sweep_leftovers(&scratch_parent);
        let name = format!(
            "mptcpize-test-{}-{}",
            std::process::id(),
            NEXT_CONTAINER.fetch_add(1, Ordering::Relaxed)
        );
        let scratch = scratch_parent.join(&name);
        let mut container = Container {
            name,
            suite: suite.to_string(),
            rootfs,
            scratch,
            binds: vec![],
            cgroups: vec![],
            nspawn: None,
            leader: None,
            _one_at_a_time: guard,
        };
        for dir in ["upper", "work", "merged", "out"] {
            fs::create_dir_all(container.scratch.join(dir)).expect("creating scratch directories");
        }
        let out = container.out();
        container.binds.push(Bind {
            host: out,
            inside: "/srv/out".into(),
            writable: true,
        });
        container
    }

    /// The host side of `/srv/out`, where units leave their results.
    pub fn out(&self) -> PathBuf {
        self.scratch.join("out")
    }

    /// A scratch directory of this container's own on the host (removed at teardown), e.g. to
    /// stage files to bind.
    pub fn scratch_dir(&self, name: &str) -> PathBuf {
        let dir = self.scratch.join("host").join(name);
        fs::create_dir_all(&dir).expect("creating a scratch directory");
        dir
    }

    /// Makes host path `host` visible, read-only, at `inside`.
    pub fn bind_ro(&mut self, host: &Path, inside: &str) -> &mut Self {
        assert!(host.exists(), "{} missing", host.display());
        self.binds.push(Bind {
            host: host.to_path_buf(),
            inside: inside.into(),
            writable: false,
        });
        self
    }

    /// Boots the container and waits (bounded) until systemd says the boot is over.
    pub fn boot(&mut self) -> &mut Self {
        assert!(self.nspawn.is_none(), "booted twice");
        let overlay = format!(
            "lowerdir={},upperdir={},workdir={}",
            self.rootfs.display(),
            self.scratch.join("upper").display(),
            self.scratch.join("work").display()
        );
        assert!(
            !overlay.contains([' ', ':']) && overlay.matches(',').count() == 2,
            "overlay paths must not contain spaces, colons or commas: {overlay}"
        );
        self.cgroups = cgroup_hierarchies()
            .into_iter()
            .map(|hierarchy| hierarchy.join(&self.name))
            .collect();
        assert!(
            !self.cgroups.is_empty(),
            "no cgroup hierarchy under /sys/fs/cgroup"
        );
        for cgroup in &self.cgroups {
            fs::create_dir(cgroup)
                .unwrap_or_else(|error| panic!("creating cgroup {}: {error}", cgroup.display()));
        }
        let mut nspawn = vec![
            "systemd-nspawn".to_string(),
            "--quiet".into(),
            "--boot".into(),
            "--register=no".into(),
            "--keep-unit".into(),
            "--private-network".into(),
            "--link-journal=no".into(),
            "--console=read-only".into(),
            format!("--machine={}", self.name),
            format!("--directory={}", self.scratch.join("merged").display()),
        ];
        for bind in &self.binds {
            let option = if bind.writable { "--bind" } else { "--bind-ro" };
            nspawn.push(format!("{option}={}:{}", bind.host.display(), bind.inside));
        }
        // The shell moves itself into the container's cgroups, then becomes (exec, same PID)
        // unshare, which mounts the overlay in a private mount namespace and becomes nspawn.
        let launcher = r#"for cgroup in $CGROUPS; do echo $$ >"$cgroup/cgroup.procs"; done
exec unshare --mount --propagation private sh -ec 'mount -t overlay overlay -o "$OVERLAY" "$MERGED"; exec "$@"' sh "$@""#;
        let cgroups: Vec<String> = self
            .cgroups
            .iter()
            .map(|c| c.display().to_string())
            .collect();
        let console = fs::File::create(self.scratch.join("console.log")).expect("console log");
        let child = Command::new("sh")
            .arg("-ec")
            .arg(launcher)
            .arg("sh")
            .args(&nspawn)
            .env("CGROUPS", cgroups.join(" "))
            .env("OVERLAY", &overlay)
            .env("MERGED", self.scratch.join("merged"))
            .stdin(Stdio::null())
            .stdout(console.try_clone().expect("console log"))
            .stderr(console)
            .spawn()
            .expect("starting systemd-nspawn (Debian package systemd-container)");
        let nspawn_pid = child.id();
        self.nspawn = Some(child);
        let deadline = Instant::now() + BOOT_TIMEOUT;
        // nspawn's child is the container's PID 1.
        let leader = loop {
            let children =
                fs::read_to_string(format!("/proc/{nspawn_pid}/task/{nspawn_pid}/children"))
                    .unwrap_or_default();
            let init = children
                .split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok())
                .find(|pid| {
                    fs::read_to_string(format!("/proc/{pid}/comm"))
                        .is_ok_and(|comm| comm.trim() == "systemd")
                });
            if let Some(pid) = init {
                break pid;
            }
            self.assert_nspawn_running("starting");
            assert!(
                Instant::now() < deadline,
                "no container init after {BOOT_TIMEOUT:?}\n{}",
                self.console()
            );
            sleep(Duration::from_millis(20));
        };
        self.leader = Some(leader);
        loop {
            let state = self.run("systemctl is-system-running || true").stdout;
            match state.trim() {
                "running" | "degraded" => break,
                _ => {}
            }
            self.assert_nspawn_running("booting");
            assert!(
                Instant::now() < deadline,
                "{} not booted after {BOOT_TIMEOUT:?} (state {state:?})\n{}",
                self.suite,
                self.console()
            );
            sleep(Duration::from_millis(50));
        }
        self
    }

    fn assert_nspawn_running(&mut self, doing: &str) {
        let exited = self
            .nspawn
            .as_mut()
            .and_then(|child| child.try_wait().ok().flatten());
        assert!(
            exited.is_none(),
            "systemd-nspawn exited while {doing}: {exited:?}\n{}",
            self.console()
        );
    }

    /// What the container printed on its console (its boot messages).
    pub fn console(&self) -> String {
        let text = fs::read_to_string(self.scratch.join("console.log")).unwrap_or_default();
        format!("--- console of {} ---\n{text}", self.name)
    }

    /// Runs `script` with bash inside the booted container (all its namespaces, through
    /// nsenter), with a clean environment, under a timeout.
    pub fn run(&self, script: &str) -> Run {
        let leader = self.leader.expect("the container is not booted");
        let output = Command::new("timeout")
            .args([
                "-k",
                "5",
                SCRIPT_TIMEOUT,
                "nsenter",
                "-t",
                &leader.to_string(),
                "-a",
            ])
            .args([
                "env",
                "-i",
                &format!("PATH={CONTAINER_PATH}"),
                "LANG=C.UTF-8",
                "bash",
                "-c",
                script,
            ])
            .stdin(Stdio::null())
            .output()
            .expect("running nsenter (util-linux)");
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// The container's PID 1 as the host sees it, e.g. to read `/proc/PID/net/netstat`.
    pub fn leader(&self) -> u32 {
        self.leader.expect("the container is not booted")
    }

    /// Powers off (SIGTERM to nspawn: an orderly shutdown), then kills whatever is left by PID
    /// and through the cgroups; removes the cgroups deepest first and the scratch directory.
    fn tear_down(&mut self) -> Vec<String> {
        let mut problems = vec![];
        if let Some(mut child) = self.nspawn.take() {
            let pid = child.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let deadline = Instant::now() + POWEROFF_TIMEOUT;
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                sleep(Duration::from_millis(20));
            }
            if child.try_wait().ok().flatten().is_none() {
                problems.push(format!(
                    "nspawn {pid} did not power off in {POWEROFF_TIMEOUT:?}: killed"
                ));
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        for cgroup in &self.cgroups {
            for left in remove_cgroup_tree(cgroup) {
                problems.push(format!("cgroup {} could not be removed", left.display()));
            }
        }
        // The overlay was mounted in nspawn's private mount namespace: gone with it. Should a
        // mount still show here, removing the directories under it would fail; say so instead.
        let merged = self.scratch.join("merged");
        let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        if mounts.contains(&merged.display().to_string()) {
            problems.push(format!("{} is still mounted", merged.display()));
        } else if !remove_tree(&self.scratch) {
            problems.push(format!("{} could not be removed", self.scratch.display()));
        }
        problems
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let problems = self.tear_down();
        if !problems.is_empty() {
            // A panic inside a panic aborts the test binary: only report while unwinding.
            if std::thread::panicking() {
                eprintln!("teardown of {}: {}", self.name, problems.join("; "));
            } else {
                panic!("teardown of {}: {}", self.name, problems.join("; "));
            }
        }
    }
}
