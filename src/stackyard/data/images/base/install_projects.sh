#!/bin/bash
# kolla_install_projects: development mode. Every project bind-mounted under /dev-mode is
# installed into the image's Python environment before the service starts.
set -o errexit -o nounset -o pipefail
shopt -s nullglob
projects=(/dev-mode/*/)
((${#projects[@]})) || exit 0
if [[ -x /var/lib/kolla/venv/bin/pip ]]; then
    pip=/var/lib/kolla/venv/bin/pip
else
    pip="python3 -m pip --break-system-packages"
fi
for project in "${projects[@]}"; do
    $pip install --no-deps --no-build-isolation "$project"
done
