"""Business logic that spans several tables: identity verification, support tickets, models."""
