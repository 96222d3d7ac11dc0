"""HTTP layer: dependencies, error handling and one router per resource."""
