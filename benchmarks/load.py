"""Token load through HAProxy: clients on this machine issue a token and validate it, in a
loop, for a fixed time; prints, per request kind, successful requests per second, their p50
and p99 latency, and the errors.

    python -m benchmarks.load [--namespace stackyard] [--seconds 60] [--clients 4]

Like the deploy benchmark it REMOVES any stackyard deployment on this engine, deploys the
all-in-one identity plane from the built images of --namespace, measures, and destroys it.
The integration tests use TokenLoad too (a 60 s run, and a client loop during a failed change).
"""

from __future__ import annotations

import argparse
import http.client
import json
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from benchmarks.deploy import run
from stackyard.facts import default_route_address


@dataclass(frozen=True, slots=True)
class Sample:
    kind: str  # "issue" or "validate"
    started: float  # time.monotonic()
    seconds: float
    error: str = ""  # empty when the request got its expected answer


@dataclass
class LoadResult:
    samples: list[Sample]
    wall: float

    @property
    def errors(self) -> list[Sample]:
        return [s for s in self.samples if s.error]

    def percentile(self, fraction: float, kind: str) -> float:
        """Of the successful requests of one kind."""
        times = sorted(s.seconds for s in self.samples if not s.error and s.kind == kind)
        return times[min(len(times) - 1, int(fraction * len(times)))] if times else 0.0

    def describe(self) -> str:
        """Per request kind: successes, their rate and percentiles, and the errors beside
        them (a token issue checks a bcrypt hash, a validation does not: never mixed)."""
        parts = []
        for kind in ("issue", "validate"):
            done = sum(1 for s in self.samples if s.kind == kind and not s.error)
            failed = sum(1 for s in self.samples if s.kind == kind and s.error)
            parts.append(f"{kind}: {done} ok ({done / self.wall:.1f}/s), "
                         f"p50 {self.percentile(0.5, kind) * 1000:.1f} ms, "
                         f"p99 {self.percentile(0.99, kind) * 1000:.1f} ms, "
                         f"{failed} errors")  # fmt: skip
        text = f"{self.wall:.1f} s; " + "; ".join(parts)
        if errors := self.errors:
            window = errors[-1].started + errors[-1].seconds - errors[0].started
            kinds = sorted({e.error for e in errors})
            text += f"; errors within {window:.1f} s ({'; '.join(kinds)[:300]})"
        return text


@dataclass
class TokenLoad:
    """Each client keeps one HTTP connection (reopened after an error) and repeats: issue a
    project-scoped token, then validate it with itself. Issuing checks the password against
    Keystone's bcrypt hash, which is what bounds the rate on a small host."""

    url: str
    user: str
    password: str
    project: str = "admin"
    clients: int = 4
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, seconds: float | None = None) -> LoadResult:
        """Until `seconds` have passed, or until stop is set when seconds is None."""
        started = time.monotonic()
        deadline = started + seconds if seconds is not None else None
        results: list[list[Sample]] = [[] for _ in range(self.clients)]
        threads = [threading.Thread(target=self._client, args=(results[i], deadline))
                   for i in range(self.clients)]  # fmt: skip
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        samples = sorted((s for r in results for s in r), key=lambda s: s.started)
        return LoadResult(samples, time.monotonic() - started)

    def _client(self, samples: list[Sample], deadline: float | None) -> None:
        parts = urlsplit(self.url)
        body = json.dumps({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": self.user, "domain": {"id": "default"}, "password": self.password}}},
            "scope": {"project": {"name": self.project, "domain": {"id": "default"}}},
        }})  # fmt: skip
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        while not self.stop.is_set() and (deadline is None or time.monotonic() < deadline):
            token = ""
            for kind in ("issue", "validate"):
                began = time.monotonic()
                try:
                    if kind == "issue":
                        connection.request("POST", "/v3/auth/tokens", body,
                                           {"Content-Type": "application/json"})  # fmt: skip
                    else:
                        headers = {"X-Auth-Token": token, "X-Subject-Token": token}
                        connection.request("GET", "/v3/auth/tokens", headers=headers)
                    response = connection.getresponse()
                    response.read()
                    wanted = 201 if kind == "issue" else 200
                    error = "" if response.status == wanted else f"HTTP {response.status}"
                    token = response.getheader("X-Subject-Token") or ""
                except (OSError, http.client.HTTPException) as exc:
                    error = type(exc).__name__
                    connection.close()
                samples.append(Sample(kind, began, time.monotonic() - began, error))
                if error:
                    time.sleep(0.05)
                    break
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespace", default="stackyard")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    destroy = ("destroy", "--yes-i-really-really-mean-it", "--include-volumes")
    with tempfile.TemporaryDirectory(prefix="stackyard-bench-") as tmp:
        config_dir = Path(tmp)
        (config_dir / "globals.yml").write_text(
            f"docker_namespace: {args.namespace}\nenable_openstack_core: no\n"
        )
        run(config_dir, "genpwd")
        run(config_dir, *destroy)
        run(config_dir, "deploy")
        password = yaml.safe_load((config_dir / "passwords.yml").read_text())[
            "keystone_admin_password"
        ]
        url = f"http://{default_route_address()}:5000"
        result = TokenLoad(url, "admin", password, clients=args.clients).run(args.seconds)
        run(config_dir, *destroy)
    print(f"token issue + validate, {args.clients} clients: {result.describe()}")


if __name__ == "__main__":
    main()
