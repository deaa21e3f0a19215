"""Test configuration: the real-component fixtures, and Kivy kept quiet and isolated."""

import os
import tempfile

# Kivy reads these at its first import: set them before any test module imports it.
os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
os.environ.setdefault("KIVY_NO_FILELOG", "1")
os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="lockers-kivy-"))

pytest_plugins = ["tests.fixtures.broker", "tests.fixtures.pcsc", "tests.fixtures.gpio",
                  "tests.fixtures.postgres"]
