"""What the broker knows: messages waiting per queue (Redis lists) and the workers that answer, for
readiness, metrics, the status page and the healthcheck."""

from __future__ import annotations

from archive.distributed.app import FILES_QUEUE, PAGES_QUEUE, make_app
from archive.settings import Settings

QUEUES = (FILES_QUEUE, PAGES_QUEUE)


def queue_lengths(settings: Settings, timeout: float = 2.0) -> dict[str, int]:
    """Messages waiting in each ingest queue (not those a worker holds).  Raises when the broker
    cannot be reached within ``timeout`` seconds."""
    import redis

    assert settings.broker_url, "no broker configured"
    client = redis.Redis.from_url(settings.broker_url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        with client.pipeline() as pipe:
            for queue in QUEUES:
                pipe.llen(queue)
            return dict(zip(QUEUES, (int(n) for n in pipe.execute()), strict=True))
    finally:
        client.close()


def workers_online(settings: Settings, timeout: float, name: str | None = None) -> list[str]:
    """The worker nodes (or only ``name``) that answer a ping within ``timeout`` seconds."""
    with make_app(settings) as app:
        replies = app.control.ping(destination=[name] if name else None, timeout=timeout)
    return sorted(node for reply in replies for node in reply)
