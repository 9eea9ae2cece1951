"""The bridge's configuration: a YAML file, overridden field by field from the environment.

Secrets and per-host values (password, client id) usually come from the environment
(``DRA_BRIDGE_MQTT__PASSWORD``), the rest from the file. Everything is validated once
at start: a bad value stops the bridge with the field path and the reason, never later
with a connection error that hides the cause. The password is a ``SecretStr``, so it
never appears in a log line or a repr.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = [
    "ENV_PREFIX",
    "BridgeConfig",
    "BridgeConfigError",
    "MqttConfig",
    "PubSubConfig",
    "TlsConfig",
    "load_bridge_config",
]

ENV_PREFIX = "DRA_BRIDGE_"
"""Environment overrides: ``DRA_BRIDGE_<SECTION>__<FIELD>`` (``__`` separates levels)."""

PUBSUB_MAX_MESSAGE_BYTES = 10_000_000
"""Pub/Sub's limit on one publish request (data + attributes + overhead)."""

_Port = Annotated[int, Field(ge=1, le=65_535)]
_PosSeconds = Annotated[float, Field(gt=0.0)]


class BridgeConfigError(ValueError):
    """A bridge config that cannot be used; the message names the source, field and reason."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"{source}: invalid bridge config"]
        lines += [f"  {field}: {reason}" for field, reason in problems]
        super().__init__("\n".join(lines))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


def _existing_file(value: Path | None) -> Path | None:
    if value is not None and not value.is_file():
        raise ValueError(f"file not found: {value}")
    return value


class TlsConfig(_Section):
    """TLS to the broker. With no ``ca_file`` the system trust store is used."""

    ca_file: Path | None = Field(default=None, description="PEM CA bundle that signed the broker")
    cert_file: Path | None = Field(default=None, description="PEM client certificate (mTLS)")
    key_file: Path | None = Field(default=None, description="PEM private key of cert_file")

    _check_files = field_validator("ca_file", "cert_file", "key_file")(_existing_file)

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> Self:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file must be given together")
        return self


def _valid_topic_filter(value: str) -> str:
    """MQTT topic filter rules: ``+`` is a whole level, ``#`` only as the last level."""
    if not value or len(value.encode()) > 65_535:
        raise ValueError("a topic filter must be 1 to 65535 bytes")
    if value.startswith("$share/"):
        raise ValueError("give the plain filter; shared subscriptions come from shared_group")
    levels = value.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            raise ValueError(f"'#' must be the whole last level in {value!r}")
        if "+" in level and level != "+":
            raise ValueError(f"'+' must be a whole level in {value!r}")
    return value


class MqttConfig(_Section):
    """The broker, the session and what to subscribe to."""

    host: str = Field(min_length=1)
    port: _Port = 1883
    protocol: Literal["5", "3.1.1"] = Field(
        default="5", description="MQTT version; shared subscriptions need 5"
    )
    client_id: str = Field(
        min_length=1,
        max_length=128,
        description="Stable per replica: the persistent session is keyed on it",
    )
    username: str | None = None
    password: SecretStr | None = None
    tls: TlsConfig | None = None
    topic_filters: list[Annotated[str, AfterValidator(_valid_topic_filter)]] = Field(
        default_factory=lambda: ["dra/+/+/telemetry"], min_length=1
    )
    shared_group: str | None = Field(
        default=None,
        pattern=r"^[^/+#]+$",
        description="Subscribe as $share/<group>/<filter> so replicas split the load",
    )
    keepalive_s: int = Field(default=30, ge=5, le=65_535)
    session_expiry_s: int = Field(
        default=7 * 24 * 3600,
        ge=1,
        description="How long the broker keeps the session (and its queued readings) "
        "while the bridge is away (MQTT 5; 3.1.1 sessions never expire)",
    )
    reconnect_min_delay_s: int = Field(default=1, ge=1)
    reconnect_max_delay_s: int = Field(default=30, ge=1)
    skid_id_topic_level: int = Field(
        default=2, ge=0, description="0-based topic level holding the skid id"
    )

    @field_validator("topic_filters", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        """Accept ``a,b`` from the environment as well as a YAML list."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.shared_group is not None and self.protocol != "5":
            raise ValueError("shared_group needs protocol '5'")
        if self.password is not None and self.username is None:
            raise ValueError("password given without username")
        if self.reconnect_max_delay_s < self.reconnect_min_delay_s:
            raise ValueError("reconnect_max_delay_s is below reconnect_min_delay_s")
        return self

    def subscriptions(self) -> list[str]:
        """The filters as subscribed: prefixed with ``$share/<group>/`` when shared."""
        if self.shared_group is None:
            return list(self.topic_filters)
        return [f"$share/{self.shared_group}/{f}" for f in self.topic_filters]


class PubSubConfig(_Section):
    """Where readings go and how they are batched and retried."""

    project: str = Field(min_length=1, description="GCP project id of the topics")
    topic: str = Field(min_length=3, max_length=255, pattern=r"^[A-Za-z][A-Za-z0-9._~%+-]*$")
    dead_letter_topic: str = Field(
        min_length=3, max_length=255, pattern=r"^[A-Za-z][A-Za-z0-9._~%+-]*$"
    )
    emulator_host: str | None = Field(
        default=None,
        description="host:port of a Pub/Sub emulator; unset: PUBSUB_EMULATOR_HOST, else Google",
    )
    ordering_by_skid: bool = Field(
        default=False,
        description="Publish with ordering key = skid id (the topic's subscribers "
        "must enable message ordering to benefit)",
    )
    # Pub/Sub's own maximum batch, 50 ms: measured against 500 and 10 ms, the bridge used
    # ~25 % less CPU per message and the emulator less than half (README, Throughput).
    batch_max_messages: int = Field(default=1000, ge=1, le=1000)
    batch_max_bytes: int = Field(default=1_000_000, ge=1_000, le=PUBSUB_MAX_MESSAGE_BYTES)
    batch_max_latency_s: _PosSeconds = 0.05
    max_message_bytes: int = Field(
        default=PUBSUB_MAX_MESSAGE_BYTES,
        ge=1_000,
        le=PUBSUB_MAX_MESSAGE_BYTES,
        description="Payload + attributes above this go to the dead-letter topic",
    )
    dead_letter_payload_bytes: int = Field(
        default=1_000_000,
        ge=0,
        le=PUBSUB_MAX_MESSAGE_BYTES // 2,
        description="How much of an oversize payload its dead letter keeps (the head)",
    )
    oversize_spill_dir: Path | None = Field(
        default=None, description="If set, the whole oversize payload is written here first"
    )
    retry_initial_s: _PosSeconds = 0.2
    retry_max_s: _PosSeconds = 10.0
    publish_timeout_s: _PosSeconds = Field(
        default=60.0,
        description="Deadline of one Publish call; a failed call's messages are re-queued "
        "with backoff (retry_initial_s to retry_max_s)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.dead_letter_topic == self.topic:
            raise ValueError("dead_letter_topic must differ from topic")
        if self.retry_max_s < self.retry_initial_s:
            raise ValueError("retry_max_s is below retry_initial_s")
        if self.dead_letter_payload_bytes >= self.max_message_bytes:
            raise ValueError("dead_letter_payload_bytes must be below max_message_bytes")
        return self


class BridgeConfig(_Section):
    """The whole bridge."""

    mqtt: MqttConfig
    pubsub: PubSubConfig
    # 10 batches of 1,000: with 2,000 (two batches) the bridge waited on acks while
    # draining a backlog (measured 11-13k against 15-16k msg/s, README Throughput).
    max_in_flight: int = Field(
        default=10_000,
        ge=1,
        le=65_535,
        description="Readings received but not yet accepted by Pub/Sub (MQTT 5 Receive "
        "Maximum); the broker holds the rest",
    )
    max_in_flight_bytes: int = Field(
        default=200_000_000,
        ge=PUBSUB_MAX_MESSAGE_BYTES,
        description="Bytes queued for or in flight to Pub/Sub; receiving waits above it",
    )
    health_host: str = "0.0.0.0"
    health_port: int | None = Field(
        default=8080, ge=0, le=65_535, description="0: any free port; null: no HTTP server"
    )
    drain_timeout_s: _PosSeconds = Field(
        default=10.0, description="On SIGTERM, how long to wait for in-flight readings"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(root)"


def _apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    """Overlay ``DRA_BRIDGE_A__B=value`` onto ``data['a']['b']`` (values stay strings;
    pydantic converts them)."""
    for key, value in sorted(environ.items()):
        if not key.startswith(ENV_PREFIX):
            continue
        path = key[len(ENV_PREFIX) :].lower().split("__")
        node = data
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[path[-1]] = value


def load_bridge_config(
    path: str | Path | None, environ: Mapping[str, str] | None = None
) -> BridgeConfig:
    """Read a YAML bridge config (optional) and apply ``DRA_BRIDGE_*`` overrides.

    Raises:
        BridgeConfigError: the file is missing or not YAML, or a field is invalid; the
            message names the source, each field path and the reason.
    """
    environ = os.environ if environ is None else environ
    source = str(path) if path is not None else "environment"
    data: Any = {}
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise BridgeConfigError(source, [("(file)", exc.strerror or str(exc))]) from None
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise BridgeConfigError(source, [("(yaml)", str(exc).replace("\n", " "))]) from None
        if not isinstance(data, dict):
            raise BridgeConfigError(source, [("(root)", "expected a mapping at the top level")])
    _apply_env(data, environ)
    try:
        return BridgeConfig.model_validate(data)
    except ValidationError as exc:
        problems = [(_field_path(tuple(e["loc"])), e["msg"]) for e in exc.errors()]
        raise BridgeConfigError(source, problems) from None
