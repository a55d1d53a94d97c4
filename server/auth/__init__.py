"""Authentication: passwords, access tokens, refresh tokens, API keys, the request principal."""
