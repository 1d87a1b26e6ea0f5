#!/bin/bash
# kolla_host_firewall RULESET: load an nftables ruleset that owns one table, keep it while the
# container runs, and take the table away when the container is stopped. Loading replaces the
# table as a whole (one transaction), so a restart never leaves the host unprotected.
set -o errexit -o nounset -o pipefail
ruleset=$1
table=$(awk '$1 == "table" { print $2, $3; exit }' "$ruleset")
nft -f "$ruleset"
echo "nftables table $table loaded from $ruleset"
trap 'nft delete table $table 2> /dev/null || true; exit 0' TERM INT
while true; do
    sleep 3600 &
    wait $!
done
