"""The only code that talks to the container engine (through the `docker` package's API).

Everything else in stackyard works on plain values and calls these methods; tests of pure code
never need an engine.
"""

from stackyard.engine.docker_engine import DockerEngine, connect

__all__ = ["DockerEngine", "connect"]
