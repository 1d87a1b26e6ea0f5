#!/bin/bash
# kolla_ovs_vswitchd_start ARGS...: ovs-vswitchd with ARGS, and, when OVS_EXTERNAL_BRIDGE is
# set, that bridge's own port brought up with OVS_EXTERNAL_BRIDGE_ADDRESS: the host's address on
# the provider network, so the host reaches floating IPs. The switch makes the port anew each
# time it starts, so the address is given here, at every start, not once.
#
# On the userspace datapath (OVS_DATAPATH=netdev) it also reopens ports whose device was made
# again: that datapath reads a port through a socket bound to the device it opened, and when the
# device is deleted and made again under the same name (a guest's tap each time libvirt starts
# the guest anew, as nova's soft reboot does) the switch keeps reading the dead one and the port
# receives nothing, DHCP requests included (Open vSwitch issue #313; the kernel datapath notices
# by itself). A new OpenFlow port number makes the switch close the port and open it again; its
# database row, and so OVN's binding of it, stays as it is.
set -o errexit -o nounset -o pipefail
ovs-vswitchd "$@" &
switch=$!
trap 'kill -TERM "$switch" 2> /dev/null; wait "$switch"' TERM INT

reopen() {
    # Only ports the switch opens on a device made by someone else: a bridge's own (internal)
    # port is a device the switch makes itself, and reopening it would make it again.
    local name=$1 type numbers next
    type=$(ovs-vsctl --timeout=10 --if-exists get Interface "$name" type) || return 1
    [[ $type == '""' || $type == system ]] || return 0
    numbers=$(ovs-vsctl --timeout=10 --bare --columns=ofport,ofport_request list Interface) \
        || return 1
    # The lowest number no port has or asks for (ports are numbered 1 to 65279).
    next=$(printf '%s\n' $numbers | awk '{used[$1] = 1}
        END {for (n = 1; n < 65280; n++) if (!(n in used)) {print n; exit}}')
    [[ -n $next ]] || return 1
    ovs-vsctl --timeout=10 set Interface "$name" "ofport_request=$next" || return 1
    echo "port $name: its device was made again; reopened as OpenFlow port $next"
}

watch_devices() {
    local line name
    local -A gone=()
    while read -r line; do  # "[Deleted ]INDEX: NAME[@PEER]: <FLAGS> ..."
        name=${line#Deleted }
        name=${name#*: }
        name=${name%%:*}
        name=${name%%@*}
        [[ -n $name ]] || continue
        if [[ $line == Deleted* ]]; then
            gone[$name]=1
        elif [[ -n ${gone[$name]:-} ]]; then
            unset "gone[$name]"
            reopen "$name" || echo "port $name: could not reopen it" >&2
        fi
    done < <(ip -oneline monitor link)
}

if [[ ${OVS_DATAPATH:-} == netdev ]]; then
    while kill -0 "$switch" 2> /dev/null; do
        watch_devices
        sleep 1
    done &
fi
bridge=${OVS_EXTERNAL_BRIDGE:-}
if [[ -n $bridge ]]; then
    for _ in $(seq 150); do
        ip link show "$bridge" > /dev/null 2>&1 && break
        kill -0 "$switch" 2> /dev/null || break
        sleep 0.2
    done
    if [[ -n ${OVS_EXTERNAL_BRIDGE_ADDRESS:-} ]]; then
        ip address replace "$OVS_EXTERNAL_BRIDGE_ADDRESS" dev "$bridge"
    fi
    ip link set "$bridge" up
    echo "bridge $bridge up${OVS_EXTERNAL_BRIDGE_ADDRESS:+ with $OVS_EXTERNAL_BRIDGE_ADDRESS}"
fi
wait "$switch"
