"""Use cases: each service speaks ports and domain, never a Google library."""
