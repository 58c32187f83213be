"""The Celery application, configured from the settings (one per process that needs it)."""

from __future__ import annotations

from celery import Celery

from archive.settings import Settings

PAGES_QUEUE = "archive.pages"
FILES_QUEUE = "archive.files"  # taken before pages: a file whose pages are read is finished first

OCR_TASK = "archive.ocr_page"
FINISH_TASK = "archive.finish_file"
INDEX_TASK = "archive.index_file"


def _limits(seconds: float, retries: int) -> dict:
    return {"time_limit": seconds, "soft_time_limit": seconds * 0.9, "max_retries": retries}


def make_app(settings: Settings) -> Celery:
    """Redis as broker and result backend; late acknowledgement, one task reserved per process, a
    visibility timeout above the longest task, and processes replaced after N tasks."""
    if not settings.broker_url:
        raise ValueError("ARCHIVE_BROKER_URL is not set")
    app = Celery("archive", broker=settings.broker_url, backend=settings.result_url or settings.broker_url)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        # A task is acknowledged when it has finished, so a worker that dies mid-task loses nothing:
        # the message goes back to the queue (child killed: at once; whole worker gone: after the
        # visibility timeout) and another worker runs it.  Every task is idempotent.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={
            "visibility_timeout": settings.task_visibility_seconds,
            "queue_order_strategy": "priority",  # FILES_QUEUE before PAGES_QUEUE
        },
        broker_connection_retry_on_startup=True,
        task_routes={
            OCR_TASK: {"queue": PAGES_QUEUE},
            FINISH_TASK: {"queue": FILES_QUEUE},
            INDEX_TASK: {"queue": FILES_QUEUE},
        },
        task_default_queue=PAGES_QUEUE,
        # One entry per task (a task takes only the first annotation that names it).
        task_annotations={
            OCR_TASK: _limits(settings.task_ocr_seconds, settings.task_retries),
            FINISH_TASK: _limits(settings.task_file_seconds, settings.task_retries),
            INDEX_TASK: _limits(settings.task_file_seconds, settings.task_retries),
        },
        task_track_started=True,
        result_expires=86_400,
        worker_concurrency=settings.worker_concurrency,
        worker_max_tasks_per_child=settings.worker_recycle_tasks,
        worker_hijack_root_logger=False,  # the JSON log of archive.logs
        worker_redirect_stdouts=False,
        worker_send_task_events=False,
        include=["archive.distributed.tasks"],
    )
    return app
