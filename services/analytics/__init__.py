"""analytics: every event into ClickHouse, the cockpits and risk warnings."""
