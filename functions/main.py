"""Cloud Functions entry points: one per endpoint config, plus the worker.

Deploy each endpoint with ``--entry-point=<endpointName>`` and the worker
with ``--entry-point=process_event``. The local stack serves them all
through ``acehooks_local``.
"""

from acehooks.runtime import entry_points

globals().update(entry_points())
