"""Local orchestration: environments, secrets and the supervisor behind ``make run`` (standard library only)."""
