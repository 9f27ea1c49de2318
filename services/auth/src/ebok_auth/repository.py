"""auth SQL: every query of this service, plain asyncpg."""
