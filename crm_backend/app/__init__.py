"""CRM backend of the shop customer-service assistant."""
