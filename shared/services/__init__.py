"""Use cases: one function per route, joining rules (domain) to storage (repositories)."""
