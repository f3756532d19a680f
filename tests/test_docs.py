"""The docs cannot drift: the hook reference is what hookdoc generates from the
hookspecs, and it names every hook the plugin manager knows with its signature."""

import inspect
import os

from pcmachine import hookdoc, hookspecs
from pcmachine.pluginmanager import PluginManager

DOCS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs")


def read(name: str) -> str:
    with open(os.path.join(DOCS, name), encoding="utf-8") as handle:
        return handle.read()


def test_hook_reference_is_generated_from_hookspecs():
    assert read("hooks.md") == hookdoc.render(), \
        "docs/hooks.md is stale: run python -m pcmachine.hookdoc > docs/hooks.md"


def test_every_hook_is_documented_with_its_signature():
    text = read("hooks.md")
    manager = PluginManager()
    for name in manager.hook_names:
        function = getattr(hookspecs, name)
        signature = str(inspect.signature(function)).replace("typing.", "")
        assert f"### `{name}{signature}`" in text, name
