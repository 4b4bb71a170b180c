"""Code shared by every Cloud Function: domain, ports, services, adapters and their wiring."""
