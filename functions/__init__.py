"""Inbound adapters: each entry point parses its trigger, calls one service, and maps the outcome."""
