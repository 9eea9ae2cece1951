"""Start and stop the real local services the twin runs against: mosquitto and the
Pub/Sub emulator. Used by ``make demo`` and by the test fixtures.

Each service runs in its own process group on a free loopback port, so stopping it
also stops children (the emulator's gcloud wrapper leaves a Java child otherwise).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ServiceError",
    "free_port",
    "mosquitto",
    "pubsub_emulator",
    "stop_process_group",
    "wait_for_port",
]


class ServiceError(RuntimeError):
    """A local service could not be started."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Block until something accepts connections on ``127.0.0.1:port``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServiceError(f"process exited with {proc.returncode} before port {port} opened")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise ServiceError(f"nothing listened on 127.0.0.1:{port} within {timeout_s} s")


def stop_process_group(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL what is left."""
    if proc.poll() is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout_s)
    # The leader may be gone while children linger (gcloud -> java): sweep the group
    # and wait until it is empty, so no port or process outlives the caller.
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        time.sleep(0.05)


@dataclass
class Mosquitto:
    """A running mosquitto broker."""

    host: str
    port: int
    proc: subprocess.Popen[bytes]
    config_path: Path

    def restart(self) -> None:
        """Stop and start the broker on the same port (persistence keeps sessions)."""
        stop_process_group(self.proc)
        self.proc = _spawn_mosquitto(self.config_path)
        wait_for_port(self.port, 10.0, self.proc)


def _spawn_mosquitto(config_path: Path) -> subprocess.Popen[bytes]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        raise ServiceError("mosquitto not found: install it with 'apt-get install -y mosquitto'")
    return subprocess.Popen(
        [binary, "-c", str(config_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@contextlib.contextmanager
def mosquitto(port: int | None = None, workdir: Path | None = None) -> Iterator[Mosquitto]:
    """Run mosquitto on loopback with persistence (so QoS 1 sessions survive restarts)."""
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="mosquitto-") as tmp:
        base = workdir or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        config_path = base / "mosquitto.conf"
        config_path.write_text(
            "\n".join(
                [
                    f"listener {port} 127.0.0.1",
                    "allow_anonymous true",
                    "persistence true",
                    f"persistence_location {base}/",
                    "max_queued_messages 0",
                    "max_inflight_messages 0",
                    "log_type error",
                    # Started as root, mosquitto drops to user "mosquitto", which cannot
                    # write the private temp dir: persistence would silently save nothing
                    # and a restart would lose every session. Stay the current user.
                    f"user {getpass.getuser()}",
                    "",
                ]
            )
        )
        proc = _spawn_mosquitto(config_path)
        broker = Mosquitto("127.0.0.1", port, proc, config_path)
        try:
            wait_for_port(port, 10.0, proc)
            yield broker
        finally:
            stop_process_group(broker.proc)


@dataclass
class PubSubEmulator:
    """A running Pub/Sub emulator; ``host`` is what PUBSUB_EMULATOR_HOST takes."""

    host: str
    port: int
    project: str
    proc: subprocess.Popen[bytes]
    data_dir: Path

    def stop(self) -> None:
        stop_process_group(self.proc)

    def start(self) -> None:
        """(Re)start on the same port; topics and subscriptions do not survive a restart."""
        self.proc = _spawn_emulator(self.port, self.data_dir)
        wait_for_port(self.port, 60.0, self.proc)


def _spawn_emulator(port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise ServiceError("gcloud not found: the Pub/Sub emulator needs the Google Cloud CLI")
    log = (data_dir / "emulator.log").open("ab")
    return subprocess.Popen(
        [
            gcloud,
            "beta",
            "emulators",
            "pubsub",
            "start",
            f"--host-port=127.0.0.1:{port}",
            f"--data-dir={data_dir}",
            "--quiet",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@contextlib.contextmanager
def pubsub_emulator(project: str = "local-dra-twin") -> Iterator[PubSubEmulator]:
    """Run the Pub/Sub emulator on a free loopback port."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="pubsub-emulator-") as tmp:
        proc = _spawn_emulator(port, Path(tmp))
        emulator = PubSubEmulator(f"127.0.0.1:{port}", port, project, proc, Path(tmp))
        try:
            wait_for_port(port, 60.0, proc)
            yield emulator
        finally:
            emulator.stop()
