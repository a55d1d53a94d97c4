"""Fake carrier REST APIs speaking each carrier's wire protocol on 127.0.0.1."""
