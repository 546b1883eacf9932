"""Alembic migrations of the registry, run programmatically by `nadg.registry.migrate`."""
