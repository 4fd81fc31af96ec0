"""FHIR adapters: reading input resources and writing output resources (R4 on the wire)."""
