"""`ladle up | down | status | logs`: the operator's side of the supervisor."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from ladle.stack.services import BY_NAME, SERVICES, Service, select
from ladle.stack.supervisor import Paths, read_pid
from shared.kafka import clients
from shared.kafka.broker import LocalBroker
from shared.kafka.lag import group_lag
from shared.runtime.errors import FatalError, UserError
from shared.settings import LadleSettings, broker_settings


def local_broker(settings: LadleSettings) -> LocalBroker | None:
    """The local broker when LADLE_KAFKA_BOOTSTRAP points at it; None for an outside cluster."""
    broker = LocalBroker(settings.data_dir, broker_settings())
    return broker if settings.kafka_bootstrap == broker.bootstrap else None


def read_state(paths: Paths) -> dict:
    try:
        return json.loads(paths.state.read_text())
    except (OSError, ValueError):
        return {"services": {}}


def up(settings: LadleSettings, console: Console, services: str | None = None, wait_s: float = 600.0) -> bool:
    """Broker, topics, migrations, then the supervisor; waits until every service is healthy."""
    from topics import apply as topic_apply
    from topics.registry import TOPICS, Namespace

    chosen = select(services)
    paths = Paths(settings.data_dir)
    broker = local_broker(settings)
    if broker is not None:
        console.print(f"kafka {broker.start()} on {broker.bootstrap}")
    else:
        clients.require_broker(settings)
        console.print(f"kafka at {settings.kafka_bootstrap} (not local: not started here)")
    changes = topic_apply.ensure(clients.admin(settings), Namespace(settings.topic_prefix))
    console.print(f"topics: {len(TOPICS)} in the registry, {sum(c.kind == 'create' for c in changes)} created")
    pid = read_pid(paths.pid)
    if pid is None:
        if any(s.name == "sink" for s in chosen):
            _migrate(console)
        paths.home.mkdir(parents=True, exist_ok=True)
        paths.state.unlink(missing_ok=True)
        with paths.supervisor_log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "ladle.stack.supervisor", "--services", ",".join(s.name for s in chosen)],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        console.print(f"supervisor started (pid {proc.pid}); logs in {paths.data_dir / 'logs'}")
    else:
        console.print(f"supervisor already running (pid {pid})")
    if any(s.name == "sink" for s in chosen):
        _grafana(settings, console)
    return wait_healthy(paths, [s.name for s in chosen], console, wait_s)


def _grafana(settings: LadleSettings, console: Console) -> None:
    from ladle.stack.grafana import write_provisioning
    from workers.sink.settings import sink_settings

    sink = sink_settings()
    home = write_provisioning(settings.data_dir / "grafana" / "provisioning", sink_port=BY_NAME["sink"].port(),
                              user=sink.sink_api_user, password=sink.sink_api_password)  # fmt: skip
    console.print(f"grafana: a datasource on the sink's ClickHouse interface in {home} (GF_PATHS_PROVISIONING)")


def _migrate(console: Console) -> None:
    """ClickHouse migrations in their own process: an embedded chDB folder has one owner at a time."""
    res = subprocess.run([sys.executable, "-m", "ladle.cli", "db", "migrate"], capture_output=True, text=True)
    if res.returncode != 0:
        raise FatalError(f"ClickHouse migrations failed: {(res.stderr or res.stdout).strip().splitlines()[-1:]}")
    console.print(res.stdout.strip())


def wait_healthy(paths: Paths, names: list[str], console: Console, wait_s: float) -> bool:
    started, last = time.time(), ""
    while True:
        svcs = read_state(paths).get("services", {})
        states = {n: svcs.get(n, {}).get("state", "starting") for n in names}
        line = "  ".join(f"{n}:{s}" for n, s in states.items())
        if line != last:
            console.print(f"[{time.strftime('%H:%M:%S')}] {line}", highlight=False)
            last = line
        if all(s == "healthy" for s in states.values()):
            return True
        if read_pid(paths.pid) is None and time.time() > started + 5:  # it writes its pid file at once
            raise FatalError(f"the supervisor exited; see {paths.supervisor_log}")
        if time.time() > started + wait_s:
            bad = [n for n, s in states.items() if s != "healthy"]
            console.print(f"[red]not healthy after {wait_s:.0f}s:[/] {', '.join(bad)} (see `ladle logs SERVICE`)")
            return False
        time.sleep(1.0)


def down(settings: LadleSettings, console: Console, keep_broker: bool = False, timeout_s: float = 300.0) -> None:
    """Drain the services in order (the supervisor does it), then stop the local broker."""
    paths = Paths(settings.data_dir)
    pid = read_pid(paths.pid)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        console.print(f"draining (supervisor pid {pid})")
        deadline, last = time.time() + timeout_s, ""
        while read_pid(paths.pid) is not None:
            svcs = read_state(paths).get("services", {})
            line = "  ".join(f"{n}:{s.get('state')}" for n, s in svcs.items())
            if line != last:
                console.print(f"[{time.strftime('%H:%M:%S')}] {line}", highlight=False)
                last = line
            if time.time() > deadline:
                raise FatalError(f"the supervisor (pid {pid}) did not stop in {timeout_s:.0f}s")
            time.sleep(0.5)
        console.print("services stopped")
    else:
        console.print("no supervisor running")
    broker = local_broker(settings)
    if broker is not None and not keep_broker:
        console.print(f"kafka {broker.stop()}")


@dataclass
class Row:
    name: str
    state: str
    pid: int | None
    restarts: int
    uptime_s: float | None
    lag: int | None
    rate: float | None
    url: str


def status_rows(settings: LadleSettings) -> list[Row]:
    paths = Paths(settings.data_dir)
    state = read_state(paths)
    alive = read_pid(paths.pid) is not None
    lags = consumer_lags(settings, [s for s in SERVICES if s.name in state.get("services", {})])
    rows = []
    for name, s in state.get("services", {}).items():
        svc = BY_NAME[name]
        running = alive and s.get("pid") and s.get("state") != "stopped"
        rows.append(Row(name, s.get("state", "?") if alive else "stopped", s.get("pid") if running else None,
                        s.get("restarts", 0), time.time() - s["started_at"] if running else None,
                        lags.get(name), s.get("rate") if running else None, s.get("health_url", svc.health_url())))  # fmt: skip
    return rows


def consumer_lags(settings: LadleSettings, services: list[Service]) -> dict[str, int]:
    """Each service's consumer group: messages it has yet to commit (shared.kafka.lag)."""
    out = {}
    for s in services:
        if (group := s.consumer_group()) and (lag := group_lag(settings, group)) is not None:
            out[s.name] = lag.lag
    return out


def print_status(settings: LadleSettings, console: Console) -> bool:
    paths = Paths(settings.data_dir)
    pid = read_pid(paths.pid)
    broker = local_broker(settings)
    kafka = "outside cluster" if broker is None else ("up" if broker.answers() else "down")
    console.print(f"supervisor: {'pid ' + str(pid) if pid else 'not running'}   kafka: {kafka} "
                  f"({settings.kafka_bootstrap})")  # fmt: skip
    rows = status_rows(settings)
    if not rows:
        console.print("no services (run `ladle up`)")
        return False
    table = Table("service", "state", "pid", "restarts", "uptime", "lag", "events/s", "endpoint")
    colors = {"healthy": "green", "starting": "yellow", "restarting": "yellow"}
    for r in rows:
        table.add_row(r.name, f"[{colors.get(r.state, 'red')}]{r.state}[/]", str(r.pid or "-"), str(r.restarts),
                      f"{r.uptime_s:.0f}s" if r.uptime_s is not None else "-",
                      f"{r.lag:,}" if r.lag is not None else "-", f"{r.rate:,.1f}" if r.rate is not None else "-",
                      r.url)  # fmt: skip
    console.print(table)
    for line in quality_lines(settings, rows):
        console.print(line, highlight=False)
    return pid is not None and all(r.state == "healthy" for r in rows)


def quality_lines(settings: LadleSettings, rows: list[Row]) -> list[str]:
    """The last evaluation score of each running use case (the enricher's), from `ladle eval run`."""
    if not any(r.name == "enricher" for r in rows):
        return []
    from ladle.eval.store import list_runs
    from workers.enricher.settings import EnricherSettings

    es = EnricherSettings()
    use_case = es.load_use_case().name
    runs = [r for r in list_runs(settings, use_case) if r.metric("all", "macro_f1") is not None]
    if not runs:
        return [f"quality: {use_case}: not evaluated yet (`ladle eval run {use_case}`)"]
    last = runs[-1]
    line = (f"quality: {use_case}: macro-F1 {last.metric('all', 'macro_f1'):.3f} on {last.dataset} "
            f"({last.items} items, run {last.run_id})")  # fmt: skip
    gate = es.load_use_case().gate
    if gate is not None and (v := last.metric(gate.field, gate.metric)) is not None and v < gate.min:
        line += f"  [below the gate's {gate.min:g}]"
    return [line]


def logs(settings: LadleSettings, service: str | None, lines: int, follow: bool) -> None:
    paths = Paths(settings.data_dir)
    if service is None:
        files = [paths.supervisor_log]
    elif service in BY_NAME:
        files = [paths.log(service)]
    elif service == "kafka":
        files = [LocalBroker(settings.data_dir, broker_settings()).log_file]
    else:
        raise UserError(f"unknown service {service!r}; known: supervisor (default), kafka, {', '.join(BY_NAME)}")
    if not files[0].exists():
        raise UserError(f"no log yet at {files[0]} (has `ladle up` run?)")
    cmd = ["tail", "-n", str(lines), *(["-F"] if follow else []), str(files[0])]
    os.execvp(cmd[0], cmd)
