"""Intake: turn a source file into page images, one ingestor per input format."""

from archive.intake.base import IntakeError, IntakePage, SourceFile
from archive.intake.manager import expand_paths, open_source

__all__ = ["IntakeError", "IntakePage", "SourceFile", "expand_paths", "open_source"]
