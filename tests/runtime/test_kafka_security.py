"""Kafka authentication comes from settings: none in dev, SCRAM per service in production, never a placeholder."""

from __future__ import annotations

import pytest
from faststream.security import SASLScram512

from services.runtime.kafka import broker_security, client_security
from services.runtime.settings import SettingsError, load


def test_plaintext_needs_no_credentials() -> None:
    settings = load("channel", kafka_security_protocol="PLAINTEXT")
    assert client_security(settings) == {}
    assert broker_security(settings) is None


def test_a_service_authenticates_with_its_own_scram_principal() -> None:
    settings = load("channel", kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="svc-channel",
                    kafka_sasl_password="Zq3v8XkP2mL7nR4tW9yB1cD6fH0jG5sA")
    options = client_security(settings)
    assert options["sasl_mechanism"] == "SCRAM-SHA-512" and options["sasl_plain_username"] == "svc-channel"
    assert isinstance(broker_security(settings), SASLScram512)


@pytest.mark.parametrize("password", [None, "set-me", "change-me"])
def test_missing_or_placeholder_kafka_passwords_are_refused(password: str | None) -> None:
    settings = load("channel", kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="svc-channel", kafka_sasl_password=password)
    with pytest.raises(SettingsError):
        client_security(settings)
