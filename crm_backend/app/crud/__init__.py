"""Plain keyword-only functions that read and write the database for the routes."""
