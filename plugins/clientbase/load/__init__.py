"""Load: COPY records into a landing table, type-check them in SQL, keep or quarantine."""
