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

"""The README is a user guide that cannot drift: generated tables, links that resolve, its size."""

import pathlib
import re

import pytest

from mono_depth_ros.parameter_tables import DEPTH_PARAMETERS, TRIANGULATION_PARAMETERS
from mono_depth_ros.reference_tables import parameter_markdown, render, SECTIONS
from mono_depth_ros.topic_tables import NODE_TOPICS

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = ROOT / 'README.md'


def test_the_readme_tables_match_the_parameter_and_topic_tables():
    text = README.read_text(encoding='utf-8')
    assert render(text) == text, (
        'README.md is out of date: run python -m mono_depth_ros.reference_tables README.md')


def test_the_readme_has_every_generated_table():
    text = README.read_text(encoding='utf-8')
    for name in SECTIONS:
        assert f'<!-- generated: {name} -->' in text, name


def test_every_parameter_and_topic_of_both_nodes_is_in_the_readme():
    text = README.read_text(encoding='utf-8')
    for spec in DEPTH_PARAMETERS + TRIANGULATION_PARAMETERS:
        assert f'| `{spec.name}` |' in text, spec.name
    for topics in NODE_TOPICS.values():
        for topic in topics.subscriptions + topics.publications:
            assert f'| `{topic.name}` |' in text, topic.name


def test_a_parameter_row_says_default_range_and_meaning():
    spec = next(spec for spec in DEPTH_PARAMETERS if spec.name == 'points_stride')
    row = parameter_markdown([spec]).splitlines()[-1]
    assert row == ('| `points_stride` | 2 | 1 to 16 | Take every Nth pixel in each direction '
                   'for points |')


def test_an_unknown_generated_section_is_refused():
    with pytest.raises(KeyError, match='nosuch'):
        render('<!-- generated: nosuch -->\n<!-- end generated -->')


def test_the_readme_is_a_short_guide_whose_links_resolve():
    text = README.read_text(encoding='utf-8')
    assert len(text.encode('utf-8')) <= 16_000, 'the README is a user guide of about 15 KB'
    for document in [README, *sorted((ROOT / 'doc').glob('*.md'))]:
        for target in re.findall(r'\]\(([^)#]+)\)', document.read_text(encoding='utf-8')):
            if '://' not in target:
                assert (document.parent / target).exists(), f'{document.name}: {target}'
