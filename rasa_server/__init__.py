"""How this project starts Rasa's server: ``python -m rasa_server <rasa run options>`` (see ``__main__``)."""
