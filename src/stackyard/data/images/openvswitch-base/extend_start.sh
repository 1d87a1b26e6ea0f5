# Sourced by kolla_start. Open vSwitch and OVN make their unix sockets mode 0770 less the umask
# and their clients (ovs-vsctl, ovn-controller, the metadata agent) reach them through group
# openvswitch, so the umask keeps the group's write bit. /run/openvswitch keeps its setgid bit
# even when a deployment mounts a fresh folder there (only its owner can set it).
umask 0002
for folder in /run/openvswitch /run/ovn; do
    if [[ -d $folder && -O $folder && ! -g $folder ]]; then
        chmod g+s "$folder"
    fi
done
unset folder
# The image's own steps (database creation, ...).
if [[ -f /usr/local/bin/kolla_ovs_extend_start ]]; then
    # shellcheck source=/dev/null
    . /usr/local/bin/kolla_ovs_extend_start
fi
