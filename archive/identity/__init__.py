"""Who is asking: users, password hashes, tokens, roles.

Local users sign in with a password (argon2id).  An external identity provider (OIDC) fits
behind the same seam later: it maps a verified ID token's ``sub`` to a ``User`` row with
``provider``/``subject`` set, and everything after that (tokens, roles, scope, the access log)
works on the resulting ``Principal`` unchanged.
"""
