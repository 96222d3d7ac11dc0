"""Data loading: the demo shop and imports of real transaction files."""
