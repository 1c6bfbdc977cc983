"""Keel components: plain typed functions in layered packages (see docs/architecture.md).

Ground floor first: core -> models -> families -> config -> data -> problems -> inference -> training
-> lifecycle -> stages | serving. A package imports only the ones below it (checked by `lint-imports`).
"""
