"""The one error this package raises: the repository's configuration is unusable."""

from bindery.errors import EnvironmentError_


class RepoConfigError(EnvironmentError_):
    """A configuration file in the repository is invalid or asks for something unsupported.

    Subclasses :class:`bindery.errors.EnvironmentError_` so every caller that already
    shows ``BinderyError`` messages to people shows these too, unchanged.
    """
