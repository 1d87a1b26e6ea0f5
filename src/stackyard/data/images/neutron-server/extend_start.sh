# Sourced by kolla_start as user neutron. One-shot modes, each exiting when done:
#   KOLLA_BOOTSTRAP  bring an empty or older database to the image's schema (every installed
#                    subproject's branches);
#   KOLLA_UPGRADE    with NEUTRON_DB_EXPAND: add what the new release needs while the old
#                    servers run; with NEUTRON_DB_CONTRACT: drop what only they needed, once
#                    every server runs the new release.
# Otherwise the command from config.json runs (see image.yaml).
NEUTRON_DB_CONFIG=(--config-file /etc/neutron/neutron.conf)
if [[ -f /etc/neutron/plugins/ml2/ml2_conf.ini ]]; then
    NEUTRON_DB_CONFIG+=(--config-file /etc/neutron/plugins/ml2/ml2_conf.ini)
fi

if [[ "${!KOLLA_BOOTSTRAP[*]}" ]]; then
    neutron-db-manage "${NEUTRON_DB_CONFIG[@]}" upgrade heads
    exit 0
fi

if [[ "${!KOLLA_UPGRADE[*]}" ]]; then
    if [[ "${!NEUTRON_DB_EXPAND[*]}" ]]; then
        neutron-db-manage "${NEUTRON_DB_CONFIG[@]}" upgrade --expand
    fi
    if [[ "${!NEUTRON_DB_CONTRACT[*]}" ]]; then
        neutron-db-manage "${NEUTRON_DB_CONFIG[@]}" upgrade --contract
    fi
    exit 0
fi
