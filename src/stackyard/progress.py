"""Live progress of long operations on the operator's terminal (rich), plain lines elsewhere."""

from __future__ import annotations

from rich.console import Console

from stackyard.images.model import BuildStatus, ImageResult

STYLE = {
    BuildStatus.BUILT: "green",
    BuildStatus.CACHED: "cyan",
    BuildStatus.PULLED: "cyan",
    BuildStatus.FAILED: "bold red",
    BuildStatus.PARENT_FAILED: "yellow",
}


class BuildProgress:
    """Shows which images are building and each one as it finishes, with a running count."""

    def __init__(self, names: list[str], console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.names = set(names)
        self.total = len(names)
        self.done = 0
        self.building: set[str] = set()
        self.status = self.console.status("") if self.console.is_terminal else None
        if self.status:
            self.status.start()

    def _refresh(self) -> None:
        if self.status:
            building = ", ".join(sorted(self.building)) or "-"
            self.status.update(f"[{self.done}/{self.total}] building: {building}")

    def started(self, name: str) -> None:
        self.building.add(name)
        if not self.status:
            self.console.print(f"building {name}", highlight=False)
        self._refresh()

    def finished(self, result: ImageResult) -> None:
        self.building.discard(result.name)
        if result.name in self.names:  # the root image is not one of the counted images
            self.done += 1
        style = STYLE[result.status]
        self.console.print(
            f"[{self.done}/{self.total}] [{style}]{result.status.value}[/] {result.name}"
            f" ({result.seconds:.1f} s)",
            highlight=False,
        )
        self._refresh()

    def close(self) -> None:
        if self.status:
            self.status.stop()
