"""stackyard: build and run OpenStack in containers."""

__version__ = "0.1.0"
