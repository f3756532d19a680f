"""Generate docs/hooks.md from core/hookspecs.py.

    python -m pcmachine.hookdoc > docs/hooks.md

`tests/test_docs.py` fails when docs/hooks.md differs from this output, so the
reference can never drift from the hooks the plugin manager really knows.
"""

import inspect
from typing import List

from . import hookspecs

HEADER = """# Hook reference

Every event a plugin can hook.  Generated from `core/hookspecs.py` by
`python -m pcmachine.hookdoc > docs/hooks.md`; a test fails when the two disagree.

A plugin implements a hook by defining a method of the same name decorated with
`@pcmachine.hookimpl`; it may accept any subset of the arguments, by name.  Hooks no
plugin implements cost nothing on the hot paths (see `docs/internals.md`).
"""


def hook_functions() -> List[object]:
    functions = [value for value in vars(hookspecs).values()
                 if callable(value) and getattr(value, "pcmachine_spec", None) is not None]
    return sorted(functions, key=lambda f: f.__code__.co_firstlineno)


def section_titles() -> List[tuple]:
    """(first line number, title) of the banner comments in hookspecs.py."""
    lines = inspect.getsource(hookspecs).splitlines()
    titles = []
    for number, line in enumerate(lines, 1):
        if line.startswith("# ---") and number + 1 < len(lines) and lines[number].startswith("# "):
            title = lines[number][2:].strip()
            if title and not title.startswith("---"):
                titles.append((number, title))
    return titles


def render() -> str:
    out = [HEADER]
    titles = section_titles()
    for function in hook_functions():
        line = function.__code__.co_firstlineno
        while titles and titles[0][0] < line:
            out.append(f"\n## {titles.pop(0)[1]}\n")
        options = getattr(function, "pcmachine_spec")
        flags = [name for name in ("historic", "firstresult") if options.get(name)]
        signature = str(inspect.signature(function)).replace("typing.", "")
        out.append(f"\n### `{function.__name__}{signature}`\n")
        if flags:
            out.append(f"\n*{', '.join(flags)}*\n")
        out.append("\n" + inspect.cleandoc(function.__doc__ or "") + "\n")
    return "".join(out)


if __name__ == "__main__":
    print(render(), end="")
