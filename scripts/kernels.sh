#!/usr/bin/env bash
# scripts/kernels.sh: runs a command inside the other kernels users run, under QEMU.
#
#   scripts/kernels.sh [--kernel SERIES]... [--timeout SECONDS] COMMAND [ARG...]
#
# SERIES is 6.1 (Debian 12's kernel) or 6.12 (the LTS, from bookworm-backports); both when none is
# given. Each kernel image is Debian's own, resolved through linux-image-amd64 (never a fixed build
# number), downloaded with apt-get and prepared once into target/kernels/<package>_<version>/
# (the kernel and the few modules a guest needs; the initramfs of busybox-static, those modules and
# scripts/kernels-init.sh is built beside them, once per version of that script). Each guest
# boots with the host's / shared read-only and this project shared read-write at the same path,
# runs COMMAND there as root (bash, in the project directory) and powers off. The kernels run side
# by side; each one's output is printed with its version, and the exit status is non-zero when
# COMMAND failed, or could not run, in any kernel. No guest outlives its timeout (default 600 s).
# KVM when it really works (/dev/kvm opens and the CPU has vmx or svm), software emulation
# otherwise. Needs qemu-system-x86 and busybox-static (scripts/test-deps.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
PROJECT=$(pwd -P)

usage() {
	sed -n '3,5p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

series=()
timeout_secs=600
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel)
		[ $# -ge 2 ] || usage
		case "$2" in 6.1 | 6.12) series+=("$2") ;; *)
			echo "kernels.sh: unknown kernel series '$2' (6.1 or 6.12)" >&2
			exit 2
			;;
		esac
		shift 2
		;;
	--timeout)
		if [ $# -lt 2 ] || ! [[ "$2" =~ ^[0-9]+$ ]]; then usage; fi
		timeout_secs=$2
		shift 2
		;;
	-h | --help) usage ;;
	--) shift && break ;;
	-*)
		echo "kernels.sh: unknown option '$1'" >&2
		usage
		;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || usage
[ ${#series[@]} -gt 0 ] || series=(6.1 6.12)

fail() {
	echo "kernels.sh: $*" >&2
	exit 1
}
command -v qemu-system-x86_64 >/dev/null ||
	fail "qemu-system-x86_64 is missing: run scripts/test-deps.sh (as root) to install it"
# (grep reads the whole list: with pipefail, -q could end the pipe early and fail busybox)
if ! /bin/busybox --list 2>/dev/null | grep -x cpio >/dev/null; then
	fail "busybox-static is missing: run scripts/test-deps.sh (as root) to install it"
fi

# The package of kernel SERIES: the dependency of the newest linux-image-amd64 of that series.
kernel_package() {
	local version
	version=$(apt-cache madison linux-image-amd64 | awk -F'|' -v s="$1." '
		{ gsub(/ /, "", $2) } index($2, s) == 1 { print $2; exit }')
	[ -n "$version" ] || return 1
	apt-cache show "linux-image-amd64=$version" |
		sed -n 's/^Depends: \(linux-image-[^ ,]*\).*/\1/p' | head -n 1
}

# Modules a guest needs (9p root, virtio, veth, the ss -M diag modules), their dependencies
# first, from the unpacked package ROOT into DIR, in load order into DIR/order.
collect_modules() {
	local root=$1 dir=$2 seen=" "
	add() {
		local name=$1 file dep
		case "$seen" in *" $name "*) return 0 ;; esac
		seen="$seen$name "
		file=$(find "$root/lib/modules" -name "$name.ko*" -o -name "${name//_/-}.ko*" | head -n 1)
		[ -n "$file" ] || return 0 # built in
		case "$file" in
		*.xz) xz -dc "$file" >"$dir/$name.ko" ;;
		*.zst) zstd -qdc "$file" >"$dir/$name.ko" ;;
		*) cp "$file" "$dir/$name.ko" ;;
		esac
		# The module's .modinfo strings say what it needs loaded first.
		for dep in $(tr '\0' '\n' <"$dir/$name.ko" | sed -n 's/^depends=//p' | tr ',' ' '); do
			add "$dep"
		done
		echo "$name" >>"$dir/order"
	}
	: >"$dir/order"
	for module in virtio_pci 9pnet_virtio 9p veth tcp_diag udp_diag inet_diag mptcp_diag; do
		add "$module"
	done
}

# Prepares kernel SERIES once; prints its directory.
prepare() {
	local package version dir work
	package=$(kernel_package "$1") ||
		fail "no linux-image-amd64 of the $1 series in apt's lists (for 6.12: bookworm-backports; run scripts/test-deps.sh)"
	version=$(apt-cache show "$package" | sed -n 's/^Version: //p' | head -n 1)
	dir="target/kernels/${package}_$version"
	if [ -f "$dir/ready" ]; then
		echo "$dir"
		return 0
	fi
	echo "kernels.sh: preparing $package $version" >&2
	rm -rf "$dir"
	mkdir -p "$dir"
	work=$(mktemp -d)
	(cd "$work" && apt-get download -qq -o APT::Sandbox::User=root "$package=$version") ||
		fail "apt-get download $package=$version failed"
	dpkg-deb -x "$work"/*.deb "$work/root"
	cp "$work"/root/boot/vmlinuz-* "$dir/vmlinuz"
	mkdir -p "$dir/modules"
	collect_modules "$work/root" "$dir/modules"
	rm -rf "$work"
	touch "$dir/ready"
	echo "$dir"
}

accel=tcg,thread=multi
if [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -Eqw 'vmx|svm' /proc/cpuinfo; then
	accel=kvm
fi

# The initramfs of kernel directory DIR for this scripts/kernels-init.sh (built when it changed):
# busybox-static, the modules, the init. Prints its path.
initramfs() {
	local dir=$1 hash image work d
	hash=$(sha256sum scripts/kernels-init.sh | cut -c1-12)
	image="$dir/initramfs-$hash.gz"
	if [ ! -f "$image" ]; then
		work=$(mktemp -d)
		for d in bin proc sys dev newroot; do mkdir -p "$work/$d"; done
		cp /bin/busybox "$work/bin/busybox"
		cp -r "$dir/modules" "$work/modules"
		cp scripts/kernels-init.sh "$work/init"
		chmod 755 "$work/init"
		(cd "$work" && find . | /bin/busybox cpio -o -H newc 2>/dev/null) | gzip -1 >"$image.$$.new"
		mv "$image.$$.new" "$image"
		rm -rf "$work"
	fi
	echo "$image"
}

# Boots kernel directory DIR with initramfs IMAGE and the command in RUN (a directory under target/).
boot() {
	local dir=$1 image=$2 run=$3
	timeout -k 10 $((timeout_secs + 60)) qemu-system-x86_64 -M q35 -cpu max -m 1024 -smp 1 \
		-accel "$accel" -nic none -nodefaults -display none -no-reboot \
		-serial "file:$run/console" \
		-kernel "$dir/vmlinuz" -initrd "$image" \
		-append "console=ttyS0 quiet panic=-1 mptcpize_project=$PROJECT mptcpize_run=$run mptcpize_timeout=$timeout_secs" \
		-fsdev "local,id=host,path=/,security_model=none,readonly=on,multidevs=remap" \
		-device virtio-9p-pci,fsdev=host,mount_tag=host \
		-fsdev "local,id=project,path=$PROJECT,security_model=none,multidevs=remap" \
		-device virtio-9p-pci,fsdev=project,mount_tag=project \
		>"$run/qemu.log" 2>&1 || true
}

# Several runs may start at once (the test files run side by side): one prepares, the others wait
# for it and then find the kernels and initramfs ready. The lock is closed before any guest boots.
mkdir -p target/kernels
exec 9>target/kernels/prepare.lock
flock -w 1200 9 || fail "another kernels.sh held target/kernels/prepare.lock for 20 minutes"
dirs=()
images=()
for s in "${series[@]}"; do
	dir=$(prepare "$s") || exit 1
	dirs+=("$dir")
	images+=("$(initramfs "$dir")")
done
exec 9>&-
pids=()
runs=()
for i in "${!series[@]}"; do
	run="target/kernels/run/$$/${series[$i]}" # one per invocation: several may run at once
	mkdir -p "$run"
	printf '%q ' "$@" >"$run/command"
	runs+=("$run")
	boot "${dirs[$i]}" "${images[$i]}" "$run" &
	pids+=($!)
done
status=0
for i in "${!series[@]}"; do
	wait "${pids[$i]}" || true
	run=${runs[$i]}
	echo "== kernel ${series[$i]} ($(basename "${dirs[$i]}")): $*"
	[ -f "$run/output" ] && cat "$run/output"
	if [ ! -f "$run/status" ]; then
		echo "kernels.sh: kernel ${series[$i]}: the command did not finish (console: $run/console)" >&2
		tail -n 20 "$run/console" "$run/qemu.log" >&2 || true
		status=1
	elif [ "$(cat "$run/status")" != 0 ]; then
		echo "kernels.sh: kernel ${series[$i]}: exit status $(cat "$run/status")" >&2
		status=1
	fi
done
# Kept for a look when something failed.
[ "$status" != 0 ] || rm -rf "target/kernels/run/$$"
exit "$status"
