"""Benchmarks of fhir_resist: input generators (``bench.generate``) and the runner (``bench.run``)."""
