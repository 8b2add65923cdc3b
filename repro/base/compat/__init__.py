"""Compatibility shims for third-party packages that lag behind the pinned stack.

Each submodule patches exactly one package, only inside that package's own module namespace
(never numpy/scikit-image/etc. globally), so importing it has no effect on other code.
"""
