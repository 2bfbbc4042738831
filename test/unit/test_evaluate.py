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

"""Tests of ``mono-depth-ros eval`` against metrics worked out by hand on small arrays."""

import csv
import json
import math
import pathlib

import cv2
import numpy as np
import pytest

from mono_depth_ros.tools import cli

NAN = float('nan')
# Frame a: three valid pixels (the NaN ground truth is not scored).
GT_A = np.array([[1.0, 2.0], [4.0, NAN]], dtype=np.float32)
PRED_A = np.array([[1.5, 2.0], [2.0, 3.0]], dtype=np.float32)
# Frame b: four valid pixels, one off by 0.5 m.
GT_B = np.full((2, 2), 2.0, dtype=np.float32)
PRED_B = np.array([[2.0, 2.0], [2.0, 2.5]], dtype=np.float32)


def hand_metrics_a() -> dict:
    log_errors = [math.log(1.5), 0.0, math.log(0.5)]
    mean_square_log = sum(d * d for d in log_errors) / 3
    return {
        'abs_rel': (0.5 / 1 + 0 / 2 + 2 / 4) / 3,
        'sq_rel': (0.25 / 1 + 0 + 4 / 4) / 3,
        'rmse': math.sqrt((0.25 + 0 + 4) / 3),
        'rmse_log': math.sqrt(mean_square_log),
        'silog': 100 * math.sqrt(mean_square_log - (sum(log_errors) / 3) ** 2),
        'delta1': 1 / 3,  # ratios 1.5, 1, 2
        'delta2': 2 / 3,  # 1.5 < 1.5625
        'delta3': 2 / 3,  # 2 > 1.953
    }


def write_png(path, metres, scale=5000.0) -> None:
    assert cv2.imwrite(str(path), np.rint(np.nan_to_num(metres) * scale).astype(np.uint16))


def run_eval(capsys, *args) -> tuple[int, str, str]:
    code = cli.main(['eval', *[str(a) for a in args]])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def new_pred_and_gt(tmp_path) -> tuple[pathlib.Path, pathlib.Path]:
    """Return new empty pred/ and gt/ folders under ``tmp_path``."""
    pred, gt = tmp_path / 'pred', tmp_path / 'gt'
    pred.mkdir()
    gt.mkdir()
    return pred, gt


@pytest.fixture
def frames(tmp_path):
    pred, gt = new_pred_and_gt(tmp_path)
    np.save(pred / 'a.npy', PRED_A)
    np.save(gt / 'a.npy', GT_A)
    np.save(pred / 'b.npy', PRED_B)
    write_png(gt / 'b.png', GT_B)  # 16-bit, 5000 per metre
    return pred, gt


def test_metrics_of_one_frame_match_the_hand_computed_values(tmp_path, capsys):
    pred, gt = new_pred_and_gt(tmp_path)
    np.save(pred / 'a.npy', PRED_A)
    np.save(gt / 'a.npy', GT_A)
    code, out, _ = run_eval(capsys, '--pred', pred, '--gt', gt, '--json', '-')
    assert code == 0
    result = json.loads(out)
    for name, value in hand_metrics_a().items():
        assert result['metrics'][name] == pytest.approx(value, rel=1e-6), name
    assert result['pixels'] == 3 and result['frames_scored'] == 1
    assert result['matched_by'] == 'stem'


def test_frames_average_per_frame_or_per_pixel(frames, capsys):
    pred, gt = frames
    abs_rel_a, abs_rel_b = hand_metrics_a()['abs_rel'], 0.5 / 2 / 4
    code, out, _ = run_eval(capsys, '--pred', pred, '--gt', gt, '--json', '-')
    assert code == 0
    assert json.loads(out)['metrics']['abs_rel'] == pytest.approx((abs_rel_a + abs_rel_b) / 2)
    code, out, _ = run_eval(capsys, '--pred', pred, '--gt', gt, '--json', '-',
                            '--weighting', 'pixel')
    result = json.loads(out)
    assert result['metrics']['abs_rel'] == pytest.approx((3 * abs_rel_a + 4 * abs_rel_b) / 7)
    assert result['pixels'] == 7


def test_the_table_names_every_metric_and_files_get_json_and_csv(frames, tmp_path, capsys):
    pred, gt = frames
    json_path, csv_path = tmp_path / 'metrics.json', tmp_path / 'frames.csv'
    code, out, err = run_eval(capsys, '--pred', pred, '--gt', gt, '--json', json_path,
                              '--csv', csv_path)
    assert code == 0
    for label in ('AbsRel', 'SqRel', 'RMSE', 'RMSElog', 'SILog', 'δ < 1.25', 'δ < 1.25²',
                  'δ < 1.25³'):
        assert label in err
    assert '2 frames scored of 2 matched by stem' in err
    assert json.loads(json_path.read_text()) == json.loads(out)  # stdout is the JSON too
    assert json.loads(out)['frames_scored'] == 2
    rows = list(csv.DictReader(csv_path.open()))
    assert [row['pred'] for row in rows] == ['a', 'b']
    assert int(rows[0]['count']) == 3
    assert float(rows[1]['abs_rel']) == pytest.approx(0.0625)


def test_median_alignment_removes_a_global_scale(tmp_path, capsys):
    pred, gt = new_pred_and_gt(tmp_path)
    truth = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=np.float32)
    np.save(gt / 'f.npy', truth)
    np.save(pred / 'f.npy', 3.0 * truth)
    code, out, _ = run_eval(capsys, '--pred', pred, '--gt', gt, '--json', '-')
    assert json.loads(out)['metrics']['abs_rel'] == pytest.approx(2.0)
    code, out, _ = run_eval(capsys, '--pred', pred, '--gt', gt, '--json', '-',
                            '--align', 'median', '--per-frame')
    result = json.loads(out)
    assert code == 0
    assert result['metrics']['abs_rel'] == pytest.approx(0.0, abs=1e-6)
    assert result['per_frame'][0]['scale'] == pytest.approx(1 / 3)


def test_scale_shift_alignment_in_inverse_space_fits_a_relative_output(tmp_path, capsys):
    pred, gt = new_pred_and_gt(tmp_path)
    truth = np.linspace(0.5, 8.0, 24, dtype=np.float32).reshape(4, 6)
    np.save(gt / 'f.npy', truth)
    np.save(pred / 'f.npy', 4.0 / truth + 0.3)  # 1/gt = 0.25 * pred - 0.075
    code, out, _ = run_eval(capsys, '--pred', pred, '--gt', gt, '--json', '-',
                            '--align', 'scale-shift', '--align-space', 'inverse',
                            '--per-frame')
    result = json.loads(out)
    assert code == 0
    assert result['metrics']['abs_rel'] == pytest.approx(0.0, abs=1e-5)
    assert result['per_frame'][0]['scale'] == pytest.approx(0.25, rel=1e-4)
    assert result['per_frame'][0]['shift'] == pytest.approx(-0.075, rel=1e-3)
    assert result['align_space'] == 'inverse'


def test_timestamp_stems_match_within_the_tolerance_one_to_one(tmp_path, capsys):
    pred, gt = new_pred_and_gt(tmp_path)
    for stem in ('1.000000', '2.010000'):
        np.save(pred / f'{stem}.npy', GT_B)
    for stem in ('1.005000', '2.000000', '3.000000'):
        write_png(gt / f'{stem}.png', GT_B)
    code, out, _ = run_eval(capsys, '--pred', pred, '--gt', gt, '--json', '-', '--per-frame')
    result = json.loads(out)
    assert code == 0 and result['matched_by'] == 'stamp'
    assert [(row['pred'], row['gt']) for row in result['per_frame']] == [
        ('1.000000', '1.005000'), ('2.010000', '2.000000')]
    assert result['gt_unmatched'] == 1
    code, _, err = run_eval(capsys, '--pred', pred, '--gt', gt, '--tolerance', '0.001')
    assert code == 1 and 'no prediction matched' in err and '--tolerance 0.001 s' in err
    assert len(err.splitlines()) == 1


def test_names_that_are_neither_shared_nor_stamps_exit_2(tmp_path, capsys):
    pred, gt = new_pred_and_gt(tmp_path)
    np.save(pred / 'left.npy', GT_B)
    np.save(gt / 'right.npy', GT_B)
    code, _, err = run_eval(capsys, '--pred', pred, '--gt', gt)
    assert code == 2 and 'no frame names in common' in err and 'left' in err


def test_a_pickled_npy_is_refused_not_loaded(tmp_path, capsys):
    pred, gt = new_pred_and_gt(tmp_path)
    np.save(pred / 'f.npy', np.array([{'depth': 1}], dtype=object), allow_pickle=True)
    np.save(gt / 'f.npy', GT_B)
    code, _, err = run_eval(capsys, '--pred', pred, '--gt', gt)
    assert code == 2 and 'f.npy' in err


def write_depth_bag(path, frames):
    """Write (topic, stamp_ns, array, encoding) depth images to an MCAP rosbag2."""
    from mono_depth_ros import bags
    from mono_depth_ros.core.image_codec import ImageFields

    with bags.BagWriter(path, 'mcap', version=9) as writer:
        connections = {}
        for topic, stamp, array, encoding in frames:
            if topic not in connections:
                connections[topic] = writer.add_topic(topic, 'sensor_msgs/msg/Image')
            data = np.ascontiguousarray(array).view(np.uint8).reshape(-1)
            fields = ImageFields(array.shape[0], array.shape[1], encoding, 0,
                                 array.shape[1] * array.itemsize, data)
            writer.write_message(connections[topic], stamp, bags.messages.image(
                fields, bags.messages.header(stamp, 'camera')))
    return path


def test_a_bag_topic_is_scored_against_ground_truth_by_stamp(tmp_path, capsys):
    pytest.importorskip('rosbags')
    gt = tmp_path / 'gt'
    gt.mkdir()
    write_png(gt / '10.000000.png', GT_A)
    write_png(gt / '10.100000.png', GT_B)
    millimetres = np.rint(PRED_B * 1000).astype(np.uint16)  # REP 118 16UC1
    bag = write_depth_bag(tmp_path / 'pred', [
        ('/cam/depth/image', 10_003_000_000, PRED_A, '32FC1'),
        ('/cam/triangulation/depth', 10_003_000_000, GT_A, '32FC1'),
        ('/cam/depth/image', 10_098_000_000, millimetres, '16UC1'),
        ('/cam/depth/image', 11_000_000_000, PRED_B, '32FC1'),
    ])
    code, out, err = run_eval(capsys, '--pred-bag', bag, '--gt', gt, '--json', '-',
                              '--per-frame')
    assert code == 0, err
    result = json.loads(out)
    assert '/cam/depth/image' in result['pred']
    assert [row['gt'] for row in result['per_frame']] == ['10.000000', '10.100000']
    assert result['pred_unmatched'] == 1
    assert result['per_frame'][0]['abs_rel'] == pytest.approx(hand_metrics_a()['abs_rel'])
    assert result['per_frame'][1]['abs_rel'] == pytest.approx(0.0625)
    assert 'frames scored' in err  # the table goes to stderr when JSON goes to stdout

    code, out, _ = run_eval(capsys, '--pred-bag', bag, '--gt', gt, '--json', '-',
                            '--topic', '/cam/triangulation/depth')
    assert json.loads(out)['metrics']['abs_rel'] == pytest.approx(0.0, abs=1e-6)
    code, _, err = run_eval(capsys, '--pred-bag', bag, '--gt', gt, '--topic', '/nope')
    assert code == 2 and '/cam/depth/image' in err and '/cam/triangulation/depth' in err


def test_frames_without_valid_pixels_are_null_in_json(tmp_path, capsys):
    pred, gt = new_pred_and_gt(tmp_path)
    np.save(pred / 'a.npy', PRED_A)
    np.save(gt / 'a.npy', GT_A)
    np.save(pred / 'empty.npy', np.full((2, 2), NAN, np.float32))
    np.save(gt / 'empty.npy', GT_B)
    code, out, _ = run_eval(capsys, '--pred', pred, '--gt', gt, '--json', '-', '--per-frame')
    result = json.loads(out)
    assert code == 0 and result['frames_scored'] == 1 and result['frames_matched'] == 2
    empty = next(row for row in result['per_frame'] if row['pred'] == 'empty')
    assert empty['count'] == 0 and empty['abs_rel'] is None
    assert result['metrics']['abs_rel'] == pytest.approx(hand_metrics_a()['abs_rel'])


def test_stdout_is_one_summary_object_and_per_frame_rows_need_the_flag(frames, capsys):
    pred, gt = frames
    code, out, _ = run_eval(capsys, '--pred', pred, '--gt', gt)
    summary = json.loads(out)  # the whole of stdout is one JSON object
    assert code == 0 and 'per_frame' not in summary and summary['frames_scored'] == 2
    code, out, _ = run_eval(capsys, '--pred', pred, '--gt', gt, '--per-frame')
    assert [row['pred'] for row in json.loads(out)['per_frame']] == ['a', 'b']


def test_no_frame_with_a_valid_pixel_exits_1_with_the_reason(tmp_path, capsys):
    pred, gt = new_pred_and_gt(tmp_path)
    np.save(pred / 'a.npy', np.full((2, 2), NAN, np.float32))
    np.save(gt / 'a.npy', GT_B)
    code, out, err = run_eval(capsys, '--pred', pred, '--gt', gt)
    assert code == 1 and out == ''
    assert err.splitlines() == [
        'mono-depth-ros eval: none of the 1 matched frames has a valid pixel (a finite, positive '
        'prediction where the ground truth is finite and within (0.001, inf] m)']
    code, out, err = run_eval(capsys, '--pred', pred, '--gt', gt, '--align', 'median')
    assert code == 1 and out == '' and 'enough valid pixels to align' in err
    assert 'nan' not in err.lower()


def test_a_bag_without_depth_image_scores_the_triangulation_and_says_so(tmp_path, capsys):
    pytest.importorskip('rosbags')
    gt = tmp_path / 'gt'
    gt.mkdir()
    write_png(gt / '10.000000.png', GT_B)
    bag = write_depth_bag(tmp_path / 'pred', [
        ('/cam/triangulation/depth', 10_000_000_000, PRED_B, '32FC1'),
        ('/cam/triangulation/tracks', 10_000_000_000, PRED_B, '32FC1'),
    ])
    code, out, err = run_eval(capsys, '--pred-bag', bag, '--gt', gt)
    assert code == 0, err
    assert 'mono-depth-ros eval: scoring /cam/triangulation/depth' in err.splitlines()
    assert json.loads(out)['metrics']['abs_rel'] == pytest.approx(0.0625)


def test_a_bag_with_depth_in_two_namespaces_asks_for_topic(tmp_path, capsys):
    pytest.importorskip('rosbags')
    gt = tmp_path / 'gt'
    gt.mkdir()
    write_png(gt / '10.000000.png', GT_B)
    bag = write_depth_bag(tmp_path / 'pred', [
        ('/left/depth/image', 10_000_000_000, PRED_B, '32FC1'),
        ('/right/depth/image', 10_000_000_000, PRED_B, '32FC1'),
    ])
    code, out, err = run_eval(capsys, '--pred-bag', bag, '--gt', gt)
    assert code == 2 and out == ''
    line, = err.splitlines()
    assert '/left/depth/image, /right/depth/image' in line and '--topic' in line
