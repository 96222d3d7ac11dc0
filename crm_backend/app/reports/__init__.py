"""Reports built from the CRM data and its models."""
