"""The supervisor's pure parts: the service table, metric parsing, selection."""

import pytest

from ladle.stack.services import BY_NAME, SERVICES, select
from ladle.stack.supervisor import counter_total
from shared.runtime.errors import UserError


def test_start_order_puts_the_sink_first_and_the_console_after_the_gateway():
    names = [s.name for s in SERVICES]
    assert names == ["sink", "embedder", "guardrails", "enricher", "llm", "gateway", "console"]


def test_the_console_serves_on_8085_and_talks_to_the_stacks_gateway_and_sink():
    console = BY_NAME["console"]
    assert console.health_url({}) == "http://127.0.0.1:8085/health"
    child = console.env({"LADLE_GATEWAY_PORT": "18080", "LADLE_SINK_API_PORT": "18082"})
    assert child["LADLE_CONSOLE_GATEWAY_URL"] == "http://127.0.0.1:18080/v1"
    assert child["LADLE_CONSOLE_SINK_API_URL"] == "http://127.0.0.1:18082"
    assert console.env({"LADLE_CONSOLE_GATEWAY_URL": "http://gw/v1"})["LADLE_CONSOLE_GATEWAY_URL"] == "http://gw/v1"


def test_select_keeps_start_order_and_rejects_unknown_names():
    assert [s.name for s in select("gateway,sink")] == ["sink", "gateway"]
    assert len(select(None)) == len(SERVICES)
    with pytest.raises(UserError, match="unknown service.*nope"):
        select("sink,nope")


def test_ports_come_from_the_same_variables_the_services_read():
    env = {"LADLE_SINK_API_PORT": "18082", "LADLE_SINK_METRICS_PORT": "19102"}
    sink = BY_NAME["sink"]
    assert sink.health_url(env) == "http://127.0.0.1:18082/health"
    assert sink.metrics_url(env) == "http://127.0.0.1:19102/metrics"
    child = sink.env({"PATH": "/bin"})
    assert child["LADLE_SINK_API_PORT"] == "8082" and child["LADLE_SINK_METRICS_PORT"] == "9102"
    assert child["LADLE_LOG_FORMAT"] == "json" and child["PATH"] == "/bin"
    assert (
        BY_NAME["guardrails"].metrics_url({})
        == BY_NAME["guardrails"].health_url({}).replace("/metrics", "") + "/metrics"
    )


def test_every_ladle_service_command_is_a_real_cli_command():
    from typer.testing import CliRunner

    from ladle.cli.main import app

    for svc in SERVICES:
        argv = svc.argv({})
        if svc.name == "llm":
            assert argv[1:3] == ["-m", "llama_cpp.server"] and argv[argv.index("--model") + 1].endswith(".gguf")
            continue
        assert argv[1:3] == ["-m", "ladle.cli"]
        res = CliRunner().invoke(app, [*argv[3:], "--help"])
        assert res.exit_code == 0, f"{svc.name}: {argv[3:]}: {res.output}"


def test_counter_total_sums_every_labelled_sample_of_one_counter():
    text = """# HELP ladle_consumed_total Messages consumed
# TYPE ladle_consumed_total counter
ladle_consumed_total{topic="a",worker="sink"} 120.0
ladle_consumed_total{topic="b",worker="sink"} 30.0
ladle_consumed_created{topic="a",worker="sink"} 1.7e+09
ladle_consumed_totally_other 5.0
ladle_produced_total{topic="a",worker="sink"} 99.0
"""
    assert counter_total(text, "ladle_consumed_total") == 150.0
    assert counter_total(text, "ladle_missing_total") == 0.0


def test_the_demo_counts_what_the_cascade_answered_and_the_calls_it_saved():
    from ladle.demo import cascade_line

    assert cascade_line({"items": 120, "classified": 42, "calls_per_llm_item": 1.1}) == (
        "42 of 120 (35%); about 46 LLM calls saved"
    )
    # no item reached the LLM: each classified item saved one call at least
    assert cascade_line({"items": 6, "classified": 6, "calls_per_llm_item": float("nan")}) == (
        "6 of 6 (100%); about 6 LLM calls saved"
    )
