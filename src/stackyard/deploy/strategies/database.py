"""The `databases:` strategy (pure): each database a service declares becomes a one-shot job,
`<database>_database`, that creates it and its user on the deployment's database server.

Jobs are ordinary container definitions, rendered and run like any other; this module only
says what they are.
"""

from __future__ import annotations

from typing import Any

from stackyard.services.model import ContainerDef, ServiceDef

TOOLBOX_IMAGE = "toolbox"

# Create the database and its user, or update the user's password, on the internal server
# (through its socket: its root may log in from nowhere else) or an external one; retried
# while the server comes up.
DATABASE_SCRIPT = """\
set -o errexit -o nounset -o pipefail
password=${DB_PASSWORD//\\'/\\'\\'}
if [[ -n ${DB_SOCKET:-} ]]; then
    server=(--socket="$DB_SOCKET") where=$DB_SOCKET
else
    server=(--host="$DB_HOST" --port="$DB_PORT") where=$DB_HOST:$DB_PORT
fi
for attempt in $(seq 30); do
    if answer=$(mariadb "${server[@]}" --user="$DB_ADMIN_USER" \\
            --connect-timeout=5 --execute 'SELECT 1' 2>&1); then
        break
    fi
    case $answer in
        *"ERROR 2002"* | *"ERROR 2003"* | *"ERROR 2005"* | *"ERROR 2013"*)
            echo "database server $where not reachable yet (attempt $attempt)" >&2
            sleep 2 ;;
        *)
            echo "$answer" >&2
            echo "cannot log in to $where as $DB_ADMIN_USER: check database_user" \\
                "and database_password in passwords.yml" >&2
            exit 1 ;;
    esac
done
mariadb "${server[@]}" --user="$DB_ADMIN_USER" <<SQL
CREATE DATABASE IF NOT EXISTS \\`$DB_NAME\\`;
CREATE USER IF NOT EXISTS '$DB_USER'@'%' IDENTIFIED BY '$password';
ALTER USER '$DB_USER'@'%' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON \\`$DB_NAME\\`.* TO '$DB_USER'@'%';
SQL
echo "database $DB_NAME and user $DB_USER ready on $where"
"""


def jobs(definition: ServiceDef, context: dict[str, Any]) -> list[ContainerDef]:
    """One job per database, in declaration order."""
    # mariadb declares the volume that holds its socket; an external server has none.
    socket = context.get("database_socket_volume")
    return [
        ContainerDef(
            name=f"{database.name}_database",
            image=TOOLBOX_IMAGE,
            command=["bash", "-c", "{% raw %}" + DATABASE_SCRIPT + "{% endraw %}"],
            environment={
                "DB_SOCKET": "/run/mysqld/mysqld.sock" if socket else "",
                "DB_HOST": "{{ database_address }}",
                "DB_PORT": "{{ database_port }}",
                "DB_ADMIN_USER": "{{ database_user }}",
                "DB_NAME": database.name,
                "DB_USER": database.user,
            },
            secret_environment={
                "MYSQL_PWD": "{{ database_password }}",
                "DB_PASSWORD": "{{ " + database.password + " }}",
            },
            volumes=[f"{socket}:/run/mysqld"] if socket else [],
            deadline=120.0,
            once=True,
        )
        for database in definition.databases
    ]
