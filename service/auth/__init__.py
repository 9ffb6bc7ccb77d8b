"""Who is asking: API keys, the tenant and role they stand for, and when a key is needed.

``principal`` (tenants, roles), ``keys`` (the key format and its argon2 hash), ``authenticator``
(a presented key → a principal, cached briefly per process) and ``exposure`` (auth off is only
allowed on loopback unless said explicitly).
"""
