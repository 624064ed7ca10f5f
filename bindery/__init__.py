"""Bindery: a git repository to a live, reproducible Jupyter environment behind one link."""

__version__ = "0.1.0"
