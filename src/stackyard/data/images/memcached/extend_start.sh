# Sourced by kolla_start as user memcached. With MEMCACHED_SASL_USER and
# MEMCACHED_SASL_PASSWORD set, writes the SASL user database memcached reads (run it with -S):
# a client that does not authenticate as that user is refused. The database is made anew at
# every start, so changing the password takes effect with the next container.
if [[ -n "${MEMCACHED_SASL_USER:-}" ]]; then
    : "${MEMCACHED_SASL_PASSWORD:?MEMCACHED_SASL_USER needs MEMCACHED_SASL_PASSWORD}"
    sasl_dir=/var/lib/kolla/run/sasl
    install -d -m 0700 "$sasl_dir"
    rm -f "$sasl_dir/sasldb2"
    printf 'mech_list: plain\nsasldb_path: %s\n' "$sasl_dir/sasldb2" > "$sasl_dir/memcached.conf"
    printf '%s' "$MEMCACHED_SASL_PASSWORD" \
        | saslpasswd2 -p -c -a memcached -f "$sasl_dir/sasldb2" "$MEMCACHED_SASL_USER"
    export SASL_CONF_PATH=$sasl_dir
    unset MEMCACHED_SASL_PASSWORD
fi
