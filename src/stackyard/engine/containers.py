"""Containers, networks and volumes on the engine (the deploy side of the engine facade).

`create_arguments` turns a ContainerSpec into the engine's create request (pure, unit-tested);
ContainerEngine sends it and the few other calls a deploy needs.
"""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import docker.errors
import docker.types
import requests.exceptions

from stackyard.deploy.model import (
    CONFIG_MOUNT,
    LABEL_CREATED,
    LABEL_MANAGED,
    LABEL_SERVICE,
    ContainerSpec,
    Kind,
)
from stackyard.engine.docker_engine import DockerEngine, engine_lost
from stackyard.engine.port import ContainerRecord
from stackyard.errors import EngineError

NANOSECONDS = 1_000_000_000
MOUNTINFO = "/proc/self/mountinfo"
MANAGED = {LABEL_MANAGED: "true"}
BRIDGE_NAME = "com.docker.network.bridge.name"
# The engine's words when a published port is in use by a process outside it.
_PORT_TAKEN = re.compile(
    r"listen tcp[46]? (\S+): bind: address already in use|Bind for (\S+) failed"
)


def port_taken(container: str, error: str) -> str | None:
    """What to do when the engine could not publish a port because something holds it."""
    taken = _PORT_TAKEN.search(error)
    if taken is None:
        return None
    address, port = (taken.group(1) or taken.group(2)).rsplit(":", 1)
    return (
        f"{container} cannot publish port {port} on {address}: something else listens there"
        f" (`ss -ltnp 'sport = :{port}'` names it). Stop it or move the VIP"
        f" (kolla_internal_vip_address), then run deploy again."
    )


def _mount_points(mountinfo: str) -> dict[str, tuple[list[str], str]]:
    """/proc/self/mountinfo -> mount point -> (optional fields, file system type) of its last
    mount (pure)."""
    found: dict[str, tuple[list[str], str]] = {}
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) > 7 and "-" in fields[6:]:
            point = fields[4].replace("\\040", " ")
            separator = fields.index("-", 6)
            found[point] = (fields[6:separator], fields[separator + 1])
    return found


def is_mount_point(mountinfo: str, path: str) -> bool:
    return path.rstrip("/") in _mount_points(mountinfo)


def is_shared_mount(mountinfo: str, path: str) -> bool:
    """Whether path is a mount point whose mount propagates to peers (pure)."""
    optional, _ = _mount_points(mountinfo).get(path.rstrip("/"), (None, ""))
    return optional is not None and any(f.startswith("shared:") for f in optional)


def is_devpts(mountinfo: str, path: str) -> bool:
    """Whether path is a pseudo-terminal file system (devpts) mount point (pure)."""
    return _mount_points(mountinfo).get(path.rstrip("/"), ([], ""))[1] == "devpts"


def terminal_sources(volumes: tuple[str, ...]) -> list[str]:
    """Host folders mounted at /dev/pts: containers that mount the same one share their
    pseudo-terminals (libvirt's guest consoles, which nova-compute reads) (pure)."""
    return [v.split(":")[0] for v in volumes
            if v.startswith("/") and v.split(":")[1:2] == ["/dev/pts"]]  # fmt: skip


def shared_sources(volumes: tuple[str, ...]) -> list[str]:
    """Host folders bound with shared propagation (`/host:/container:shared`) (pure)."""
    found = []
    for volume in volumes:
        parts = volume.split(":")
        shared = len(parts) == 3 and {"shared", "rshared"} & set(parts[2].split(","))
        if shared and parts[0].startswith("/"):
            found.append(parts[0])
    return found


def _mount(arguments: list[str], what: str) -> None:
    """Run mount(8) with arguments on this host; EngineError saying what failed."""
    command = ["mount", *arguments]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise EngineError(
            f"cannot {what} ({' '.join(command)}: {done.stderr.strip() or done.returncode})"
        )


def create_arguments(api: Any, spec: ContainerSpec, config_dir: str | None) -> dict[str, Any]:
    """Keyword arguments for APIClient.create_container (host config included)."""
    binds = list(spec.volumes)
    if config_dir is not None:
        binds.append(f"{config_dir}:{CONFIG_MOUNT}:ro")
    port_bindings: dict[int, tuple[str, int]] = {}
    for port in spec.ports:
        host_ip, host_port, container_port = port.rsplit(":", 2)
        port_bindings[int(container_port)] = (host_ip, int(host_port))
    host_config = api.create_host_config(
        binds=binds,
        port_bindings=port_bindings or None,
        network_mode=spec.network,
        privileged=spec.privileged,
        # Nothing but what the service declared: not even the engine's default set.
        cap_drop=["ALL"],
        cap_add=list(spec.cap_add) or None,
        devices=[f"{path}:{path}:rwm" for path in spec.devices] or None,
        group_add=list(spec.group_add) or None,
        security_opt=["no-new-privileges"] if spec.no_new_privileges else None,
        sysctls=dict(spec.sysctls) or None,
        tmpfs=list(spec.tmpfs) or None,
        ulimits=[docker.types.Ulimit(name=n, soft=v, hard=v) for n, v in spec.ulimits] or None,
        pids_limit=spec.pids_limit,
        mem_limit=spec.memory_limit,
        log_config=docker.types.LogConfig(type="json-file", config=dict(spec.log_options)),
        restart_policy=({"Name": "no"} if spec.kind is Kind.JOB else {"Name": "unless-stopped"}),
    )
    arguments: dict[str, Any] = {
        "image": spec.image,
        "name": spec.name,
        "user": spec.user,
        "hostname": spec.hostname,
        "environment": dict(spec.environment),
        "labels": spec.labels(),
        "ports": list(port_bindings) or None,
        "host_config": host_config,
        "detach": True,
    }
    if spec.argv:
        arguments["command"] = list(spec.argv)
    if spec.healthcheck is not None:
        check = spec.healthcheck
        arguments["healthcheck"] = docker.types.Healthcheck(
            test=["CMD", *check.test],
            interval=int(check.interval * NANOSECONDS),
            timeout=int(check.timeout * NANOSECONDS),
            retries=check.retries,
            start_period=int(check.start_period * NANOSECONDS),
        )
    if spec.network != "host":
        arguments["networking_config"] = api.create_networking_config(
            {spec.network: api.create_endpoint_config(aliases=[spec.name])}
        )
    return arguments


class ContainerEngine:
    """Container, network and volume calls on one engine, errors as EngineError."""

    def __init__(self, engine: DockerEngine) -> None:
        self.engine = engine
        self.api = engine.api

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return self.engine._call(what, fn, *args, **kwargs)

    # observation ----------------------------------------------------------------------------

    def managed_containers(self) -> list[ContainerRecord]:
        """Every container stackyard manages, from one list call; an inspect only for a
        stopped container whose status line does not say how it ended."""
        entries = self._call(
            "list containers",
            self.api.containers,
            all=True,
            filters={"label": f"{LABEL_MANAGED}=true"},
        )
        records = []
        for entry in entries:
            record = listed_record(entry)
            if not record.running and record.exit_code is None and entry.get("State") != "created":
                record = self.inspect(record.id) or record
            records.append(record)
        return records

    def inspect(self, ref: str) -> ContainerRecord | None:
        try:
            result: dict[str, Any] = self.api.inspect_container(ref)
        except docker.errors.NotFound:
            return None
        except docker.errors.APIError as exc:
            raise EngineError(f"inspect container {ref}: {exc.explanation or exc}") from None
        except requests.exceptions.ConnectionError as exc:
            raise EngineError(
                engine_lost(f"inspect container {ref}", self.engine.url, exc)
            ) from None
        return inspected_record(result)

    def managed_volumes(self) -> dict[str, str]:
        """name -> the Unix time stackyard created it, from its label (the engine's own
        CreatedAt follows the folder's modification time, so it moves)."""
        answer = self._call(
            "list volumes", self.api.volumes, filters={"label": f"{LABEL_MANAGED}=true"}
        )
        volumes = (answer or {}).get("Volumes") or []
        return {
            v["Name"]: str((v.get("Labels") or {}).get(LABEL_CREATED, ""))
            for v in sorted(volumes, key=_name)
        }

    def image_ids(self, references: set[str]) -> dict[str, str]:
        """reference -> the id of the image it names here, for those present. One inspect
        each: listing images makes the engine size every image it holds (half a second with
        a hundred images), an inspect takes a few milliseconds."""
        found = {ref: self.engine.inspect_image(ref) for ref in sorted(references)}
        return {ref: str(image["Id"]) for ref, image in found.items() if image is not None}

    def image_labels(self, ref: str) -> dict[str, str] | None:
        """The labels of an image (by reference or id), or None when it is not here."""
        image = self.engine.inspect_image(ref)
        if image is None:
            return None
        return {
            str(k): str(v) for k, v in ((image.get("Config") or {}).get("Labels") or {}).items()
        }

    def managed_networks(self) -> list[str]:
        answer = self._call(
            "list networks", self.api.networks, filters={"label": f"{LABEL_MANAGED}=true"}
        )
        return sorted(n["Name"] for n in answer or [])

    # changes ---------------------------------------------------------------------------------

    def ensure_network(self, name: str) -> None:
        """A bridge network whose host interface has the network's name, so the host
        firewall can tell the deployment's traffic apart."""
        found = [n for n in self._call(f"find network {name}", self.api.networks, names=[name])
                 if n.get("Name") == name]  # fmt: skip
        if not found:
            self._call(
                f"create network {name}",
                self.api.create_network,
                name,
                driver="bridge",
                options={BRIDGE_NAME: name},
                labels=MANAGED,
            )
            return
        record = self._call(f"inspect network {name}", self.api.inspect_network, name)
        if (record.get("Options") or {}).get(BRIDGE_NAME) != name:
            raise EngineError(
                f"network {name} was made by an earlier stackyard without a bridge named "
                f"{name}, which the host firewall needs: run `stackyard destroy "
                f"--yes-i-really-really-mean-it` (the data volumes stay) and deploy again"
            )

    def ensure_volume(self, name: str, service: str) -> None:
        try:
            self.api.inspect_volume(name)
            return
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            raise EngineError(f"inspect volume {name}: {exc.explanation or exc}") from None
        self._call(
            f"create volume {name}",
            self.api.create_volume,
            name,
            labels={**MANAGED, LABEL_SERVICE: service, LABEL_CREATED: f"{time.time():.3f}"},
        )

    def ensure_shared_folder(self, path: str) -> None:
        """A host folder that is a shared mount point, so mounts a container makes in it
        (network namespaces) outlive the container and are seen by others (side effects:
        mkdir, mount). Idempotent."""
        mountinfo = Path(MOUNTINFO).read_text()
        if is_shared_mount(mountinfo, path):
            return
        Path(path).mkdir(parents=True, exist_ok=True)
        if not is_mount_point(mountinfo, path):
            _mount(["--bind", path, path], f"make {path} a shared mount point")
        _mount(["--make-shared", path], f"make {path} a shared mount point")

    def ensure_terminals(self, path: str) -> None:
        """A pseudo-terminal file system of its own at path (a new devpts instance, anyone may
        allocate a terminal in it), for the containers that mount it at /dev/pts (side
        effects: mkdir, mount). Idempotent."""
        if is_devpts(Path(MOUNTINFO).read_text(), path):
            return
        Path(path).mkdir(parents=True, exist_ok=True)
        options = "newinstance,ptmxmode=0666,mode=0620,gid=5"
        _mount(["-t", "devpts", "-o", options, "devpts", path],
               f"mount a pseudo-terminal file system on {path}")  # fmt: skip

    def clear_shared_folder(self, path: str) -> list[str]:
        """Unmount and remove what containers mounted in a shared folder (network namespaces
        the metadata agent made): the namespaces, their veths and addresses go with them
        (side effects: umount, unlink). The names removed."""
        folder = Path(path)
        removed = []
        for entry in sorted(folder.iterdir()) if folder.is_dir() else []:
            subprocess.run(["umount", "--lazy", str(entry)], capture_output=True, check=False)
            try:
                entry.unlink()
            except OSError as exc:
                raise EngineError(f"cannot remove {entry}: {exc}") from None
            removed.append(entry.name)
        return removed

    def remove_volume(self, name: str) -> None:
        self._call(f"remove volume {name}", self.api.remove_volume, name)

    def remove_network(self, name: str) -> None:
        self._call(f"remove network {name}", self.api.remove_network, name)

    def create(self, spec: ContainerSpec, config_dir: str | None) -> str:
        arguments = create_arguments(self.api, spec, config_dir)
        created = self._call(
            f"create container {spec.name}", self.api.create_container, **arguments
        )
        return str(created["Id"])

    def start(self, ref: str) -> None:
        try:
            self._call(f"start container {ref}", self.api.start, ref)
        except EngineError as exc:
            hint = port_taken(ref, str(exc))
            if hint is None:
                raise
            raise EngineError(hint) from None

    def stop(self, ref: str, timeout: int = 30) -> None:
        self._call(f"stop container {ref}", self.api.stop, ref, timeout=timeout)

    def remove(self, ref: str) -> None:
        try:
            self.api.remove_container(ref, force=True)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            if exc.status_code == 404:
                return
            raise EngineError(f"remove container {ref}: {exc.explanation or exc}") from None

    def rename(self, ref: str, name: str) -> None:
        self._call(f"rename container {ref} to {name}", self.api.rename, ref, name)

    def wait(self, ref: str, timeout: float) -> int | None:
        """The exit code, or None when the container still runs after `timeout` seconds."""
        try:
            answer = self.api.wait(ref, timeout=timeout)
        except requests.exceptions.ReadTimeout:
            return None
        except requests.exceptions.ConnectionError as exc:
            if "timed out" in str(exc).lower():
                return None
            raise EngineError(engine_lost(f"wait for {ref}", self.engine.url, exc)) from None
        except docker.errors.APIError as exc:
            raise EngineError(f"wait for {ref}: {exc.explanation or exc}") from None
        return int(answer.get("StatusCode", -1))

    def exec(self, ref: str, argv: list[str]) -> tuple[int, str]:
        """Run argv in a running container; (exit code, combined output)."""
        created = self._call(f"exec in {ref}", self.api.exec_create, ref, argv)
        output = self._call(f"exec in {ref}", self.api.exec_start, created["Id"])
        info = self._call(f"exec in {ref}", self.api.exec_inspect, created["Id"])
        text = output.decode(errors="replace") if isinstance(output, bytes) else str(output)
        return int(info.get("ExitCode") or 0), text

    def logs(self, ref: str, tail: int = 20) -> list[str]:
        try:
            raw = self.api.logs(ref, stdout=True, stderr=True, tail=tail)
        except (docker.errors.APIError, requests.exceptions.ConnectionError):
            return []
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        return text.splitlines()[-tail:]

    def run_tool(
        self,
        image: str,
        argv: list[str],
        *,
        user: str,
        binds: list[str],
        environment: dict[str, str],
        network: str,
        on_line: Callable[[str], None],
    ) -> int:
        """Run a one-off tool container to its end, each output line to on_line; its exit code.
        It holds no capability and cannot gain one; it is removed afterwards."""
        name = f"stackyard-tool-{uuid.uuid4().hex[:12]}"
        host_config = self.api.create_host_config(
            binds=binds,
            network_mode=network,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            pids_limit=1024,
        )
        self._call(
            f"create container {name}",
            self.api.create_container,
            image,
            command=argv,
            name=name,
            user=user,
            environment=environment,
            host_config=host_config,
        )
        try:
            self.start(name)
            for chunk in self.api.logs(name, stream=True, follow=True):
                for line in chunk.decode(errors="replace").splitlines():
                    on_line(line)
            code = self.wait(name, timeout=60)
            return -1 if code is None else code
        finally:
            self.remove(name)

    def try_privileged(self, image: str) -> bool:
        """Whether this host lets a privileged container start (it does not everywhere)."""
        name = "stackyard-privileged-probe"
        self.remove(name)
        host_config = self.api.create_host_config(privileged=True)
        self._call(
            "create probe container",
            self.api.create_container,
            image,
            name=name,
            command=["true"],
            entrypoint=[],
            host_config=host_config,
        )
        try:
            self.api.start(name)
            return self.wait(name, 30) == 0
        except docker.errors.APIError:
            return False
        finally:
            self.remove(name)


def _name(entry: dict[str, Any]) -> str:
    return str(entry["Name"])


_HEALTH = re.compile(r"\((healthy|unhealthy|health: starting)\)")
_EXITED = re.compile(r"^Exited \((-?\d+)\)")


def listed_record(entry: dict[str, Any]) -> ContainerRecord:
    """One entry of the engine's container list (pure): health and exit code from its status
    line ("Up 2 minutes (healthy)", "Exited (0) 2 minutes ago"); none for one never started."""
    state, status = str(entry.get("State", "")), str(entry.get("Status", ""))
    health = _HEALTH.search(status)
    exited = _EXITED.match(status)
    return ContainerRecord(
        name=str(entry["Names"][0]).lstrip("/"),
        id=str(entry["Id"]),
        running=state in ("running", "restarting"),
        restarting=state == "restarting",
        labels=dict(entry.get("Labels") or {}),
        exit_code=int(exited.group(1)) if exited else None,
        health=None if health is None else health.group(1).removeprefix("health: "),
        created=float(entry.get("Created") or 0),
        image_id=str(entry.get("ImageID") or ""),
    )


def inspected_record(record: dict[str, Any]) -> ContainerRecord:
    """The engine's inspect record of a container (pure)."""
    state = record.get("State") or {}
    ports = (record.get("NetworkSettings") or {}).get("Ports") or {}
    # A paused container is not serving, and has not ended: stopped, with no exit code. The
    # engine says 0 for a container created and never started: not an exit either.
    paused = bool(state.get("Paused"))
    never = str(state.get("StartedAt", "")).startswith("0001-")
    return ContainerRecord(
        name=str(record.get("Name", "")).lstrip("/"),
        id=str(record["Id"]),
        running=bool(state.get("Running")) and not paused,
        restarting=bool(state.get("Restarting")),
        labels=dict((record.get("Config") or {}).get("Labels") or {}),
        exit_code=None if never or paused else int(state.get("ExitCode", -1)),
        health=((state.get("Health") or {}).get("Status")) or None,
        created=_unix_time(str(record.get("Created", ""))),
        image_id=str(record.get("Image", "")),
        published=frozenset(
            (str(binding.get("HostIp")), str(binding.get("HostPort")))
            for bindings in ports.values()
            for binding in bindings or []
        ),
    )


def _unix_time(stamp: str) -> float:
    """The engine's RFC 3339 time with nanoseconds, as Unix time (0 when unreadable)."""
    try:
        return datetime.fromisoformat(re.sub(r"(\.\d{6})\d*", r"\1", stamp)).timestamp()
    except ValueError:
        return 0.0
