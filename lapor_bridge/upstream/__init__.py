"""Everything about the LAPOR! API: its records (models) and the HTTP client."""
