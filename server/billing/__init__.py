"""Plans and (later) metering and payments."""
