# Sourced by kolla_start as user glance. One-shot mode:
#   KOLLA_BOOTSTRAP  bring the database to the image's schema and load the metadata
#                    definitions (both leave what is already there alone).
if [[ "${!KOLLA_BOOTSTRAP[*]}" ]]; then
    glance-manage db_sync
    glance-manage db_load_metadefs
    exit 0
fi
