#!/bin/bash
# kolla_start: the entry command of every image (Kolla container contract, section 1).
# Applies config.json, lets the image's extend-start hook run one-shot modes (KOLLA_BOOTSTRAP,
# KOLLA_UPGRADE, ...) or adjust ARGS, then replaces itself with the service command.
#
# Without privilege when the deployment gave the config files to the container's user
# (stackyard does): the container needs no capability, no sudo and runs with
# no-new-privileges. A deployment that mounts root's config (Kolla Ansible) gets the one sudo
# rule instead; sudo keeps only
# KOLLA_CONFIG_STRATEGY from the environment (no SETENV), so it cannot be bent into a root shell.
set -o errexit -o nounset -o pipefail

CONFIG_DIR=/var/lib/kolla/config_files
# Where an unprivileged kolla_set_configs writes the command (root writes Kolla's /run_command).
RUN_DIR=/var/lib/kolla/run

as_root() {
    if ((EUID == 0)); then "$@"; else sudo "$@"; fi
}

if ((EUID != 0)) && [[ -O $CONFIG_DIR/config.json || -O $CONFIG_DIR/config.yaml ]]; then
    kolla_set_configs
    command_file=$RUN_DIR/command
else
    as_root kolla_set_configs
    command_file=/run_command
fi
CMD=$(cat "$command_file")
ARGS=""

# Secrets reach the service as environment read from 0600 files, one per variable, never
# through the container's own environment (which `docker inspect` shows to anyone with access).
if [[ -d $RUN_DIR/environment ]]; then
    for file in "$RUN_DIR"/environment/*; do
        [[ -f $file ]] || continue
        IFS= read -r -d '' value < "$file" || true
        export "${file##*/}=$value"
    done
    unset value
fi

# Only when there is something to do: under no-new-privileges sudo cannot run at all.
if [[ -d /var/lib/kolla/share/ca-certificates || -d /usr/local/share/ca-certificates/kolla ]]; then
    as_root kolla_copy_cacerts
fi
if compgen -G "/dev-mode/*/" > /dev/null; then
    as_root kolla_install_projects
fi

if [[ ! "${!KOLLA_SKIP_EXTEND_START[*]}" ]]; then
    # shellcheck source=/dev/null
    . kolla_extend_start
fi

# A command given as a list (config.json "command": [...]) arrives NUL-separated: each value
# stays one argument, whatever spaces or `*` it holds. A string command is split on white
# space as Kolla does, but never globbed.
if [[ -f $command_file.argv ]]; then
    mapfile -d '' -t argv < "$command_file.argv"
    echo "Running command: ${argv[*]}${ARGS:+ ${ARGS}}"
    set -o noglob
    # shellcheck disable=SC2086
    exec "${argv[@]}" ${ARGS}
fi
echo "Running command: '${CMD}${ARGS:+ ${ARGS}}'"
set -o noglob
# shellcheck disable=SC2086
exec ${CMD} ${ARGS}
