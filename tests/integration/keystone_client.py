"""Minimal OpenStack API clients over plain HTTP (Keystone v3, and any API given a token), for
tests that must prove the APIs work through HAProxy without depending on the openstack CLI
being installed on the host."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class KeystoneError(Exception):
    pass


@dataclass
class Api:
    url: str  # http://VIP:PORT
    timeout: float = 10.0

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        """JSON in and out; bytes as body are sent as they are (an image upload), an iterator
        of bytes in chunked transfer encoding, a chunk each (as nova uploads a snapshot)."""
        parts = urlsplit(self.url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.timeout)
        raw_body = isinstance(body, bytes | Iterator)
        kind = "application/octet-stream" if raw_body else "application/json"
        headers = {"Content-Type": kind, **(extra or {})}
        if token:
            headers["X-Auth-Token"] = token
        payload = body if raw_body or body is None else json.dumps(body)
        try:
            connection.request(method, path, payload, headers)
            response = connection.getresponse()
            raw = response.read()
            headers = {k.lower(): v for k, v in response.getheaders()}
            is_json = headers.get("content-type", "").startswith("application/json")
            return response.status, headers, json.loads(raw) if raw and is_json else raw
        finally:
            connection.close()


@dataclass
class Keystone(Api):
    def token(self, user: str, password: str, project: str = "admin") -> str:
        body = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"id": "default"}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}},
        }}  # fmt: skip
        status, headers, answer = self.request("POST", "/v3/auth/tokens", body)
        if status != 201:
            raise KeystoneError(f"token request: {status} {answer}")
        return headers["x-subject-token"]

    def validate(self, token: str, subject: str) -> int:
        status, _, _ = self.request("GET", "/v3/auth/tokens", token=token,
                                    extra={"X-Subject-Token": subject})  # fmt: skip
        return status

    def create(self, token: str, kind: str, body: dict[str, Any]) -> str:
        status, _, answer = self.request("POST", f"/v3/{kind}s", {kind: body}, token)
        if status != 201:
            raise KeystoneError(f"create {kind}: {status} {answer}")
        return str(answer[kind]["id"])

    def find(self, token: str, kind: str, name: str) -> str | None:
        status, _, answer = self.request("GET", f"/v3/{kind}s?name={name}", token=token)
        if status != 200:
            raise KeystoneError(f"list {kind}s: {status} {answer}")
        found = answer[f"{kind}s"]
        return str(found[0]["id"]) if found else None

    def delete(self, token: str, kind: str, ident: str) -> None:
        status, _, answer = self.request("DELETE", f"/v3/{kind}s/{ident}", token=token)
        if status != 204:
            raise KeystoneError(f"delete {kind}: {status} {answer}")
