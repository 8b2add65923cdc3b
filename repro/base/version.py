"""The package version (one place; ``repro.__version__`` and the robustness report read it here)."""
__version__ = "0.1.0"
