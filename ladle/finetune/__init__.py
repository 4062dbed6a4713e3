"""Fine-tuning: a LoRA adapter on the use case's own open model, trained on its labels in its own
prompt template (`ladle finetune create`), converted to GGUF for llama.cpp and registered as a
version (shared.finetune serves it)."""
