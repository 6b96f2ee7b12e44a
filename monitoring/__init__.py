"""Model health as pure functions: reference profiles, drift, label-free and realised
performance, and the data guards of the promotion gate.

Nothing here does I/O or imports a stage above ``features``: training (the profile written
into each bundle, the gate), serving (``/v1/model/health``, the gauges, the ``model_health``
alert) and the CLI (``churnlight monitor``) pass arrays and bundles in and get tables or
small dataclasses back. See docs/monitoring.md for what each number means.
"""
