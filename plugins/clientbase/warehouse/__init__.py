"""The PostgreSQL warehouse: the embedded server, connections and the schema."""
