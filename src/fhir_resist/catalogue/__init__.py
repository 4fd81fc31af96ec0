"""The resistance catalogue: schema, loading, linting and the matching index."""

from fhir_resist.catalogue.index import Catalogue
from fhir_resist.catalogue.loader import default_path, load_catalogue

__all__ = ["Catalogue", "default_path", "load_catalogue"]
