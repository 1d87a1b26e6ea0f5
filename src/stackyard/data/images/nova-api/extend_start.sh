# Sourced by kolla_start as user nova. One-shot modes, each exiting when done:
#   KOLLA_BOOTSTRAP      bring the API database and the cell databases to the image's schema
#                        and map cell0 and the first cell (NOVA_CELL_NAME, default cell1) from
#                        nova.conf's [database] connection and transport_url; every step
#                        leaves what is already there alone, so it may run again;
#   KOLLA_UPGRADE        the same schema steps for a new release (before its services start);
#   KOLLA_OSM            online data migrations, once every service runs the new release;
#   KOLLA_UPGRADE_CHECK  nova-status upgrade check (its exit code is the container's).
# Otherwise the compute API or the metadata API starts, as config.json's command says.

if [[ "${!KOLLA_BOOTSTRAP[*]}" ]]; then
    nova-manage api_db sync
    # Exits 0 when cell0 is already mapped.
    nova-manage cell_v2 map_cell0
    cell=${NOVA_CELL_NAME:-cell1}
    # list_cells prints a table: | Name | UUID | Transport URL | Database Connection | Disabled |
    if ! nova-manage cell_v2 list_cells | awk -F'|' -v name="$cell" \
            '{ gsub(/^ +| +$/, "", $2) } $2 == name { found = 1 } END { exit !found }'; then
        nova-manage cell_v2 create_cell --name "$cell"
    fi
    # Without --local_cell this also brings cell0's database to the schema.
    nova-manage db sync
    exit 0
fi

if [[ "${!KOLLA_UPGRADE[*]}" ]]; then
    nova-manage api_db sync
    nova-manage db sync
    exit 0
fi

if [[ "${!KOLLA_OSM[*]}" ]]; then
    nova-manage db online_data_migrations
    exit 0
fi

if [[ "${!KOLLA_UPGRADE_CHECK[*]}" ]]; then
    nova-status upgrade check
    exit $?
fi
