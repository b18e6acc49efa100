"""Semi-supervised segmentation for nnU-Net v2. Importing this package has no side effects."""
__version__ = "0.1.0"
