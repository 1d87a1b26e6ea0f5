#!/bin/bash
# kolla_ovs_vswitchd_start ARGS...: ovs-vswitchd with ARGS, and, when OVS_EXTERNAL_BRIDGE is
# set, that bridge's own port brought up with OVS_EXTERNAL_BRIDGE_ADDRESS: the host's address on
# the provider network, so the host reaches floating IPs. The switch makes the port anew each
# time it starts, so the address is given here, at every start, not once.
set -o errexit -o nounset -o pipefail
ovs-vswitchd "$@" &
switch=$!
trap 'kill -TERM "$switch" 2> /dev/null; wait "$switch"' TERM INT
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
