"""Keel components: plain typed functions, one module per pipeline stage."""
