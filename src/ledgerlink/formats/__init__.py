"""Formats both sides of the house speak (our systems and the vendors' sandboxes), so neither imports the other:
the Pub/Sub API's stubs and a small PDF writer."""
