"""Storage: tables, migrations and the queries, in one place."""
