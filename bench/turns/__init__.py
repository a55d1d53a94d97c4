"""Turn-taking evaluation: ``switchboard eval turns`` (see docs/TURN_TAKING.md)."""
