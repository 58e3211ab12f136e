"""Card-authorization features: definitions, pure transformations and the backfill job's I/O."""
