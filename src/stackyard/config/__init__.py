"""Operator configuration: files -> validated values (pure)."""
