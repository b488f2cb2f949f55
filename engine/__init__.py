"""The DHR workflow engine: diagrams, cases, timers, audit. Knows nothing of the web."""
