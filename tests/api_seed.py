"""A small archive for API tests, built directly in the database and the store (no OCR):
two offices, dossiers in every status, page images, searchable PDFs, and one user per role."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from PIL import Image
from pypdf import PdfWriter

from archive.identity import users
from archive.indexing import outbox
from archive.records.models import Batch, Dossier, Original, Page
from archive.runtime import Runtime
from archive.storage.base import content_key, sha256_bytes

PASSWORD = "Archive-Test-2026!"
ROLES = ("archivist", "reviewer", "caseworker", "auditor", "admin")
OFFICE_A, OFFICE_B = "370303", "370304"
PERSON_A = "120104198507151233"  # a valid check digit


@dataclass
class Seed:
    dossiers: dict[str, str] = field(default_factory=dict)  # label -> id
    page_bytes: dict[str, bytes] = field(default_factory=dict)  # dossier id -> page 1 image
    pdf_bytes: dict[str, bytes] = field(default_factory=dict)


def png(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (40, 60), color=seed % 256).save(buf, format="PNG")
    return buf.getvalue()


def pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=300)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def add_users(rt: Runtime, office: str = OFFICE_A, suffix: str = "") -> None:
    with rt.sessions.begin() as session:
        for role in ROLES:
            where = "*" if role in ("auditor", "admin") else office
            users.add_user(session, f"{role}{suffix}", role, where, PASSWORD, "system:test")


def seed(rt: Runtime, uploader: str = "archivist") -> Seed:
    """Dossiers: a1..a3 archived in office A, r1 needs_review in A (uploaded by ``uploader``),
    x1 rejected in A, b1 archived in office B."""
    out = Seed()
    plan = [
        ("a1", OFFICE_A, "archived", PERSON_A),
        ("a2", OFFICE_A, "archived", None),
        ("a3", OFFICE_A, "archived", PERSON_A),
        ("r1", OFFICE_A, "needs_review", PERSON_A),
        ("x1", OFFICE_A, "rejected", None),
        ("b1", OFFICE_B, "archived", PERSON_A),
    ]
    pdf_data = pdf()
    pdf_key = content_key("pdf", sha256_bytes(pdf_data), ".pdf")
    rt.store.put(pdf_key, pdf_data)
    with rt.sessions.begin() as session:
        batches = {}
        for office in (OFFICE_A, OFFICE_B):
            batch = Batch(created_by=uploader, office=office, status="completed", fingerprint=office, engine="test")
            session.add(batch)
            session.flush()
            batches[office] = batch.id
        ocr_body = b'{"text_lines": []}'
        ocr_key = content_key("ocr", sha256_bytes(ocr_body), ".json")
        rt.store.put(ocr_key, ocr_body)
        for n, (label, office, status, person) in enumerate(plan):
            scanned = pdf_data + f"% seed {label}".encode()  # every dossier its own stored original
            original_info = rt.store.put(content_key("originals", sha256_bytes(scanned), ".pdf"), scanned)
            original = Original(
                sha256=original_info.sha256,
                size=original_info.size,
                media_type="application/pdf",
                filename=f"{label}.pdf",
                object_key=original_info.key,
                batch_id=batches[office],
            )
            session.add(original)
            session.flush()
            dossier = Dossier(
                batch_id=batches[office],
                original_id=original.id,
                seq_in_source=1,
                archive_number=f"{office}-2026-{n:04d}",
                title=f"参保登记 {label}",
                office=office,
                business_type="参保登记",
                status=status,
                person_id_number=person,
                person_name="张三",
                page_count=1,
                searchable_pdf_key=pdf_key,
                ingested_by=uploader,
                problems=[{"code": "low_confidence", "detail": "低置信度"}] if status == "needs_review" else [],
            )
            session.add(dossier)
            session.flush()
            outbox.enqueue(session, dossier.id)  # searchable once committed, like an ingested dossier
            image = png(n)
            key = content_key("pages", sha256_bytes(image), ".png")
            rt.store.put(key, image)
            session.add(
                Page(
                    dossier_id=dossier.id,
                    number=1,
                    source_index=0,
                    image_key=key,
                    image_sha256=sha256_bytes(image),
                    media_type="image/png",
                    width=40,
                    height=60,
                    ocr_key=ocr_key,
                    ocr_engine="test",
                    text=f"参保登记 {label}",
                    lines=[],
                    mean_confidence=0.99,
                )
            )
            out.dossiers[label] = dossier.id
            out.page_bytes[dossier.id] = image
            out.pdf_bytes[dossier.id] = pdf_data
    return out
