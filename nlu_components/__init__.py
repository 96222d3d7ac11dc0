"""Custom Rasa graph components of the shop assistant's NLU pipeline."""
