"""The sandbox's own tests run against sandboxes started by the sandbox.testing plugin."""

pytest_plugins = ["sandbox.testing"]
