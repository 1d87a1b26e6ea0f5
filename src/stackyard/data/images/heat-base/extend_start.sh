# Sourced by kolla_start as user heat. One-shot mode:
#   KOLLA_BOOTSTRAP  bring the database to the image's schema.
if [[ "${!KOLLA_BOOTSTRAP[*]}" ]]; then
    heat-manage db_sync
    exit 0
fi
