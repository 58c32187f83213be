"""The HTTP API (FastAPI): ``archive serve``."""
