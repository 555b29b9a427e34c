"""Salesforce's Pub/Sub API (``eventbus.v1.PubSub``) as published: the proto and the stubs generated from it.

Neutral ground: the Salesforce system's change-data-capture client and the Salesforce sandbox's gRPC server both
speak it, and neither imports the other. Regeneration: README.md.
"""
