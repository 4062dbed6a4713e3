"""The local single-node Kafka broker (KRaft): format, start, stop, status.

Jars come from Maven Central through deploy/kafka/pom.xml (`make setup`); the
broker runs as `java -cp <libs>/* kafka.Kafka server.properties`, detached, with
its data, config, log and pid file under <data_dir>/kafka.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from string import Template

import structlog

from shared.runtime.errors import FatalError, UserError
from shared.settings import REPO_ROOT, BrokerSettings

log = structlog.get_logger(__name__)

DEPLOY = REPO_ROOT / "deploy" / "kafka"
CLUSTER_ID = "bGFkbGUtbG9jYWwtYnJva2"  # any 22-char base64 id; one local cluster per data folder


@dataclass
class LocalBroker:
    data_dir: Path
    settings: BrokerSettings

    @property
    def home(self) -> Path:
        return self.data_dir / "kafka"

    @property
    def port(self) -> int:
        return self.settings.port

    @property
    def controller_port(self) -> int:
        return self.settings.controller_port or self.settings.port + 1

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.home / "broker.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "broker.log"

    def _classpath(self) -> str:
        libs = self.settings.libs_dir
        if not any(libs.glob("kafka_2.13-*.jar")):
            raise UserError(f"Kafka jars not found in {libs}; run `make setup` first")
        return f"{libs}/*"

    def _java(self, *args: str, heap: str = "256m") -> list[str]:
        return [
            "java",
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={DEPLOY / 'log4j2.yaml'}",
            f"-Dkafka.logs.dir={self.home}",
            "-cp",
            self._classpath(),
            *args,
        ]

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        # A pid can be reused: make sure it is our broker.
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        return pid if b"kafka.Kafka" in cmdline and str(self.home).encode() in cmdline else None

    def answers(self, timeout: float = 1.0) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=timeout):
                pass
        except OSError:
            return False
        from confluent_kafka.admin import AdminClient

        try:
            AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(timeout=timeout * 5)
        except Exception:  # noqa: BLE001 - any failure means "not ready yet"
            return False
        return True

    def _write_config(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        text = Template((DEPLOY / "server.properties").read_text()).substitute(
            port=self.port, controller_port=self.controller_port, log_dirs=self.home / "data"
        )
        path = self.home / "server.properties"
        path.write_text(text)
        return path

    def _format(self, config: Path) -> None:
        if (self.home / "data" / "meta.properties").exists():
            return
        cmd = self._java("kafka.tools.StorageTool", "format", "-t", CLUSTER_ID, "-c", str(config))
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise FatalError(f"formatting Kafka storage failed: {res.stderr.strip() or res.stdout.strip()}")

    def start(self) -> str:
        """Start the broker unless it runs; return once it answers. Idempotent."""
        if self.pid() is not None:
            self._wait_ready()
            return "running"
        if _port_in_use(self.port):
            raise UserError(f"port {self.port} is taken by another process; set LADLE_BROKER_PORT to a free port")
        config = self._write_config()
        self._format(config)
        with self.log_file.open("ab") as out:
            proc = subprocess.Popen(
                self._java("kafka.Kafka", str(config), heap=self.settings.heap),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # survives the CLI that started it
            )
        self.pid_file.write_text(str(proc.pid))
        log.info("kafka.starting", pid=proc.pid, bootstrap=self.bootstrap)
        self._wait_ready(proc)
        log.info("kafka.ready", pid=proc.pid, bootstrap=self.bootstrap)
        return "started"

    def _wait_ready(self, proc: subprocess.Popen | None = None) -> None:
        deadline = time.monotonic() + self.settings.start_timeout_s
        while time.monotonic() < deadline:
            if self.answers():
                return
            if proc is not None and proc.poll() is not None:
                tail = self.log_file.read_text(errors="replace")[-2000:]
                raise FatalError(f"Kafka broker exited with {proc.returncode}; log tail:\n{tail}")
            time.sleep(0.3)
        raise FatalError(f"Kafka broker did not answer on {self.bootstrap} within {self.settings.start_timeout_s}s")

    def stop(self, timeout_s: float = 30.0) -> str:
        """SIGTERM (a clean shutdown), SIGKILL after the timeout. Idempotent."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return "stopped"
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.pid() is not None:
            time.sleep(0.2)
        if self.pid() is not None:
            os.kill(pid, signal.SIGKILL)
            while self.pid() is not None:
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        return "stopped"

    def kill(self) -> None:
        """SIGKILL, as a crash would (reliability tests)."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            while self.pid() is not None:
                time.sleep(0.05)

    def status(self) -> dict:
        pid = self.pid()
        return {
            "pid": pid,
            "running": pid is not None,
            "answers": pid is not None and self.answers(),
            "bootstrap": self.bootstrap,
            "home": str(self.home),
        }


def _port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
