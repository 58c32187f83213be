"""The web interface: server-rendered pages (Jinja2) in Simplified Chinese over the same services
as the JSON API, with small vanilla scripts for uploads, live status and keyboard use.

Every asset is served by the app itself (``/static``): no CDN, no external fonts.  Pages sign in
with the same HttpOnly session cookie as the API; actions go through the JSON API with the CSRF
header, so each rule (roles, offices, maker-checker, access logging) lives in one place.
"""
