"""社保档案数字化服务 — record keeping and archive digitisation for social-insurance offices."""

__version__ = "0.1.0"
