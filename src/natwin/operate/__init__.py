"""The plant in operation: measured data in, reconciled, compared with the design, accounted.

Modules (docs/operate.md): ``tagmap`` and ``units`` (which tag measures what, in which unit,
how well), ``checks`` (data checks on the way in), ``tsstore`` (the time-series store),
``ingest`` (historian exports), ``opcua`` (live reads), and the reconciliation, performance
and accounting modules built on them.
"""
