"""Ground floor: what a view is set to (:class:`RunConfig`, the one table of limits, the URL round
trip) and how each registered cell is presented (:data:`VIEWS`). Every other room reads these; this
room reads only :mod:`bptt_core`."""

from dashboard.config.run_config import (
    CHECKPOINTS,
    DTYPES,
    INIT_OPTIONS,
    LIMITS,
    PAGE_PARAMS,
    RunConfig,
    from_mapping,
)

__all__ = ["CHECKPOINTS", "DTYPES", "INIT_OPTIONS", "LIMITS", "PAGE_PARAMS", "RunConfig", "from_mapping"]
