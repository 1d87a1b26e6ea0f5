#!/bin/bash
# kolla_keystone_fernet_rotate: the keystone-fernet service command. Creates the key
# repository when it is empty, then rotates the keys whenever the repository is
# KEYSTONE_FERNET_ROTATE_SECONDS old (default one day). The clock is the repository's own
# modification time, which every rotation moves: it lives on the key volume, so recreating
# this container (a reconfigure, an upgrade) never postpones a rotation.
set -o errexit -o nounset -o pipefail
interval=${KEYSTONE_FERNET_ROTATE_SECONDS:-86400}
keys=/etc/keystone/fernet-keys
manage=(keystone-manage ${EXTRA_KEYSTONE_MANAGE_ARGS:-})
check=$((interval < 60 ? interval : 60))

if [[ ! -e "$keys/0" ]]; then
    "${manage[@]}" fernet_setup --keystone-user keystone --keystone-group keystone
fi
trap 'exit 0' TERM INT
while true; do
    age=$(($(date +%s) - $(stat --format %Y "$keys")))
    if ((age >= interval)); then
        "${manage[@]}" fernet_rotate --keystone-user keystone --keystone-group keystone
        touch "$keys"
        echo "fernet keys rotated at $(date --utc +%FT%TZ) (the last rotation was ${age} s ago)"
    fi
    sleep "$check" &
    wait $!
done
