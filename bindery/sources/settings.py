"""Settings of sources: one ``[sources.<name>]`` table per configured source.

```toml
[sources.gl]
base_url = "https://gitlab.example.edu"
[sources.git]
timeout = 600
```

Each table is checked against that source's own ``options_model``; a table for a
source that is not installed, or a key the source does not know, is an error.
"""

from __future__ import annotations

from typing import Self

from pydantic import ConfigDict, PrivateAttr, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from bindery.config import Section, plugin_option_error
from bindery.plugins import PluginError, PluginOptions
from bindery.sources.base import SOURCES


class SourcesSettings(Section):
    """The ``[sources]`` tables, validated per source."""

    model_config = ConfigDict(extra="allow")

    _options: dict[str, PluginOptions] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _validate_each_source(self) -> Self:
        checked: dict[str, PluginOptions] = {}
        for name, raw in (self.model_extra or {}).items():
            if not isinstance(raw, dict):
                raise PydanticCustomError(
                    "plugin_option", "{reason}",
                    {"reason": f"[sources.{name}] must be a table of that source's settings",
                     "key": name})
            try:
                checked[name] = SOURCES.options_for(name, raw)
            except PluginError as exc:
                raise PydanticCustomError("plugin_option", "{reason}",
                                          {"reason": str(exc), "key": name}) from exc
            except ValidationError as exc:
                raise plugin_option_error(exc, f"a setting of the {name!r} source",
                                          f"{name}.") from exc
        self._options = checked
        return self

    def options(self) -> dict[str, PluginOptions]:
        """Each configured source's validated options, by source name."""
        return dict(self._options)
