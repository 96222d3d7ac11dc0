"""Models of the CRM: churn risk, recommendations, segments; trained by commands, served by the API."""
