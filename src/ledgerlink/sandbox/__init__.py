"""Local emulators of Salesforce, KashFlow and Kashoo, served over real HTTP on loopback.

Each system lives in its own sub-package and exposes ``create_app(config)`` returning an ASGI app.
The shared pieces (serving in a thread, TLS, fault injection) are the private modules beside this file.
"""
