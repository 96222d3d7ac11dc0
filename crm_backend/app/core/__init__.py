"""Settings, database plumbing and security primitives."""
