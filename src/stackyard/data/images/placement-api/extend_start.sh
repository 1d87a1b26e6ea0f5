# Sourced by kolla_start as user placement. One-shot mode:
#   KOLLA_BOOTSTRAP  bring the database to the image's schema.
if [[ "${!KOLLA_BOOTSTRAP[*]}" ]]; then
    placement-manage db sync
    exit 0
fi
