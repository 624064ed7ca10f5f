"""Errors a user can act on.

Every failure that reaches a person (CLI, launch page, event stream) is a
``BinderyError`` whose message is written for a non-programmer: what went wrong
and what to do next. Anything else escaping is a bug.
"""


class BinderyError(Exception):
    """Base class: ``str(err)`` is shown to the user as is."""


class SpecError(BinderyError):
    """The repository spec, URL or ref is malformed or unsafe (nothing was contacted)."""


class SourceError(BinderyError):
    """The repository could not be found, reached or fetched."""


class RefNotFound(SourceError):
    """The repository exists but the branch, tag or commit does not."""


class EnvironmentError_(BinderyError):
    """The repository's configuration files are invalid (bad runtime.txt, ...)."""


class BuildError(BinderyError):
    """The image build failed; ``log_tail`` holds the last lines of the build log.

    When the engine knows which step failed, ``step`` names it as the engine shows
    it and ``step_output`` holds that step's own last lines (the builder turns them
    into a message naming the step in a person's words).
    """

    def __init__(self, message: str, log_tail: str = "", *, step: str = "",
                 step_output: tuple[str, ...] = (), exit_code: int | None = None) -> None:
        super().__init__(message)
        self.log_tail = log_tail
        self.step = step
        self.step_output = step_output
        self.exit_code = exit_code


class BuildLimitExceeded(BuildError):
    """The build ran longer, or used more memory, than the configured limit."""


class EngineUnavailable(BinderyError):
    """No container engine answers; the message says how to get one."""
