#!/bin/bash
# kolla_nova_libvirt_start: virtlogd beside libvirtd in one container. libvirtd (as root) does
# not start virtlogd itself, and QEMU's console output goes through it (qemu.conf
# stdio_handler = "logd"), which also caps the console logs' size. libvirtd replaces this
# script, so it is the container's main process; no --listen, so no TCP or TLS socket.
set -o errexit -o nounset -o pipefail
# /dev/kvm (present where guests are accelerated) keeps the host's owner and mode, often root
# 0600 or a group unknown here: QEMU, run as qemu, reaches it through the image's kvm group.
if [[ -c /dev/kvm ]]; then
    chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
fi
/usr/sbin/virtlogd &
exec /usr/sbin/libvirtd
