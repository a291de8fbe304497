"""Publish: copy a gated month from ``reporting_stage`` into ``reporting``, atomically."""
