"""Experiment drivers behind the book's figures, and the results cache that makes them resumable.

:mod:`~goldilocks_core.experiments.cache` stores each finished point on disk keyed by its full
settings, the contents of its data, models and arrays (:mod:`~goldilocks_core.experiments.identity`)
and a fingerprint of the package sources; the other modules set up a chapter's model, data and
subspace from its profile and run the package's measurements over grids.
"""
from .cache import cache_dir, cache_key, cached, cached_map, package_fingerprint, result_settings
from .identity import content_hash, data_identity, model_identity

__all__ = ["cache_dir", "cache_key", "cached", "cached_map", "package_fingerprint", "result_settings",
           "content_hash", "data_identity", "model_identity"]
