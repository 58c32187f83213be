"""The four-property checks of archived records (四性检测, DA/T 70-2018): authenticity, integrity,
usability and security, with fixity records so that scheduled runs read only what is due.

Modules, one job each: ``snapshot`` (the records, as plain data), ``fixity`` (re-hashing, the
``fixity_checks`` table), ``protection`` (a backend's write protection), ``context`` (what a check
gets), ``checks/`` (the check functions and the list of them: the extension point), ``report``
(results, text and JSON), ``run`` (chunks, sampling, the access-log entry, the scheduler's entry).
"""

from archive.integrity.checks import DEFAULT_CHECKS, Check
from archive.integrity.context import CheckContext
from archive.integrity.report import PROPERTIES, Failure, Findings, IntegrityReport
from archive.integrity.run import CheckOptions, check_and_log, run_checks, run_scheduled

__all__ = [
    "DEFAULT_CHECKS",
    "PROPERTIES",
    "Check",
    "CheckContext",
    "CheckOptions",
    "Failure",
    "Findings",
    "IntegrityReport",
    "check_and_log",
    "run_checks",
    "run_scheduled",
]
