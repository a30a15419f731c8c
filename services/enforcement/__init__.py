"""enforcement (监管宝): online cases and tamper-evident evidence."""
