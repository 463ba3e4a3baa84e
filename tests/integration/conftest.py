"""Load the sandbox.testing pytest plugin (fixtures ``sandbox`` and ``sandbox_factory``).

Equivalent to ``pytest_plugins = ["sandbox.testing"]``, which pytest refuses in a conftest below the rootdir when
that directory is not on the command line (``pytest tests`` would fail). Registered once, shared by every directory.
"""


def pytest_configure(config):
    if not config.pluginmanager.has_plugin("sandbox.testing"):
        config.pluginmanager.import_plugin("sandbox.testing")
