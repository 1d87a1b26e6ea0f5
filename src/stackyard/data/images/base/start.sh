#!/bin/bash
# kolla_start: the entry command of every image (Kolla container contract, section 1).
# Applies config.json as root through the sudoers whitelist, lets the image's extend-start
# hook run one-shot modes (KOLLA_BOOTSTRAP, KOLLA_UPGRADE, ...) or adjust ARGS, then replaces
# itself with the service command, running as the image's non-root user.
set -o errexit -o nounset -o pipefail

sudo -E kolla_set_configs
CMD=$(cat /run_command)
ARGS=""

sudo kolla_copy_cacerts
sudo kolla_install_projects

if [[ ! "${!KOLLA_SKIP_EXTEND_START[*]}" ]]; then
    # shellcheck source=/dev/null
    . kolla_extend_start
fi

echo "Running command: '${CMD}${ARGS:+ ${ARGS}}'"
# shellcheck disable=SC2086
exec ${CMD} ${ARGS}
