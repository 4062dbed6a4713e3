"""Runtime, settings, logging, metrics, store adapters, engines and the CLI."""
