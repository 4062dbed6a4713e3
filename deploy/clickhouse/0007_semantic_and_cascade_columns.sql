-- What the semantic cache's verifier decided for a call (a served hit or a refused candidate), and
-- who answered each field of an enrichment result (a cascade's classifier or the model).

ALTER TABLE llm_calls ADD COLUMN IF NOT EXISTS semantic_score Nullable(Float64);
ALTER TABLE llm_calls ADD COLUMN IF NOT EXISTS semantic_verifier_score Nullable(Float64);
ALTER TABLE llm_calls ADD COLUMN IF NOT EXISTS semantic_verdict LowCardinality(String);
ALTER TABLE enrichment_results ADD COLUMN IF NOT EXISTS cascade LowCardinality(String);
ALTER TABLE enrichment_results ADD COLUMN IF NOT EXISTS answered_by Map(LowCardinality(String), String);
