"""Rasa event brokers: they see every tracker event the Rasa server stores."""
