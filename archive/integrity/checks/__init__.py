"""The checks of the four properties (四性检测, DA/T 70-2018), as a plain list of functions.

A check is a function ``(CheckContext) -> Findings``: it looks at the chunk of dossiers and objects
in the context, counts what it examined and records what failed (by key, dossier, page).  The
runner calls every check of ``DEFAULT_CHECKS`` on every chunk, in list order, and stamps each
failure with the check's property and name.

**Extension point.**  To add a check, write a function
over ``CheckContext`` in a module of this package and append a ``Check`` to ``DEFAULT_CHECKS`` (or
pass your own list to ``run_checks(..., checks=...)``).  Useful context: ``ctx.objects`` (every
object of the chunk with the digest the records expect), ``ctx.due_objects()`` (those whose bytes
this run may read), ``ctx.protection(key)`` (the backend's lock/retention/legal hold or file mode,
memoised), ``ctx.dossiers`` (records, pages, catalogue), ``ctx.taxonomy`` (retention per business
type: ``archive.taxonomy.retain_until``).  Skip keys already in ``ctx.failed``; call
``ctx.mark_read(key, sha, size)`` for every object whose bytes you read, so it gets a fixity row.
Order matters only for that skipping: presence first, then digests, then decoding, then protection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from archive.integrity.checks import authenticity, completeness, security, usability
from archive.integrity.context import CheckContext
from archive.integrity.report import Findings, Property


@dataclass(frozen=True)
class Check:
    property: Property
    name: str  # stable identifier, in reports and JSON
    label: str  # for people (Chinese)
    run: Callable[[CheckContext], Findings]


DEFAULT_CHECKS: tuple[Check, ...] = (
    # Presence first: a missing object is reported once, as missing, and skipped by the rest.
    Check("integrity", "objects_present", "对象齐全", completeness.objects_present),
    Check("integrity", "pages_complete", "页面齐全、页号连续", completeness.pages_complete),
    Check("integrity", "catalogue_complete", "卷内目录齐全、页号范围有效", completeness.catalogue_complete),
    Check("integrity", "required_metadata", "必备著录项齐全（GB/T 18894-2016）", completeness.required_metadata),
    Check("authenticity", "object_digest", "对象哈希与记录一致", authenticity.object_digests),
    Check("authenticity", "metadata_consistent", "元数据与内容一致", authenticity.metadata_consistent),
    Check("authenticity", "pdf_page_count", "双层 PDF 页数与记录一致", authenticity.pdf_page_counts),
    Check("usability", "page_images_decode", "页面图像可解码", usability.page_images_decode),
    Check("usability", "ocr_results_parse", "识别结果可解析", usability.ocr_results_parse),
    Check("usability", "pdf_text_layer", "双层 PDF 可打开且有文字层", usability.pdf_text_layer),
    Check("security", "write_protection", "存储防改写、防删除保护", security.write_protection),
    Check("security", "retention_set", "对象保留期限覆盖保管期限（永久为法律保留）", security.retention_set),
    Check("security", "replica_in_step", "副本（双重备份）齐全且一致", security.replica_in_step),
)

__all__ = ["DEFAULT_CHECKS", "Check"]
