# Sourced by kolla_start as user openvswitch, after openvswitch-base's kolla_extend_start.
# A standalone Southbound database is made on its volume at first start and converted after an
# OVN upgrade. ovn-ctl (Kolla's command, clustered databases) does both itself.
if [[ $CMD != *ovn-ctl* ]]; then
    ovsdb-ensure-db "${OVN_SB_DB_FILE:-/var/lib/openvswitch/ovn-sb/ovnsb.db}" /usr/share/ovn/ovn-sb.ovsschema
fi
