"""Upstream providers, built from a deployment's `provider` field."""

from services.gateway.config import Deployment
from services.gateway.providers.anthropic import Anthropic
from services.gateway.providers.base import Provider, UpstreamError
from services.gateway.providers.openai_compat import OpenAICompatible


def build(deployment: Deployment) -> Provider:
    if deployment.provider == "anthropic":
        return Anthropic(deployment)
    if deployment.provider == "ladle":
        from services.gateway.providers.ladle import LadleEmbeddings  # imports torch: only when configured

        return LadleEmbeddings(deployment)
    return OpenAICompatible(deployment)


__all__ = ["Provider", "UpstreamError", "build"]
