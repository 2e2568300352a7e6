"""Everything about the LAPOR! API: its records (models.py: ApiReport,
ApiFollowUp, ApiTopic, ... as the API sends them) and the HTTP client
(client.py, with its RequestRetryPolicy and the RateLimiter of ratelimit.py)."""
