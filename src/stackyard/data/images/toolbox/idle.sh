#!/bin/bash
# kolla_toolbox_idle: keep the toolbox container running for `exec` until it is stopped.
trap 'exit 0' TERM INT
while true; do
    sleep 3600 &
    wait $!
done
