"""What a repository needs (``detect``) and how to build it (``render``). Pure:
reads the checkout and nothing else, so every rule is unit-tested without an engine.
"""

from bindery.environment.detect import default_environment, detect
from bindery.environment.errors import RepoConfigError
from bindery.environment.model import BuildPlan, Environment, Requirements
from bindery.environment.options import EnvironmentOptions
from bindery.environment.render import render

__all__ = [
    "BuildPlan",
    "Environment",
    "EnvironmentOptions",
    "RepoConfigError",
    "Requirements",
    "default_environment",
    "detect",
    "render",
]
