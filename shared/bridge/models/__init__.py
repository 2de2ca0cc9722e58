"""Models by owner: inbound payloads, domain, API responses, outbound messages."""
