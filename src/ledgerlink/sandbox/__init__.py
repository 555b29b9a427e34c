"""Local emulators of the vendors' APIs, served over real HTTP on loopback.

Each system lives in its own sub-package and exposes ``create_app(config)`` returning an ASGI app, and a
``SandboxKind`` (``<system>/kind.py``) registered under the ``ledgerlink.sandboxes`` entry points.
The shared pieces (serving in a thread, TLS, fault injection) are the private modules beside this file.
"""
