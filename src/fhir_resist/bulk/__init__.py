"""FHIR Bulk Data Access ($export): whole populations out of the FHIR server, onto disk.

- ``kickoff``: what is asked for (system, group or patient level; ``_type`` limited to what
  fhir_resist reads, ``_typeFilter``, ``_since``) and the kick-off request (``202`` and the
  status URL in ``Content-Location``).
- ``polling``: the status URL polled, honouring ``Retry-After`` within bounds and a total
  time-out, ``X-Progress`` passed on; the completion manifest read (``manifest``).
- ``download``: each output and error file streamed to disk, resumed with ``Range`` where the
  file server answers ``206``, the access token sent only to the FHIR server's origin.
- ``outcomes``: the error files (OperationOutcome NDJSON) counted and their first messages.
- ``record``: the export's record beside the files (``export.json``): what was asked, the
  server's manifest, each file's state; a re-run continues where the last stopped.
- ``job``: the steps in order, the job deleted on the server when done or abandoned.

The files are the population's input for re-evaluation; nothing here evaluates anything.
"""
