# Copyright 2026 The mono_depth_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""The README's per-node reference tables, generated from the parameter and topic tables.

The tables sit in the README between ``<!-- generated: NAME -->`` and ``<!-- end generated -->``
markers; ``python -m mono_depth_ros.reference_tables README.md`` rewrites them, and a test checks
that the README matches, so the documentation cannot drift from the code.
"""

import pathlib
import re
import sys
from typing import Callable, Iterable

from mono_depth_ros.parameter_tables import (DEPTH_PARAMETERS, ParameterSpec,
                                             TRIANGULATION_PARAMETERS)
from mono_depth_ros.topic_tables import NODE_TOPICS, NodeTopics

_SECTION = re.compile(
    r'(<!-- generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- end generated -->)', re.S)


def _value_text(value) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, str):
        return f'`{value}`' if value else '(empty)'
    if isinstance(value, (list, tuple)):
        return '`' + ' '.join(f'{v:g}' if isinstance(v, float) else str(v) for v in value) + '`'
    if isinstance(value, float):
        return f'{value:g}'
    return str(value)


def parameter_markdown(specs: Iterable[ParameterSpec]) -> str:
    """Return a Markdown table of parameters: name, default, accepted values, meaning."""
    rows = ['| parameter | default | accepts | meaning |', '|---|---|---|---|']
    for spec in specs:
        meaning = spec.description + (' (read only: set at start)' if spec.read_only else '')
        rows.append(f'| `{spec.name}` | {_value_text(spec.default)} | {spec.accepted_values()} '
                    f'| {meaning} |')
    return '\n'.join(rows) + '\n'


def topic_markdown(topics: NodeTopics) -> str:
    """Return a Markdown table of a node's topics: direction, name, type, meaning, when."""
    rows = ['| | topic | type | meaning | when |', '|---|---|---|---|---|']
    for direction, specs in (('in', topics.subscriptions), ('out', topics.publications)):
        for spec in specs:
            message_type = spec.message_type.replace('/msg/', '/')
            rows.append(f'| {direction} | `{spec.name}` | `{message_type}` | {spec.description} '
                        f'| {spec.condition or "always"} |')
    return '\n'.join(rows) + '\n'


SECTIONS: dict[str, Callable[[], str]] = {
    'depth_node-topics': lambda: topic_markdown(NODE_TOPICS['depth_node']),
    'depth_node-parameters': lambda: parameter_markdown(DEPTH_PARAMETERS),
    'triangulation_node-topics': lambda: topic_markdown(NODE_TOPICS['triangulation_node']),
    'triangulation_node-parameters': lambda: parameter_markdown(TRIANGULATION_PARAMETERS),
}


def render(text: str) -> str:
    """Return ``text`` with every generated section filled in from the tables.

    Raises KeyError naming a section the tables do not know.
    """
    def fill(match: re.Match) -> str:
        name = match.group('name')
        if name not in SECTIONS:
            raise KeyError(f'unknown generated section {name!r} (known: {", ".join(SECTIONS)})')
        return match.group(1) + SECTIONS[name]() + match.group(4)

    return _SECTION.sub(fill, text)


def main(argv: list[str] | None = None) -> int:
    """Rewrite the generated sections of the Markdown files named on the command line."""
    paths = [pathlib.Path(arg) for arg in (sys.argv[1:] if argv is None else argv)]
    for path in paths:
        text = path.read_text(encoding='utf-8')
        rendered = render(text)
        if rendered != text:
            path.write_text(rendered, encoding='utf-8')
            print(f'updated {path}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
