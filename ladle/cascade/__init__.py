"""Training, label sources and the release gate of cascades (serving is in shared/cascade)."""
