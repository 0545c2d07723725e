"""Pure business rules: no I/O, no clock reads (the time is passed in)."""
