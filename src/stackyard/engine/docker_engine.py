"""DockerEngine: a narrow, typed facade over docker-py's low-level APIClient.

Only the operations stackyard needs, with engine failures turned into EngineError messages an
operator can act on. Streams (build, push, pull) are read here and handed on line by line.
"""

from __future__ import annotations

import io
import logging
import os
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests.exceptions

from stackyard.errors import EngineError

DEFAULT_URL = "unix:///var/run/docker.sock"
PROBE_API_VERSION = "1.24"  # /_ping exists in every engine stackyard supports
MAX_READ = 16 * 2**20  # the largest file read_file copies out of an image
# The label of the containers read_file makes; one older than STALE_READ seconds was left by
# a run killed mid-read (a read takes well under a second).
READ_LABEL = "stackyard.read-file"
STALE_READ = 60
LineSink = Callable[[str], None]


def _ignore(_line: str) -> None:
    return None


class BuildFailed(EngineError):
    """A Dockerfile step failed; `message` is the engine's error, `log_tail` the last lines."""

    def __init__(self, message: str, log_tail: list[str]) -> None:
        super().__init__(message)
        self.log_tail = log_tail


def connect(base_url: str | None = None, timeout: int = 300) -> DockerEngine:
    """Connect to the engine at base_url (default: $DOCKER_HOST, else the local socket)."""
    url = base_url or os.environ.get("DOCKER_HOST") or DEFAULT_URL
    hint = "run `stackyard host bootstrap` to install and start it"
    if url.startswith("unix://") and not Path(url.removeprefix("unix://")).exists():
        raise EngineError(
            f"the container engine is not reachable at {url} (no such socket); {hint}"
        )
    # Probe with a fixed API version first: a client whose version negotiation fails cannot
    # be closed, and would leak its socket.
    probe = docker.APIClient(base_url=url, version=PROBE_API_VERSION, timeout=timeout)
    try:
        probe.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise EngineError(
            f"the container engine is not reachable at {url} ({_reason(exc)}); {hint}"
        ) from None
    finally:
        probe.close()
    api = docker.APIClient(base_url=url, version="auto", timeout=timeout)
    return DockerEngine(api, url)


def engine_lost(what: str, url: str, exc: Exception) -> str:
    """The engine stopped answering mid-operation (restarted, crashed, socket gone)."""
    return (
        f"{what}: the container engine at {url} stopped answering ({_reason(exc)}). Start it"
        f" again (`stackyard host bootstrap`) and run the same command: it finishes the work."
    )


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


class DockerEngine:
    def __init__(self, api: Any, url: str) -> None:
        self.api = api
        self.url = url

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except docker.errors.APIError as exc:
            raise EngineError(f"{what}: {exc.explanation or exc}") from None
        except (requests.exceptions.ConnectionError, docker.errors.DockerException) as exc:
            raise EngineError(engine_lost(what, self.url, exc)) from None

    # images ---------------------------------------------------------------------------------

    def inspect_image(self, ref: str) -> dict[str, Any] | None:
        """The engine's record of an image, or None when it does not exist locally."""
        try:
            result: dict[str, Any] = self.api.inspect_image(ref)
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.APIError as exc:
            if exc.status_code == 404:
                return None
            raise EngineError(f"inspect image {ref}: {exc.explanation or exc}") from None
        return result

    def read_file(self, image: str, path: str) -> bytes | None:
        """The content of the regular file at `path` in `image`, or None when the image does
        not exist here or has no regular file there. The image is not run: a container is
        created from it (never started), the file copied out of it, the container removed;
        one a killed run left is removed by the next read."""
        what = f"read {path} from {image}"
        self._remove_stale_reads()
        name = f"stackyard-read-{uuid.uuid4().hex[:12]}"
        try:
            self.api.create_container(
                image,
                command=["true"],
                name=name,
                network_disabled=True,
                labels={READ_LABEL: "true"},
            )
        except docker.errors.NotFound:  # no such image (ImageNotFound is a NotFound)
            return None
        except (docker.errors.DockerException, requests.exceptions.ConnectionError) as exc:
            raise self._failure(what, exc) from None
        try:
            archive = self._archive(name, path, what)
        finally:
            self._call(f"remove container {name}", self.api.remove_container, name, force=True)
        if archive is None:
            return None
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            member = tar.next()
            extracted = tar.extractfile(member) if member is not None and member.isfile() else None
            return extracted.read() if extracted is not None else None

    def _remove_stale_reads(self) -> None:
        found = self._call(
            "list containers", self.api.containers, all=True, filters={"label": READ_LABEL}
        )
        for entry in found or []:
            if time.time() - float(entry.get("Created") or 0) > STALE_READ:
                try:
                    self.api.remove_container(entry["Id"], force=True)
                except docker.errors.NotFound:
                    pass  # removed meanwhile (by another run)
                except docker.errors.APIError as exc:
                    raise self._failure(f"remove container {entry['Id'][:12]}", exc) from None

    def _archive(self, container: str, path: str, what: str) -> bytes | None:
        """The engine's tar archive of path in a container; None when there is no such path."""
        data = bytearray()
        try:
            chunks, _ = self.api.get_archive(container, path)
            for chunk in chunks:
                data += chunk
                if len(data) > MAX_READ:
                    raise EngineError(f"{what}: larger than {MAX_READ // 2**20} MiB")
        except docker.errors.NotFound:
            return None
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise self._failure(what, exc) from None
        return bytes(data)

    def _failure(self, what: str, exc: Exception) -> EngineError:
        if isinstance(exc, docker.errors.APIError):
            return EngineError(f"{what}: {exc.explanation or exc}")
        return EngineError(engine_lost(what, self.url, exc))

    def image_labels(self, ref: str) -> dict[str, str] | None:
        record = self.inspect_image(ref)
        if record is None:
            return None
        labels: dict[str, str] = (record.get("Config") or {}).get("Labels") or {}
        return labels

    def build(self, context: Path, labels: dict[str, str], on_line: LineSink = _ignore) -> str:
        """Build the Dockerfile in `context`, untagged; returns the image id."""
        tail: list[str] = []
        image_id = ""

        def lines() -> Iterator[dict[str, Any]]:
            yield from self.api.build(
                path=str(context), labels=labels, rm=True, forcerm=True, decode=True, pull=False
            )

        try:
            for chunk in lines():
                if "error" in chunk:
                    raise BuildFailed(str(chunk["error"]).strip(), tail[-20:])
                text = chunk.get("stream")
                if text:
                    for line in str(text).splitlines():
                        on_line(line)
                        tail.append(line)
                    del tail[:-40]
                aux = chunk.get("aux")
                if isinstance(aux, dict) and "ID" in aux:
                    image_id = str(aux["ID"])
        except docker.errors.APIError as exc:
            raise BuildFailed(str(exc.explanation or exc), tail[-20:]) from None
        except requests.exceptions.ConnectionError as exc:
            raise EngineError(
                f"build: engine at {self.url} not reachable ({_reason(exc)})"
            ) from None
        if not image_id:
            raise BuildFailed("the engine reported no image id", tail[-20:])
        return image_id

    def tag(self, image: str, repository: str, tag: str) -> None:
        self._call(
            f"tag {image} as {repository}:{tag}", self.api.tag, image, repository, tag, force=True
        )

    def remove_image(self, ref: str) -> None:
        try:
            self.api.remove_image(ref, force=False, noprune=False)
        except docker.errors.ImageNotFound:
            return
        except docker.errors.APIError as exc:
            raise EngineError(f"remove image {ref}: {exc.explanation or exc}") from None

    def import_tarball(self, tarball: Path, repository: str, tag: str, changes: list[str]) -> str:
        """Import a root filesystem tarball as an image (the base of the tree)."""
        self._call(
            f"import {tarball}",
            self.api.import_image_from_file,
            str(tarball),
            repository=repository,
            tag=tag,
            changes=changes,
        )
        record = self.inspect_image(f"{repository}:{tag}")
        if record is None:
            raise EngineError(f"import {tarball}: {repository}:{tag} missing after import")
        return str(record["Id"])

    def squash(self, image: str, from_image: str, repository: str, tag: str) -> str:
        """Squash the layers `image` adds on top of `from_image` into one; tags the result."""
        from docker_squash.squash import Squash

        log = logging.getLogger("stackyard.squash")
        try:
            new_id = Squash(
                log=log,
                image=image,
                docker=self.api,
                from_layer=from_image,
                tag=f"{repository}:{tag}",
                cleanup=False,
            ).run()
        except Exception as exc:  # docker-squash raises its own and engine errors alike
            raise EngineError(f"squash {repository}:{tag}: {_reason(exc)}") from None
        record = self.inspect_image(f"{repository}:{tag}")
        return str(record["Id"]) if record else str(new_id)

    def push(self, repository: str, tag: str, on_line: LineSink = _ignore) -> None:
        self._stream(
            f"push {repository}:{tag}", self.api.push, repository, tag=tag, on_line=on_line
        )

    def pull(self, repository: str, tag: str, on_line: LineSink = _ignore) -> None:
        self._stream(
            f"pull {repository}:{tag}", self.api.pull, repository, tag=tag, on_line=on_line
        )

    def _stream(
        self, what: str, fn: Callable[..., Any], *args: Any, on_line: LineSink, **kwargs: Any
    ) -> None:
        for chunk in self._call(what, fn, *args, stream=True, decode=True, **kwargs):
            if "error" in chunk:
                raise EngineError(f"{what}: {str(chunk['error']).strip()}")
            status = chunk.get("status")
            if status:
                on_line(f"{chunk.get('id', '')} {status}".strip())
