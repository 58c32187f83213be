"""How much work waits in the broker: messages per queue (Redis lists), for readiness and metrics."""

from __future__ import annotations

from archive.distributed.app import FILES_QUEUE, PAGES_QUEUE
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
