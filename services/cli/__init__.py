"""The ``redshield`` command: serve a service, bring everything up, issue dev tokens, demo, bench."""
