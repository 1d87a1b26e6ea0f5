"""Run a build on the engine: the root image, then the planned images in dependency order.

A bounded pool of workers takes every image whose parent is done; an image whose content key
matches the label of the existing image is reused, any other is built (and squashed) and only
then tagged, so a failed build never leaves a half-made tag. A failure skips its descendants
and nothing else.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from pathlib import Path
from typing import IO, Protocol

from stackyard.engine.docker_engine import BuildFailed, DockerEngine, connect
from stackyard.errors import EngineError, StackyardError
from stackyard.images import rootfs
from stackyard.images.cache import LABEL
from stackyard.images.model import BuildOptions, BuildReport, BuildStatus, Catalog, ImageResult
from stackyard.images.plan import PlannedImage, plan_images
from stackyard.images.render import Renderer

CA_BUNDLE_NAME = "build-ca-bundle.crt"
NOT_COPIED = shutil.ignore_patterns("image.yaml", "Dockerfile.j2")


class Progress(Protocol):
    def started(self, name: str) -> None: ...
    def finished(self, result: ImageResult) -> None: ...


class _Silent:
    def started(self, name: str) -> None:
        return None

    def finished(self, result: ImageResult) -> None:
        return None


class Builder:
    def __init__(
        self,
        engine: DockerEngine,
        catalog: Catalog,
        options: BuildOptions,
        progress: Progress | None = None,
    ) -> None:
        self.engine = engine
        self.catalog = catalog
        self.options = options
        self.progress: Progress = progress or _Silent()
        self.root_key = rootfs.cache_key(options)
        self._local = threading.local()

    def _engine(self) -> DockerEngine:
        """One API connection per worker thread (docker-py clients are not thread-safe)."""
        engine: DockerEngine | None = getattr(self._local, "engine", None)
        if engine is None:
            engine = connect(self.engine.url)
            self._local.engine = engine
        return engine

    def plan(self, names: list[str]) -> dict[str, PlannedImage]:
        renderer = Renderer(self.catalog, self.options.template_override)
        return plan_images(
            self.catalog, self.options, names, self.options.root_reference, self.root_key,
            renderer,
        )  # fmt: skip

    def build(self, names: list[str]) -> BuildReport:
        start = time.monotonic()
        self.options.logs_dir.mkdir(parents=True, exist_ok=True)
        planned = self.plan(names)
        root_ref, root_key = self.options.root_reference, self.root_key
        # One inspect per image: it decides whether the mirror is needed and what to reuse.
        root_id = self._cached_id(self.engine, root_ref, root_key)
        cached = {
            name: self._cached_id(self.engine, p.reference, p.key) if p.error is None else None
            for name, p in planned.items()
        }
        if root_id is None or None in cached.values():
            rootfs.check_mirror(self.options.apt_mirror, self.options.suite)
        root = self._ensure_root(root_ref, root_key, root_id)
        results = self._run_graph(planned, cached, root)
        if self.options.push:
            root = self._push(root)
            results = [self._push(r) if r.image_id else r for r in results]
        return BuildReport(tuple(results), time.monotonic() - start, root)

    @staticmethod
    def _cached_id(engine: DockerEngine, reference: str, key: str) -> str | None:
        record = engine.inspect_image(reference)
        if record is None:
            return None
        labels = (record.get("Config") or {}).get("Labels") or {}
        return str(record["Id"]) if labels.get(LABEL) == key else None

    # root -------------------------------------------------------------------------------------

    def _ensure_root(self, reference: str, key: str, found: str | None) -> ImageResult:
        """The distro root: reused (`found`), pulled from the registry, or made with debootstrap."""
        name = self.options.base_distro
        start = time.monotonic()
        if found:
            return ImageResult(name, BuildStatus.CACHED, reference, key, image_id=found)
        self.progress.started(name)
        log_path = self.options.logs_dir / f"{name}.log"
        with log_path.open("w") as log:
            image_id = self._pull_root(reference, key, log)
            status = BuildStatus.PULLED
            if image_id is None:
                image_id = self._debootstrap_root(reference, key, log)
                status = BuildStatus.BUILT
        result = ImageResult(
            name, status, reference, key, time.monotonic() - start, image_id, log=log_path
        )
        self.progress.finished(result)
        return result

    def _pull_root(self, reference: str, key: str, log: IO[str]) -> str | None:
        if not self.options.registry:
            return None
        remote = self.options.remote_repository(self.options.base_distro)
        try:
            self.engine.pull(remote, self.options.suite, on_line=_writer(log))
        except EngineError as exc:
            log.write(f"pull of the root image failed, making it instead: {exc}\n")
            return None
        found = self._cached_id(self.engine, f"{remote}:{self.options.suite}", key)
        if found is None:
            log.write(f"{remote}:{self.options.suite} does not have cache key {key}\n")
            return None
        repository, tag = reference.rsplit(":", 1)
        self.engine.tag(found, repository, tag)
        log.write(f"pulled {remote}:{self.options.suite}\n")
        return found

    def _debootstrap_root(self, reference: str, key: str, log: IO[str]) -> str:
        repository, tag = reference.rsplit(":", 1)
        with tempfile.TemporaryDirectory(prefix="stackyard-rootfs-", dir="/var/tmp") as tmp:
            tarball = rootfs.make_root_tarball(self.options, Path(tmp), _writer(log))
            changes = ['CMD ["/bin/bash"]', "ENV LANG=C.UTF-8", f"LABEL {LABEL}={key}"]
            return self.engine.import_tarball(tarball, repository, tag, changes)

    # images -----------------------------------------------------------------------------------

    def _run_graph(
        self, planned: dict[str, PlannedImage], cached: dict[str, str | None], root: ImageResult
    ) -> list[ImageResult]:
        results: dict[str, ImageResult] = {}
        parents = {n: p.spec.parent for n, p in planned.items()}
        pending = list(planned)
        running: dict[Future[ImageResult], str] = {}
        with ThreadPoolExecutor(max_workers=max(1, self.options.workers)) as pool:
            while pending or running:
                for name in list(pending):
                    parent = parents[name]
                    parent_result = root if parent is None else results.get(parent)
                    if parent_result is None:
                        continue
                    pending.remove(name)
                    if parent_result.image_id is None:
                        results[name] = self._skipped(planned[name], parent_result.name)
                        continue
                    future = pool.submit(
                        self._build_one, planned[name], parent_result, cached[name]
                    )
                    running[future] = name
                if not running:
                    continue
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    result = future.result()
                    results[running.pop(future)] = result
                    self.progress.finished(result)
        return [results[name] for name in planned]

    def _skipped(self, p: PlannedImage, failed_parent: str) -> ImageResult:
        result = ImageResult(
            p.spec.name, BuildStatus.PARENT_FAILED, p.reference, p.key,
            error=f"not built: parent {failed_parent} failed",
        )  # fmt: skip
        self.progress.finished(result)
        return result

    def _build_one(self, p: PlannedImage, parent: ImageResult, found: str | None) -> ImageResult:
        start = time.monotonic()
        name = p.spec.name
        self.progress.started(name)
        log_path = self.options.logs_dir / f"{name}.log"
        base = ImageResult(name, BuildStatus.FAILED, p.reference, p.key, log=log_path)
        engine = self._engine()
        try:
            with log_path.open("w") as log:
                if p.dockerfile is None:
                    log.write(f"{p.error}\n")
                    return replace(base, error=p.error)
                if found:
                    log.write(f"cached: {p.reference} has cache key {p.key}\n")
                    return replace(base, status=BuildStatus.CACHED, image_id=found)
                log.write(p.dockerfile + "\n")
                image_id = self._make(engine, p, parent, log)
        except BuildFailed as exc:
            tail = "\n".join(f"    {line}" for line in exc.log_tail[-8:])
            return replace(base, error=f"{exc}\n{tail}", seconds=time.monotonic() - start)
        except StackyardError as exc:
            return replace(base, error=str(exc), seconds=time.monotonic() - start)
        return replace(
            base, status=BuildStatus.BUILT, image_id=image_id, seconds=time.monotonic() - start
        )

    def _make(
        self, engine: DockerEngine, p: PlannedImage, parent: ImageResult, log: IO[str]
    ) -> str:
        repository, tag = p.reference.rsplit(":", 1)
        with tempfile.TemporaryDirectory(prefix=f"stackyard-{p.spec.name}-") as tmp:
            context = Path(tmp) / "context"
            shutil.copytree(p.spec.folder, context, ignore=NOT_COPIED)
            (context / "Dockerfile").write_text(p.dockerfile or "")
            if self.options.ca_bundle:
                shutil.copyfile(self.options.ca_bundle, context / CA_BUNDLE_NAME)
            labels = {LABEL: p.key, "stackyard.parent": p.parent_reference}
            image_id = engine.build(context, labels, on_line=_writer(log))
        if self.options.squash and parent.image_id:
            squashed = engine.squash(image_id, parent.image_id, repository, tag)
            engine.remove_image(image_id)
            return squashed
        engine.tag(image_id, repository, tag)
        return image_id

    def _push(self, result: ImageResult) -> ImageResult:
        remote = self.options.remote_repository(result.name)
        tag = result.reference.rsplit(":", 1)[1]
        try:
            self.engine.tag(result.reference, remote, tag)
            self.engine.push(remote, tag)
        except EngineError as exc:
            return replace(result, error=f"push failed: {exc}")
        return replace(result, pushed=f"{remote}:{tag}")


def _writer(log: IO[str]) -> Callable[[str], None]:
    def write(line: str) -> None:
        log.write(line + "\n")
        log.flush()

    return write
