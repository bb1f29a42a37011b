#!/bin/sh
# PID 1 of a lab node, exec'ed from the repo share by the image's baked stub
# (/usr/local/sbin/lab-init) once /proc, /sys, /dev and the share are mounted.
# Editing this file needs no image rebuild: the next boot picks it up.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LANG=C.UTF-8

arg() {
    for word in $(cat /proc/cmdline); do
        case "$word" in "$1="*) echo "${word#*=}" ;; esac
    done
}
say() { echo "lab-init: $*" >/dev/console; }

NAME=$(arg lab.hostname)
ADDR=$(arg lab.ip)

mkdir -p /dev/pts /dev/shm /run /tmp /lab-share /dlm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
for mod in virtio_console virtio_net configfs ocfs2_nodemanager ocfs2_stack_o2cb \
        ocfs2 ocfs2_dlmfs; do
    modprobe "$mod" || say "modprobe $mod failed"
done
mount -t configfs configfs /sys/kernel/config
mount -t debugfs debugfs /sys/kernel/debug
mount -t ocfs2_dlmfs ocfs2_dlmfs /dlm || say "cannot mount ocfs2_dlmfs"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 share /lab-share \
    || say "cannot mount the lab share"

hostname "$NAME"
echo "$NAME" >/etc/hostname
[ -f /lab-share/hosts ] && cp /lab-share/hosts /etc/hosts

ip link set lo up
for dev in /sys/class/net/*; do
    dev=${dev##*/}
    [ "$dev" = lo ] && continue
    ip addr add "$ADDR" dev "$dev" && ip link set "$dev" up && say "$dev $ADDR"
    break
done

say "$NAME: starting the agent"
exec tini -s -- /usr/bin/python3 /opt/cinder-ocfs2/lab/guest/agent.py
