# Sourced by kolla_start as user openvswitch, after openvswitch-base's kolla_extend_start.
# The database is made on its volume at first start, with the one Open_vSwitch row that
# ovs-vsctl, ovn-controller and neutron expect, and converted after an Open vSwitch upgrade.
OVS_DB_FILE=${OVS_DB_FILE:-/var/lib/openvswitch/conf.db}
if [[ ! -e $OVS_DB_FILE ]]; then
    ovsdb-ensure-db "$OVS_DB_FILE" /usr/share/openvswitch/vswitch.ovsschema
    ovsdb-tool transact "$OVS_DB_FILE" \
        '["Open_vSwitch",{"op":"insert","table":"Open_vSwitch","row":{}}]' > /dev/null
fi
ovsdb-ensure-db "$OVS_DB_FILE" /usr/share/openvswitch/vswitch.ovsschema
