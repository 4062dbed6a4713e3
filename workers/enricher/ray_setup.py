"""Ray for the enricher: local by default (no auth, no dashboard UI), a cluster when
RAY_ADDRESS is set. On a cluster, Ladle must be installed on every node (the
engine actors import workers.enricher)."""

from __future__ import annotations

import os


def init_ray(address: str | None = None, num_cpus: int | None = None, worker_niceness: int | None = None) -> bool:
    """Join RAY_ADDRESS (or ``address``) when set, else start a local Ray. True if this call did it."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray

    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    common = {"log_to_driver": False, "configure_logging": False}
    if address:
        ray.init(address=address, **common)
    else:
        if worker_niceness is not None:  # read by the raylet this starts
            os.environ["RAY_worker_niceness"] = str(worker_niceness)
        ray.init(num_cpus=num_cpus, include_dashboard=False, **common)
    return True
