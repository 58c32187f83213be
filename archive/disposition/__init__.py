"""Appraisal and disposition (鉴定与销毁) of dossiers whose retention (保管期限) has ended.

- ``due``: the appraisal list (archived dossiers whose retention ended on a given day);
- ``appraisal``: propose (destroy, or keep N more years), approve or decline, by two different people;
- ``register``: the 销毁清册 document, stored write-once under a legal hold;
- ``destroy``: clearing a destroyed dossier's content, deleting its objects, ``purge`` for the rest;
- ``sharing``: objects another live dossier still references (kept).
"""

from archive.disposition.appraisal import AppraisalView, Decision, approve, decline, list_appraisals, propose
from archive.disposition.destroy import DisposalReport, destroy_objects, purge
from archive.disposition.due import DueDossier, OpenAppraisal, due_list
from archive.disposition.register import register_key

__all__ = [
    "AppraisalView",
    "Decision",
    "DisposalReport",
    "DueDossier",
    "OpenAppraisal",
    "approve",
    "decline",
    "destroy_objects",
    "due_list",
    "list_appraisals",
    "propose",
    "purge",
    "register_key",
]
