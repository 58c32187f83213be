"""Case-record extraction from page OCR: label–value fields, the cover and the 卷内目录."""

from archive.extract.catalogue import CatalogueEntry, check_catalogue
from archive.extract.fields import CaseRecord, extract_record

__all__ = ["CaseRecord", "CatalogueEntry", "check_catalogue", "extract_record"]
