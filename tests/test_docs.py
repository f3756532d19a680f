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


def test_profile_reference_is_generated_from_the_options():
    from pcmachine import profiledoc
    assert read("profiles.md") == profiledoc.render(), \
        "docs/profiles.md is stale: run python -m pcmachine.profiledoc > docs/profiles.md"


def test_every_hook_is_documented_with_its_signature():
    text = read("hooks.md")
    manager = PluginManager()
    for name in manager.hook_names:
        function = getattr(hookspecs, name)
        signature = str(inspect.signature(function)).replace("typing.", "")
        assert f"### `{name}{signature}`" in text, name


def python_blocks(name: str):
    text = read(name)
    blocks = []
    for chunk in text.split("```python\n")[1:]:
        blocks.append(chunk.split("```", 1)[0])
    return blocks


def test_writing_a_device_example_runs(tmp_path, capsys):
    """The custom-device page's module and test work as printed, also from a profile."""
    module, test = python_blocks("writing-a-device.md")[:2]
    namespace = {"__name__": "postcard"}
    exec(compile(module + test, "writing-a-device.md", "exec"), namespace)
    namespace["test_postcard_latches_codes"]()

    from pcmachine import Machine
    (tmp_path / "postcard.py").write_text(module)
    (tmp_path / "my.yaml").write_text(
        "ram: {plugin: ram, size: 1M}\n"
        f"postcard: {{plugin: {tmp_path / 'postcard.py'}:PostCard, history: 8}}\n")
    machine = Machine.from_profile(str(tmp_path / "my.yaml"))
    machine.bus.io_write(0x80, 1, 0x42)
    machine.run_headless(max_instructions=100)
    assert "last POST code: 42" in capsys.readouterr().out


def test_writing_a_pci_function_example_runs():
    """The page's PCI function and its test work as printed."""
    module, test = python_blocks("writing-a-device.md")[2:]
    namespace = {"__name__": "scratch"}
    exec(compile(module + test, "writing-a-device.md", "exec"), namespace)
    namespace["test_scratch_card_is_on_the_bus"]()
