"""Fitted transforms, one module per data kind; `registry.py` maps a saved transform back to its class."""
