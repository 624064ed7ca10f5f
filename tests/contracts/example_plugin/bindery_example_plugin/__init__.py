"""An example third-party Bindery plugin (see docs/plugins.md).

* :class:`~bindery_example_plugin.source.ExampleSource` (``example:<name>``) makes a
  small repository out of thin air and is launchable as ``/v2/example/<name>/HEAD``;
* :class:`~bindery_example_plugin.auth.TableAuthenticator` (``example-table``) logs
  people in against a fixed name → password table from ``[hub.auth]``.

It imports only Bindery's public contract modules, like any outside package would.
"""

__version__ = "0.1.0"
