"""The supervisor: runs each service as its own process, checks health, restarts crashes.

`ladle up` starts it detached (`python -m ladle.stack.supervisor`). It writes
its state to `<data>/stack/state.json` every tick, each service's output to
`<data>/logs/<service>.log`, and on SIGTERM drains the services in reverse
start order (SIGTERM, then SIGKILL after the service's grace period).

Restart policy: a process that exits while the stack is up is started again
after a back-off (1 s, doubling to 30 s; reset after a minute of running). A
service that was healthy and stops answering its health check for
`LADLE_STACK_HUNG_S` (120 s) is killed and restarted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field, fields
from pathlib import Path

import structlog

from ladle.stack.services import Service, select
from shared.logging import configure
from shared.settings import ladle_settings

log = structlog.get_logger(__name__)

TICK_S = 0.5
HEALTH_EVERY_S = 2.0


@dataclass
class Paths:
    data_dir: Path

    @property
    def home(self) -> Path:
        return self.data_dir / "stack"

    @property
    def state(self) -> Path:
        return self.home / "state.json"

    @property
    def pid(self) -> Path:
        return self.home / "supervisor.pid"

    @property
    def supervisor_log(self) -> Path:
        return self.home / "supervisor.log"

    def log(self, service: str) -> Path:
        return self.data_dir / "logs" / f"{service}.log"


@dataclass
class Child:
    """What the supervisor knows about one service; the state file holds these as JSON."""

    name: str
    state: str = "starting"  # starting | healthy | unhealthy | restarting | stopped | failed
    pid: int | None = None
    restarts: int = 0
    started_at: float = 0.0
    healthy_since: float | None = None
    last_ok: float | None = None
    last_exit: int | None = None
    health_url: str = ""
    metrics_url: str = ""
    processed: float | None = None  # the throughput counter's last value
    rate: float | None = None  # its rate between the last two scrapes, per second
    rate_at: float | None = None
    backoff_s: float = 1.0
    restart_at: float | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)


def read_pid(path: Path) -> int | None:
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def probe(url: str, timeout: float = 1.0) -> str | None:
    """The body of a GET, or None when it does not answer 2xx."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - our own localhost ports
            return r.read().decode("utf-8", "replace") if 200 <= r.status < 300 else None
    except (OSError, ValueError):
        return None


def counter_total(metrics_text: str, name: str) -> float:
    """Sum of every sample of a Prometheus counter (all labels) in an exposition text."""
    total = 0.0
    for line in metrics_text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            head, _, value = line.rpartition(" ")
            metric = head.split("{", 1)[0]
            if metric in (name, name.removesuffix("_total") + "_total"):
                try:
                    total += float(value)
                except ValueError:
                    pass
    return total


class Supervisor:
    def __init__(self, services: list[Service], paths: Paths, env: dict[str, str]) -> None:
        self.services, self.paths, self.env = services, paths, env
        self.children = {s.name: Child(s.name, health_url=s.health_url(env), metrics_url=s.metrics_url(env))
                         for s in services}  # fmt: skip
        self.stopping = False
        self.hung_s = float(env.get("LADLE_STACK_HUNG_S", "120"))
        self._next_health = 0.0

    # -- processes ---------------------------------------------------------
    def start(self, svc: Service) -> None:
        child = self.children[svc.name]
        env = svc.env(self.env)
        logf = self.paths.log(svc.name)
        logf.parent.mkdir(parents=True, exist_ok=True)
        with logf.open("ab") as out:
            # Own session: a kill takes the service's helpers (Ray, llama.cpp) with it.
            child.proc = subprocess.Popen(svc.argv(env), stdout=out, stderr=subprocess.STDOUT, env=env,
                                          stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        child.pid, child.started_at, child.state = child.proc.pid, time.time(), "starting"
        child.healthy_since = child.last_ok = child.restart_at = None
        log.info("stack.started", service=svc.name, pid=child.pid, log=str(logf))

    def _reap(self, svc: Service, now: float) -> None:
        child = self.children[svc.name]
        if child.proc is None:
            if child.restart_at is not None and now >= child.restart_at:
                self.start(svc)
            return
        code = child.proc.poll()
        if code is None:
            if child.healthy_since and child.last_ok and now - child.last_ok > self.hung_s:
                log.warning("stack.hung", service=svc.name, pid=child.pid, silent_s=round(now - child.last_ok))
                _kill_group(child.proc, signal.SIGKILL)
            return
        _kill_group(child.proc, signal.SIGKILL)  # leftovers of the dead process's session
        ran = now - child.started_at
        child.backoff_s = 1.0 if ran > 60 else min(30.0, child.backoff_s * 2 if child.restarts else 1.0)
        child.proc, child.last_exit, child.restarts = None, code, child.restarts + 1
        child.state, child.restart_at, child.rate = "restarting", now + child.backoff_s, None
        log.warning("stack.exited", service=svc.name, code=code, ran_s=round(ran, 1), restart_in_s=child.backoff_s)

    def _check_health(self, svc: Service, now: float) -> None:
        child = self.children[svc.name]
        if child.proc is None:
            return
        if probe(child.health_url) is not None:
            child.last_ok = now
            if child.healthy_since is None:
                child.healthy_since = now
                log.info("stack.healthy", service=svc.name, after_s=round(now - child.started_at, 1))
            child.state = "healthy"
        elif child.healthy_since is not None:
            child.state = "unhealthy"
        if svc.throughput_metric and child.state == "healthy":
            text = probe(child.metrics_url)
            if text is not None:
                value = counter_total(text, svc.throughput_metric)
                if child.processed is not None and child.rate_at is not None and now > child.rate_at:
                    child.rate = max(0.0, (value - child.processed) / (now - child.rate_at))
                child.processed, child.rate_at = value, now

    def write_state(self) -> None:
        state = {
            "supervisor_pid": os.getpid(),
            "stopping": self.stopping,
            "updated_at": time.time(),
            "services": {
                n: {f.name: getattr(c, f.name) for f in fields(c) if f.name != "proc"} for n, c in self.children.items()
            },
        }
        tmp = self.paths.state.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(state, indent=1))
            tmp.replace(self.paths.state)
        except OSError as exc:  # a full or read-only disk must not take the services down
            log.warning("stack.state_unwritable", error=str(exc))

    # -- the loop ----------------------------------------------------------
    def run(self) -> None:
        self.paths.home.mkdir(parents=True, exist_ok=True)
        self.paths.pid.write_text(str(os.getpid()))
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        log.info("stack.up", services=[s.name for s in self.services])
        try:
            for svc in self.services:
                self.start(svc)
            while not self.stopping:
                now = time.time()
                for svc in self.services:
                    self._reap(svc, now)
                if now >= self._next_health:
                    for svc in self.services:
                        self._check_health(svc, now)
                    self._next_health = now + HEALTH_EVERY_S
                self.write_state()
                time.sleep(TICK_S)
        finally:
            self.stopping = True  # also on a crash of the supervisor itself: leave no orphans
            self.drain()
            self.paths.pid.unlink(missing_ok=True)
            log.info("stack.down")

    def _on_signal(self, _signum, _frame) -> None:
        self.stopping = True

    def drain(self) -> None:
        """Stop in reverse start order; each gets SIGTERM (drain, commit) and its grace period."""
        for svc in reversed(self.services):
            child = self.children[svc.name]
            if child.proc is None:
                child.state = "stopped"
                continue
            t0 = time.time()
            child.state = "stopping"
            self.write_state()
            child.proc.send_signal(signal.SIGTERM)
            try:
                code = child.proc.wait(timeout=svc.drain_s)
            except subprocess.TimeoutExpired:
                log.warning("stack.drain_timeout", service=svc.name, grace_s=svc.drain_s)
                _kill_group(child.proc, signal.SIGKILL)
                code = child.proc.wait()
            _kill_group(child.proc, signal.SIGKILL)
            child.proc, child.last_exit, child.state = None, code, "stopped"
            log.info("stack.stopped", service=svc.name, code=code, took_s=round(time.time() - t0, 1))
            self.write_state()


def _kill_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description="Ladle's service supervisor (started by `ladle up`).")
    parser.add_argument("--services", default="", help="Comma-separated subset; default all.")
    args = parser.parse_args()
    settings = ladle_settings()
    configure(settings.log_level, "json")
    Supervisor(select(args.services), Paths(settings.data_dir), dict(os.environ)).run()


if __name__ == "__main__":
    main()
