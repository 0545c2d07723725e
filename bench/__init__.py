"""`make bench`: figures, never assertions (timed tests flake)."""
