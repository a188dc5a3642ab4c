"""Flask web reader (see issue 3)."""
