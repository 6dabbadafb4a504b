"""Click commands, one module per command or group; each stays thin and calls a library module."""
