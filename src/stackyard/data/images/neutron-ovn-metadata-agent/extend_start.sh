# Sourced by kolla_start as root. The agent sets sysctls inside the namespaces it makes
# (`ip netns exec ovnmeta-... sysctl -w net.ipv4.conf.all.promote_secondaries=1`), but Docker
# mounts /proc/sys read-only. /proc/sys/net alone is made writable again: its values belong to
# the network namespace of whoever writes them, so every host-wide sysctl stays read-only.
# This needs CAP_SYS_ADMIN, which the agent needs anyway to make namespaces.
if [[ ! -w /proc/sys/net/ipv4/conf/all/promote_secondaries ]]; then
    mount --bind /proc/sys/net /proc/sys/net && mount -o remount,bind,rw /proc/sys/net \
        || echo "WARNING: /proc/sys/net stays read-only (no CAP_SYS_ADMIN?): the agent" \
            "cannot set sysctls in its namespaces" >&2
fi
