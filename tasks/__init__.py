"""Thin Prefect tasks: each is one I/O call or one step of the pure core."""
