"""docker-compose.yml cannot run here (no Docker engine); check it against the CLI and settings instead."""

import yaml
from typer.testing import CliRunner

from shared.cli.main import app
from shared.settings import REPO_ROOT, LadleSettings

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


def ladle_services():
    return {name: svc for name, svc in COMPOSE["services"].items() if svc.get("image", "").startswith("ladle")}


def test_kafka_runs_in_kraft_mode_with_a_health_check():
    kafka = COMPOSE["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:4.")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "healthcheck" in kafka


def test_every_ladle_service_runs_a_real_cli_command():
    runner = CliRunner()
    assert ladle_services(), "compose has Ladle services"
    for name, svc in ladle_services().items():
        res = runner.invoke(app, [*svc["command"], "--help"])
        assert res.exit_code == 0, f"{name}: `ladle {' '.join(svc['command'])}` is not a command: {res.output}"


def test_every_ladle_env_var_is_a_setting():
    known = {f"LADLE_{f.upper()}" for f in LadleSettings.model_fields}
    for name, svc in ladle_services().items():
        for var in svc.get("environment", {}):
            assert var in known, f"{name}: {var} is not a LadleSettings field"
        assert svc["environment"]["LADLE_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert svc["depends_on"]["kafka"]["condition"] == "service_healthy"
