"""Fine-tuned LoRA adapters: the card and the versioned registry the enricher's llama.cpp engine
and the gateway read to serve ``lora: NAME@VERSION``. Training lives in ladle/finetune."""

from shared.finetune.registry import AdapterCard, AdapterRegistry, Serving

__all__ = ["AdapterCard", "AdapterRegistry", "Serving"]
