"""Custom actions of the shop assistant; rasa-sdk imports every module of this package."""
