"""Real faults for reliability tests, and the worker processes they are injected into.

A read-only data folder is `chmod -R a-w`. Root ignores file modes (CAP_DAC_OVERRIDE),
so when the tests run as root the worker process is started without the capabilities
that bypass them: the chmod then refuses its writes for real, as it would for any
other user.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

PR_CAPBSET_DROP = 24
# CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER: what lets root write past a file's mode
FILE_MODE_CAPS = (1, 2, 3)


def _drop_file_mode_caps() -> None:
    """In the child before exec: take away root's way around file modes for good."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in FILE_MODE_CAPS:
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), f"prctl(PR_CAPBSET_DROP, {cap})")


def mode_respecting_preexec():
    """A preexec_fn under which `chmod a-w` stops the process's writes (None when not root)."""
    return _drop_file_mode_caps if os.geteuid() == 0 else None


def can_make_folders_read_only(tmp: Path) -> str | None:
    """None when a read-only folder really refuses a worker's writes here; else why not."""
    probe = tmp / "read-only-probe"
    probe.mkdir()
    probe.chmod(0o555)
    try:
        res = subprocess.run(
            [sys.executable, "-c", f"open({str(probe / 'x')!r}, 'w')"],
            preexec_fn=mode_respecting_preexec(),
            capture_output=True,
            text=True,
            timeout=30,
        )
    except OSError as exc:  # no CAP_SETPCAP to drop capabilities with
        return f"cannot drop root's file-mode capabilities: {exc}"
    finally:
        probe.chmod(0o755)
    return None if "PermissionError" in res.stderr else f"a read-only folder took a write: {res.stderr[-300:]}"


@contextmanager
def read_only(path: Path):
    """`chmod -R a-w path` for the duration; the owner's write bits come back after."""
    subprocess.run(["chmod", "-R", "a-w", str(path)], check=True)
    try:
        yield
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(path)], check=True)


class LadleProcess:
    """`ladle ARGS` as a subprocess, its output in a log file (a pipe could fill and stall it)."""

    def __init__(self, env: dict[str, str], log: Path, *args: str, preexec_fn=None) -> None:
        self.log = log
        self.args = args
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ladle.cli", *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=preexec_fn,
            )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self, n: int = 3000) -> str:
        return f"`ladle {' '.join(self.args)}` (exit {self.proc.poll()}):\n{self.output()[-n:]}"

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM (drain, checkpoint, exit 0) and the exit code."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
            self.proc.wait(10)


def lag(settings, group: str, topic: str) -> int | None:
    """committed_lag, or None while the group coordinator is not ready yet (a fresh broker, a new group)."""
    from confluent_kafka import KafkaException

    from tests.integration.kafka_helpers import committed_lag

    try:
        return committed_lag(settings, group, topic)
    except KafkaException:
        return None
