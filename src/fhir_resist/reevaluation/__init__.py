"""Whole populations re-evaluated: NDJSON in (a Bulk Data export), grouped by patient on disk,
evaluated on worker processes or Dask, compared with the last results, the changes out.

``sources`` (the files), ``partitions`` (spill and group), ``affected`` (who a catalogue change
touches), ``engines`` / ``dask_engine`` (where patients are evaluated), ``previous`` (the last
results), ``alerts`` and ``changes`` (what changed, by clinical content), ``writeback``,
``report`` (rows, totals, CSV / Parquet) and ``run`` (the whole, a partition at a time).
"""
