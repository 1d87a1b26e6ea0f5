#!/usr/bin/env bash
# `stackyard init-runonce` runs this in a toolbox container on the deployment network: what a
# new core cloud needs before its first server boots, as kolla-ansible's init-runonce makes it.
# The guest image, flavors m1.tiny .. m1.large, a provider network public1 with its subnet and
# floating range, a router demo-router with a tenant network demo-net behind it, ping and SSH
# in the admin project's default security group, and a key pair mykey. Every step looks first,
# so it may run again. Input: /init/clouds.yaml (the admin), /init/key.pub, and the image as
# /init/image or IMAGE_URL; settings in the environment (kolla-ansible's names, defaults here).
set -euo pipefail
export OS_CLIENT_CONFIG_FILE=/init/clouds.yaml OS_CLOUD=stackyard-admin
# The provider network: flat, on physical network physnet1 (neutron_physical_networks), whose
# bridge holds the gateway address (neutron_bridge_address), so this host reaches floating IPs.
EXT_NET_CIDR=${EXT_NET_CIDR:-198.51.100.0/24}
EXT_NET_GATEWAY=${EXT_NET_GATEWAY:-198.51.100.1}
EXT_NET_RANGE=${EXT_NET_RANGE:-start=198.51.100.100,end=198.51.100.199}
EXT_NET_PHYSNET=${EXT_NET_PHYSNET:-physnet1}
DEMO_NET_CIDR=${DEMO_NET_CIDR:-192.168.100.0/24}
DEMO_NET_GATEWAY=${DEMO_NET_GATEWAY:-192.168.100.1}
IMAGE_NAME=${IMAGE_NAME:-cirros}
IMAGE_FORMAT=${IMAGE_FORMAT:-qcow2}

say() { printf '%s\n' "$*"; }
# `openstack ... show` of a name, quiet: true when it exists.
exists() { openstack "$@" -f value -c id > /dev/null 2>&1; }

if ! exists image show "$IMAGE_NAME"; then
    if [[ -n ${IMAGE_URL:-} ]]; then
        say "downloading $IMAGE_URL"
        curl --fail --silent --show-error --location --output /tmp/image "$IMAGE_URL"
        file=/tmp/image
    else
        file=/init/image
    fi
    say "uploading image $IMAGE_NAME (${IMAGE_FORMAT})"
    openstack image create "$IMAGE_NAME" --disk-format "$IMAGE_FORMAT" \
        --container-format bare --public --property os_type=linux --file "$file" \
        -f value -c id > /dev/null
fi

for flavor in "m1.tiny 1 512 1" "m1.small 1 2048 20" "m1.medium 2 4096 40" "m1.large 4 8192 80"; do
    read -r name vcpus ram disk <<< "$flavor"
    if ! exists flavor show "$name"; then
        say "creating flavor $name ($vcpus vCPU, $ram MiB, $disk GiB)"
        openstack flavor create "$name" --vcpus "$vcpus" --ram "$ram" --disk "$disk" \
            -f value -c id > /dev/null
    fi
done

if ! exists network show public1; then
    say "creating provider network public1 ($EXT_NET_PHYSNET, flat)"
    openstack network create public1 --external --share --provider-network-type flat \
        --provider-physical-network "$EXT_NET_PHYSNET" -f value -c id > /dev/null
fi
if ! exists subnet show public1-subnet; then
    say "creating subnet public1-subnet ($EXT_NET_CIDR)"
    openstack subnet create public1-subnet --network public1 --no-dhcp \
        --subnet-range "$EXT_NET_CIDR" --gateway "$EXT_NET_GATEWAY" \
        --allocation-pool "$EXT_NET_RANGE" -f value -c id > /dev/null
fi
if ! exists network show demo-net; then
    say "creating tenant network demo-net"
    openstack network create demo-net -f value -c id > /dev/null
fi
if ! exists subnet show demo-subnet; then
    say "creating subnet demo-subnet ($DEMO_NET_CIDR)"
    openstack subnet create demo-subnet --network demo-net --subnet-range "$DEMO_NET_CIDR" \
        --gateway "$DEMO_NET_GATEWAY" -f value -c id > /dev/null
fi
if ! exists router show demo-router; then
    say "creating router demo-router (gateway on public1, interface on demo-subnet)"
    openstack router create demo-router -f value -c id > /dev/null
    openstack router add subnet demo-router demo-subnet
    openstack router set demo-router --external-gateway public1
fi

# Ping and SSH into the admin project's servers (its default security group).
project=$(openstack token issue -f value -c project_id)
group=$(openstack security group list --project "$project" -f value -c ID -c Name \
    | awk '$2 == "default" { print $1; exit }')
rules=$(openstack security group rule list "$group" -f value -c "IP Protocol" -c "Port Range" \
    -c Direction)
if ! grep -q "^icmp .*ingress" <<< "$rules"; then
    openstack security group rule create "$group" --ingress --protocol icmp -f value -c id \
        > /dev/null
    say "security group default: ping allowed"
fi
if ! grep -q "^tcp 22:22 ingress" <<< "$rules"; then
    openstack security group rule create "$group" --ingress --protocol tcp --dst-port 22 \
        -f value -c id > /dev/null
    say "security group default: SSH allowed"
fi

if ! exists keypair show mykey; then
    openstack keypair create mykey --public-key /init/key.pub -f value -c name > /dev/null
    say "key pair mykey made from the operator's public key"
fi

say "ready: openstack server create --image $IMAGE_NAME --flavor m1.tiny --key-name mykey --network demo-net --wait demo1"
