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

"""ONNX export: a checked file in the model contract whose output matches PyTorch at any size."""

import json

import numpy as np
import pytest

import model_fixtures
from mono_depth_ros.core.preprocessing import prepare_input
from mono_depth_ros.inference.base import ModelLoadError
from mono_depth_ros.inference.onnx_export import ExportError
from mono_depth_ros.tools import cli
from mono_depth_ros.tools.export import export_onnx, ExportResult

pytest.importorskip('torch')
pytest.importorskip('transformers')
onnx = pytest.importorskip('onnx')
onnxruntime = pytest.importorskip('onnxruntime')

PARITY_LIMIT = 1e-4


@pytest.fixture(scope='module')
def exported(tmp_path_factory) -> ExportResult:
    out = tmp_path_factory.mktemp('export') / 'tiny.onnx'
    return export_onnx(str(model_fixtures.make_hf_dir()), out, input_size=140)


def _dims(value_info) -> list:
    return [dim.dim_value or dim.dim_param for dim in value_info.type.tensor_type.shape.dim]


def test_export_writes_a_checked_dynamic_model_in_the_contract(exported):
    assert exported.parity <= PARITY_LIMIT
    assert exported.dynamic and exported.opset >= 17
    proto = onnx.load(exported.path)
    onnx.checker.check_model(proto)
    assert len(proto.graph.input) == 1 and len(proto.graph.output) == 1
    assert _dims(proto.graph.input[0]) == [1, 3, 'height', 'width']
    assert _dims(proto.graph.output[0]) == [1, 'height', 'width']
    metadata = {prop.key: prop.value for prop in proto.metadata_props}
    assert metadata['depth_type'] == 'relative' and metadata['producer'] == 'mono_depth_ros'


@pytest.mark.parametrize('size', [(140, 140), (196, 280), (280, 168)])
def test_exported_model_matches_torch_at_sizes_other_than_the_traced_one(exported, size):
    rng = np.random.default_rng(size[0])
    tensor = prepare_input(rng.integers(0, 256, (*size, 3), dtype=np.uint8), size)
    reference = model_fixtures.reference_output(model_fixtures.tiny_model(), tensor)
    session = onnxruntime.InferenceSession(exported.path, providers=['CPUExecutionProvider'])
    output = session.run(None, {'pixel_values': tensor})[0]
    assert output.shape == (1, *size)
    assert np.abs(output[0] - reference).max() / np.abs(reference).max() <= PARITY_LIMIT


def test_static_export_fixes_the_input_size(tmp_path):
    result = export_onnx(str(model_fixtures.make_official_pth()), tmp_path / 'fixed.onnx',
                         input_size=140, dynamic=False)
    proto = onnx.load(result.path)
    assert _dims(proto.graph.input[0]) == [1, 3, 140, 140]
    assert result.parity <= PARITY_LIMIT and result.parity_size == (140, 140)


def test_metric_official_checkpoint_exports_its_range_as_metadata(tmp_path):
    result = export_onnx(str(model_fixtures.make_official_pth(metric=True)),
                         tmp_path / 'metric.onnx', input_size=140)
    metadata = {prop.key: prop.value for prop in onnx.load(result.path).metadata_props}
    assert metadata['depth_type'] == 'metric' and metadata['max_depth'] == '20'
    assert result.info.max_depth == 20.0 and result.parity <= PARITY_LIMIT


def test_parity_failure_raises_and_writes_no_file(tmp_path):
    out = tmp_path / 'strict.onnx'
    with pytest.raises(ExportError, match='differ'):
        export_onnx(str(model_fixtures.make_official_pth()), out, input_size=140,
                    parity_tolerance=1e-12)
    assert list(tmp_path.iterdir()) == []


def test_export_refuses_onnx_sources_and_old_opsets(tmp_path):
    with pytest.raises(ModelLoadError, match='ONNX file has no PyTorch weights'):
        export_onnx(str(model_fixtures.make_onnx()), tmp_path / 'again.onnx')
    with pytest.raises(ExportError, match='opset'):
        export_onnx(str(model_fixtures.make_official_pth()), tmp_path / 'old.onnx', opset=13)


def test_export_subcommand_reports_the_parity_figure(tmp_path, capsys):
    out = tmp_path / 'cli.onnx'
    code = cli.main(['export', '--model', str(model_fixtures.make_official_pth()),
                     '--out', str(out), '--input-size', '140', '--json'])
    assert code == 0 and out.is_file()
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report['parity_max_relative_difference'] <= PARITY_LIMIT
    assert report['dynamic'] is True and report['depth_type'] == 'relative'


def test_export_subcommand_fails_cleanly_on_a_missing_model(tmp_path, capsys):
    missing = tmp_path / 'missing.pth'
    code = cli.main(['export', '--model', str(missing), '--out', str(tmp_path / 'x.onnx')])
    assert code == 2  # an input error
    line, = capsys.readouterr().err.splitlines()
    assert line.startswith('mono-depth-ros export: ') and str(missing) in line


def test_an_uncached_hub_id_names_the_allow_download_flag(tmp_path, capsys):
    code = cli.main(['export', '--model', 'nobody/not-a-cached-model', '--out',
                     str(tmp_path / 'x.onnx')])
    assert code == 2
    line, = capsys.readouterr().err.splitlines()
    assert line.startswith("mono-depth-ros export: cannot load model 'nobody/not-a-cached-model'")
    assert '--allow-download' in line and 'allow_download' not in line


# A download that retries: huggingface_hub logs each retry through its own stderr handler, and
# the tool's log must not add a second one (root) that prints every line again.
RETRYING_EXPORT = '''
import sys
from huggingface_hub.utils import logging as hf_logging
from mono_depth_ros.inference.errors import ModelLoadError
from mono_depth_ros.tools import cli, export

def export_that_retries(model, *args, **kwargs):
    hf_logging.get_logger('huggingface_hub.utils._http').warning('Retrying in 1s [Retry 1/5].')
    export.log_to_stderr().getChild('inference.onnx_export').info('loading the model')
    raise ModelLoadError(model, 'could not download it from the Hugging Face Hub')

export.export_onnx = export_that_retries
sys.exit(cli.main(['export', '--model', 'org/model', '--out', 'x.onnx', '--allow-download']))
'''


def test_each_download_retry_line_is_printed_once(tmp_path):
    import subprocess
    import sys

    pytest.importorskip('huggingface_hub')
    result = subprocess.run([sys.executable, '-c', RETRYING_EXPORT], capture_output=True,
                            text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert lines.count('Retrying in 1s [Retry 1/5].') == 1, result.stderr
    assert lines.count('loading the model') == 1, result.stderr
    assert lines[-1].startswith("mono-depth-ros export: cannot load model 'org/model'")
