#!/bin/bash
# kolla_copy_cacerts: trust the CA certificates the deployment mounts at
# /var/lib/kolla/share/ca-certificates, or forget them again when none are mounted.
set -o errexit -o nounset -o pipefail
src=/var/lib/kolla/share/ca-certificates
dst=/usr/local/share/ca-certificates/kolla
if [[ -d "$src" ]] && compgen -G "$src/*.crt" > /dev/null; then
    install -d -m 0755 "$dst"
    rm -f "$dst"/*.crt
    cp "$src"/*.crt "$dst"/
    update-ca-certificates > /dev/null
elif [[ -d "$dst" ]]; then
    rm -rf "$dst"
    update-ca-certificates --fresh > /dev/null
fi
