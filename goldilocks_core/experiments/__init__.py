"""Experiment drivers behind the book's figures, and the results cache that makes them resumable.

:mod:`~goldilocks_core.experiments.cache` stores each finished point on disk keyed by its
settings and a fingerprint of the package sources; the other modules set up a chapter's
model, data and subspace from its profile and run the package's measurements over grids.
"""
from .cache import cache_dir, cache_key, cached, cached_map, package_fingerprint

__all__ = ["cache_dir", "cache_key", "cached", "cached_map", "package_fingerprint"]
