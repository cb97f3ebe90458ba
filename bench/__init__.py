"""Benchmarks of the running stack (``make bench``, i.e. ``python -m bench``)."""
