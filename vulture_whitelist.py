"""What vulture (`make lint`) cannot see being used: each name is read by a framework, by name,
or outside Python (a file a person reads, a test's oracle). Never imported; vulture only parses it."""

_ = object  # vulture counts the attribute names below as used

# dataclass fields written to JSON as a whole (dataclasses.fields / asdict) and read by people or tools
_.last_exit  # ladle/stack/supervisor.py Child: data/stack/state.json, `ladle status`
_.created_at  # workers/embedder/collections.py CollectionInfo: the collection's metadata on disk
_.copies  # ladle/check/enrichment.py Result: replays of one event_id, counted (tests/unit/test_check.py)
_.hardware  # shared/pricing.py SelfHostedPrice: a field of deploy/pricing/pricing.yaml

# called by name: the router calls getattr(provider, op) with op "complete" or "embed"
_.complete
_.embed

# engines are built by name from the use case (workers/enricher/engines/__init__.py)
_.AnthropicEngine
_.LlamaCppEngine
_.OpenAIEngine
_.VLLMEngine

# LLMCall fields set by keyword and read by consumers of llm.calls (the sink does not store them yet)
_.semantic_score
_.semantic_verifier_score
_.semantic_verdict

# attributes a library reads
_.suffix_list_urls  # tldextract: never fetch the public suffix list
_.should_exit  # uvicorn.Server: stop serving
_.enable_progress_bars  # ray.data.DataContext
_.print_on_execution_start  # ray.data.DataContext
_.guardrails_agent  # the faust agent stays referenced from its app

# state tests read (tests/integration/test_enricher.py)
_.in_flight

# catalogues of SQL that the docs and tests run whole (tests/unit/test_sink_sql.py, test_readme.py)
_.ANALYST_QUESTIONS
_.TABLES

# a cascade's card.json, read by people and `ladle cascade show --json` (shared/cascade/card.py)
_.accuracy

# an adapter's card.json, read by people and `ladle finetune card` (shared/finetune/registry.py)
_.base_sha256
_.adapter_sha256

# attributes transformers reads: a dequantized GGUF model saves as a plain one; the pad token batches use
_.is_quantized
_.pad_token
