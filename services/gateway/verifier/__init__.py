"""The semantic cache's verifier: after the vector lookup, a candidate is served only when the
verifier agrees that the cached question and the asked one have the same answer (deterministic
guards, then a small pair model). See ``model`` for the decision and ``train`` for the artifact."""

from services.gateway.verifier.model import ARTIFACT, Verdict, Verifier

__all__ = ["ARTIFACT", "Verdict", "Verifier"]
