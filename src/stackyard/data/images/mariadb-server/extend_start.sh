# Sourced by kolla_start as user mysql. One-shot modes:
#   KOLLA_BOOTSTRAP  initialise an empty data directory and set the root password from
#                    DB_ROOT_PASSWORD; root may log in only on this server's unix socket
#                    (as OS user root, or with the password), never over the network;
#   KOLLA_UPGRADE    run mariadb-upgrade after a MariaDB version change.
# Each mode runs a private server (no networking), does its work, shuts it down and exits.

DATADIR=/var/lib/mysql

mariadb_private_server() {
    mariadbd --skip-networking --datadir="$DATADIR" --socket=/run/mysqld/bootstrap.sock &
    local waited=0
    until mariadb-admin --socket=/run/mysqld/bootstrap.sock --user=mysql ping --silent 2>/dev/null; do
        sleep 0.2
        waited=$((waited + 1))
        if ((waited > ${DB_MAX_TIMEOUT:-60} * 5)); then
            echo "MariaDB did not start within ${DB_MAX_TIMEOUT:-60} seconds" >&2
            exit 1
        fi
    done
}

mariadb_private_shutdown() {
    mariadb-admin --socket=/run/mysqld/bootstrap.sock --user=mysql shutdown
    wait
}

if [[ "${!KOLLA_BOOTSTRAP[*]}" ]]; then
    : "${DB_ROOT_PASSWORD:?KOLLA_BOOTSTRAP needs DB_ROOT_PASSWORD}"
    if [[ -d "$DATADIR/mysql" ]]; then
        echo "Data directory $DATADIR is already initialised; nothing to bootstrap"
        exit 0
    fi
    mariadb-install-db --user=mysql --datadir="$DATADIR" --skip-test-db \
        --auth-root-authentication-method=socket > /dev/null
    mariadb_private_server
    # Quotes doubled, backslashes literal: any password is taken as it is.
    password=${DB_ROOT_PASSWORD//\'/\'\'}
    mariadb --socket=/run/mysqld/bootstrap.sock --user=mysql <<SQL
SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES';
ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('${password}');
FLUSH PRIVILEGES;
SQL
    mariadb_private_shutdown
    echo "MariaDB data directory initialised"
    exit 0
fi

if [[ "${!KOLLA_UPGRADE[*]}" ]]; then
    mariadb_private_server
    # --check-if-upgrade-is-needed exits 0 when an upgrade IS needed.
    if mariadb-upgrade --socket=/run/mysqld/bootstrap.sock --user=mysql \
            --check-if-upgrade-is-needed > /dev/null; then
        mariadb-upgrade --socket=/run/mysqld/bootstrap.sock --user=mysql
    else
        echo "mariadb-upgrade: nothing to upgrade"
    fi
    mariadb_private_shutdown
    exit 0
fi
