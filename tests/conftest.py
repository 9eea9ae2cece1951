"""Session fixtures for the real local services (mosquitto, Pub/Sub emulator).

Each is started once per test session on a free loopback port and stopped at the
end, process group and all; tests that need a fresh one use the context managers
of :mod:`cli.local_services` directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.local_services import Mosquitto, PubSubEmulator, mosquitto, pubsub_emulator
from schemas.site_config import SiteConfig, load_site_config

REPO_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_CONFIG = REPO_ROOT / "config" / "atlanta-pilot.yaml"


@pytest.fixture(scope="session")
def site_config() -> SiteConfig:
    return load_site_config(REFERENCE_CONFIG)


@pytest.fixture(scope="session")
def mqtt_broker() -> Iterator[Mosquitto]:
    with mosquitto() as broker:
        yield broker


@pytest.fixture(scope="session")
def pubsub(monkeypatch_session: pytest.MonkeyPatch) -> Iterator[PubSubEmulator]:
    """The emulator, with PUBSUB_EMULATOR_HOST set for the google-cloud clients."""
    with pubsub_emulator() as emulator:
        monkeypatch_session.setenv("PUBSUB_EMULATOR_HOST", emulator.host)
        yield emulator


@pytest.fixture(scope="session")
def monkeypatch_session() -> Iterator[pytest.MonkeyPatch]:
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()
