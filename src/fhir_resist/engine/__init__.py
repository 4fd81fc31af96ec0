"""The assessment engine: pure functions from a PatientContext and a Catalogue to an Assessment."""
