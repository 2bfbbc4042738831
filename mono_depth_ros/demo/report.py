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

"""The demo report as a document: sections, captioned figures; Markdown, HTML and JSON."""

import base64
from dataclasses import dataclass, field
import html
import json
import pathlib
import re


@dataclass(frozen=True)
class Figure:
    """A picture in the report (its path relative to the report) and its caption."""

    path: str
    caption: str


@dataclass
class Report:
    """The demo's findings, written as report.md, index.html and summary.json.

    Figures are numbered in order; each is followed by its caption ("Figure N: ...").
    """

    title: str
    sections: list[tuple[str, str, list[Figure]]] = field(default_factory=list)
    summary: dict = field(default_factory=dict)

    def add(self, heading: str, text: str, figures: list[Figure] | None = None) -> None:
        """Add a section: Markdown text, then its figures."""
        self.sections.append((heading, text, figures or []))

    def figures(self) -> list[Figure]:
        """Return every figure in the report, in order."""
        return [figure for _, _, figures in self.sections for figure in figures]

    def write(self, out_dir: pathlib.Path) -> dict[str, pathlib.Path]:
        """Write report.md, index.html (images inlined) and summary.json into ``out_dir``."""
        markdown = [f'# {self.title}', '']
        number = 0
        for heading, text, figures in self.sections:
            markdown += [f'## {heading}', '', text, '']
            for figure in figures:
                number += 1
                markdown += [f'![Figure {number}]({figure.path})', '',
                             f'*Figure {number}: {figure.caption}*', '']
        paths = {'markdown': out_dir / 'report.md', 'html': out_dir / 'index.html',
                 'summary': out_dir / 'summary.json'}
        paths['markdown'].write_text('\n'.join(markdown), encoding='utf-8')
        paths['html'].write_text(self._html(out_dir), encoding='utf-8')
        paths['summary'].write_text(json.dumps(self.summary, indent=2, default=float),
                                    encoding='utf-8')
        return paths

    def _html(self, out_dir: pathlib.Path) -> str:
        body = [f'<h1>{html.escape(self.title)}</h1>']
        number = 0
        for heading, text, figures in self.sections:
            body.append(f'<h2>{html.escape(heading)}</h2>')
            body.append(_markdown_block_to_html(text))
            for figure in figures:
                number += 1
                data = base64.b64encode((out_dir / figure.path).read_bytes()).decode('ascii')
                body.append(f'<figure><img alt="Figure {number}" '
                            f'src="data:image/png;base64,{data}"><figcaption><b>Figure '
                            f'{number}:</b> {_inline_html(figure.caption)}</figcaption>'
                            '</figure>')
        style = ('body{font-family:sans-serif;max-width:1400px;margin:2em auto;color:#222}'
                 'img{max-width:100%;border:1px solid #ddd}figure{margin:1em 0 2em}'
                 'figcaption{max-width:60em;font-size:0.92em;color:#333}'
                 'table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;'
                 'text-align:right}pre{background:#f6f6f6;padding:8px}')
        return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>'
                f'{html.escape(self.title)}</title><style>{style}</style></head><body>'
                + '\n'.join(body) + '</body></html>')


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    """Return a Markdown table; floats get four significant digits."""
    def cell(value: object) -> str:
        return f'{value:.4g}' if isinstance(value, float) else str(value)
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(cell(v) for v in row) + ' |' for row in rows]
    return '\n'.join(lines)


def _markdown_block_to_html(text: str) -> str:
    """Render the small Markdown subset the report uses: paragraphs, lists, tables, code."""
    out, table, items, code = [], [], [], None

    def flush() -> None:
        if table:
            cells = [[c.strip() for c in row.strip().strip('|').split('|')] for row in table
                     if not set(row.replace('|', '').strip()) <= {'-'}]
            head, *rest = cells
            out.append('<table><tr>' + ''.join(f'<th>{html.escape(c)}</th>' for c in head)
                       + '</tr>' + ''.join('<tr>' + ''.join(
                           f'<td>{html.escape(c)}</td>' for c in row) + '</tr>' for row in rest)
                       + '</table>')
            table.clear()
        if items:
            out.append('<ul>' + ''.join(f'<li>{_inline_html(i)}</li>' for i in items) + '</ul>')
            items.clear()

    for line in text.splitlines():
        if line.startswith('```'):
            flush()
            if code is None:
                code = []
            else:
                out.append('<pre>' + html.escape('\n'.join(code)) + '</pre>')
                code = None
        elif code is not None:
            code.append(line)
        elif line.startswith('|'):
            table.append(line)
        elif line.startswith('- '):
            items.append(line[2:])
        else:
            flush()
            if line.strip():
                out.append(f'<p>{_inline_html(line)}</p>')
    flush()
    return '\n'.join(out)


def _inline_html(text: str) -> str:
    """Return one line of text as HTML, with `code` spans."""
    parts = re.split(r'`([^`]*)`', text)
    return ''.join(f'<code>{html.escape(part)}</code>' if index % 2 else html.escape(part)
                   for index, part in enumerate(parts))
