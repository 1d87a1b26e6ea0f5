#!/bin/bash
# kolla_keystone_fernet_rotate: the keystone-fernet service command. Creates the key
# repository when it is empty, then rotates the keys every KEYSTONE_FERNET_ROTATE_SECONDS
# (default one day), touching the key repository so healthcheck_filemod can see it working.
set -o errexit -o nounset -o pipefail
interval=${KEYSTONE_FERNET_ROTATE_SECONDS:-86400}
keys=/etc/keystone/fernet-keys
manage=(keystone-manage ${EXTRA_KEYSTONE_MANAGE_ARGS:-})

if [[ ! -e "$keys/0" ]]; then
    "${manage[@]}" fernet_setup --keystone-user keystone --keystone-group keystone
fi
trap 'exit 0' TERM INT
while true; do
    sleep "$interval" &
    wait $!
    "${manage[@]}" fernet_rotate --keystone-user keystone --keystone-group keystone
    touch "$keys"
    echo "fernet keys rotated at $(date --utc +%FT%TZ)"
done
