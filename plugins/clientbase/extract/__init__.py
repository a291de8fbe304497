"""Extract: read the sources (CSV drops in a landing folder, or a source database)."""
