"""Sensitivity-informed augmentation for robust segmentation: reproducibility package."""
__version__ = "0.1.0"
