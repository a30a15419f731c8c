"""Data files the runtime loads once at start (a package, so the files ship in the wheel)."""
