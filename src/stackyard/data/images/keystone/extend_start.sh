# Sourced by kolla_start as user keystone. One-shot modes, each exiting when done:
#   KOLLA_BOOTSTRAP       bring an empty or older database to the current schema;
#   KOLLA_UPGRADE         expand the schema (and run data migrations) before replicas roll;
#   KOLLA_FINISH_UPGRADE  contract the schema once every replica runs the new release.
# Otherwise the API starts under uWSGI with this image's ini unless config.json says otherwise.

if [[ "${!KOLLA_BOOTSTRAP[*]}" ]]; then
    keystone-manage ${EXTRA_KEYSTONE_MANAGE_ARGS:-} db_sync
    exit 0
fi

if [[ "${!KOLLA_UPGRADE[*]}" ]]; then
    keystone-manage ${EXTRA_KEYSTONE_MANAGE_ARGS:-} db_sync --expand
    keystone-manage ${EXTRA_KEYSTONE_MANAGE_ARGS:-} db_sync --migrate
    exit 0
fi

if [[ "${!KOLLA_FINISH_UPGRADE[*]}" ]]; then
    keystone-manage ${EXTRA_KEYSTONE_MANAGE_ARGS:-} db_sync --contract
    exit 0
fi
