"""gankit's built-in plugins. Each module implements the same hooks a third-party plugin does."""
