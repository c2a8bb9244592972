"""Per-agency webhooks: release-day alerts signed and delivered off the request path."""
