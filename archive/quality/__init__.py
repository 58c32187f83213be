"""Scan-quality checks at intake (DA/T 31-2017 纸质档案数字化规范): resolution, colour kept for red
seals and headers, blank pages, skew.  ``page.assess_page`` measures a page image (and straightens
it); ``findings`` turns the measurements into problems on a dossier."""

from archive.quality.page import Assessment, PageQuality, QualityConfig, assess_page
from archive.quality.resolution import Resolution

__all__ = ["Assessment", "PageQuality", "QualityConfig", "Resolution", "assess_page"]
