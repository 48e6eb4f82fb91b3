"""nodes room."""
