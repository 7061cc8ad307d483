"""ModelSpec: the declared intent of a deployment, its schema, checks, generation and drift."""
