#!/bin/busybox sh
# shellcheck shell=dash
# scripts/kernels-init.sh: the /init of the guests scripts/kernels.sh boots (busybox sh).
# Loads the modules, mounts the host's / read-only and the project read-write at its own path,
# runs the command scripts/kernels.sh wrote into the run directory, writes its output and exit
# status there, and powers off; a watchdog powers off when the timeout passes.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t devtmpfs dev /dev
while read -r module; do insmod "/modules/$module.ko"; done </modules/order
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^$1=//p"; }
project=$(arg mptcpize_project)
run=$(arg mptcpize_run)
limit=$(arg mptcpize_timeout)
(sleep "${limit:-600}" && echo "kernels-init: timeout after ${limit}s" >/dev/console && poweroff -f) &
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 host /newroot
mount -t proc proc /newroot/proc
mount -t sysfs sys /newroot/sys
mount -t devtmpfs dev /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
ln -sf /proc/self/fd /newroot/dev/fd
ln -sf /proc/self/fd/0 /newroot/dev/stdin
ln -sf /proc/self/fd/1 /newroot/dev/stdout
ln -sf /proc/self/fd/2 /newroot/dev/stderr
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs shm /newroot/dev/shm
mount -t tmpfs tmp /newroot/tmp
mount -t tmpfs run /newroot/run
mkdir -p "/newroot$project"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 project "/newroot$project"
ip link set lo up
# shellcheck disable=SC2016 # expanded by the chrooted bash, from its arguments
chroot /newroot /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	HOME=/root TERM=dumb /bin/bash -c 'cd "$1" && bash "$2/command" </dev/null' \
	kernels "$project" "$run" >"/newroot$project/$run/output" 2>&1
echo "$?" >"/newroot$project/$run/status"
sync
poweroff -f
