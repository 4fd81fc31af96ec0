"""The CDS Hooks service and the posted-report trigger (``fhir-resist serve``)."""
