"""Cascades: a classifier learned from labels answers first; the LLM sees only what it is unsure of.

``model`` serves a trained cascade (numpy only), ``registry`` finds versions and labels,
``text`` is the item text every path embeds. Training lives in ladle/cascade.
"""

from shared.cascade.card import CascadeCard
from shared.cascade.model import Cascade, Prediction
from shared.cascade.registry import CascadeRegistry

__all__ = ["Cascade", "CascadeCard", "CascadeRegistry", "Prediction"]
