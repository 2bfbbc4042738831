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

"""KLT feature tracking: accuracy, forward-backward rejection, grid re-detection, stable ids."""

import cv2
import numpy as np
import pytest

from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.triangulation.tracking import FeatureTracker, TrackerParams

WIDTH, HEIGHT = 320, 240


def texture(seed: int, size: tuple[int, int] = (400, 500)) -> np.ndarray:
    """Return a float32 texture with corners at several scales."""
    rng = np.random.default_rng(seed)
    image = np.zeros(size, np.float32)
    for sigma in (1.5, 4.0):
        layer = cv2.GaussianBlur(rng.standard_normal(size).astype(np.float32), (0, 0), sigma)
        image += layer / layer.std()
    return 128 + 40 * image


def view(image: np.ndarray, dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
    """Return the WIDTH x HEIGHT window of ``image`` at (40 + dx, 40 + dy), sub-pixel."""
    shift = np.float32([[1, 0, 40 + dx], [0, 1, 40 + dy]])
    window = cv2.warpAffine(image, shift, (WIDTH, HEIGHT),
                            flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP)
    return np.clip(np.rint(window), 0, 255).astype(np.uint8)


def test_tracks_follow_a_known_sub_pixel_shift_and_keep_their_ids():
    scene = texture(0)
    tracker = FeatureTracker(TrackerParams(max_features=200))
    first = tracker.track(view(scene))
    second = tracker.track(view(scene, dx=2.6, dy=-1.3))
    assert len(first.ids) == 200 and first.new_count == 200
    survivors = second.previous_index >= 0
    assert survivors.sum() > 180
    moved = second.points[survivors] - first.points[second.previous_index[survivors]]
    np.testing.assert_allclose(np.median(moved, axis=0), [-2.6, 1.3], atol=0.05)
    assert np.percentile(np.abs(moved - (-2.6, 1.3)), 95) < 0.2
    np.testing.assert_array_equal(second.ids[survivors],
                                  first.ids[second.previous_index[survivors]])


def test_features_are_spread_over_the_grid_and_capped():
    params = TrackerParams(max_features=240, grid_columns=4, grid_rows=3)
    tracked = FeatureTracker(params).track(view(texture(1)))
    assert len(tracked.ids) == 240
    column = (tracked.points[:, 0] * 4 // WIDTH).astype(int)
    row = (tracked.points[:, 1] * 3 // HEIGHT).astype(int)
    per_cell = np.bincount(row * 4 + column, minlength=12)
    assert per_cell.min() >= 15  # the quota is 20 per cell


def test_changed_content_is_dropped_by_the_forward_backward_check_and_refilled():
    scene, other = texture(2), texture(3)
    tracker = FeatureTracker(TrackerParams(max_features=200))
    first = tracker.track(view(scene))
    changed = view(scene, dx=1.0)
    changed[:, WIDTH // 2:] = view(other)[:, WIDTH // 2:]
    second = tracker.track(changed)
    kept = second.previous_index >= 0
    margin = 20  # the KLT window straddles the seam near the middle
    assert (second.points[kept, 0] < WIDTH // 2 + margin).all()
    left_before = (first.points[:, 0] < WIDTH // 2 - margin).sum()
    assert kept.sum() >= 0.9 * left_before
    new = ~kept
    assert (second.points[new, 0] > WIDTH // 2).mean() > 0.8  # re-detected where tracks died
    assert second.ids[new].min() > first.ids.max()
    assert len(second.ids) <= 200


def test_ids_are_never_reused_after_reset_and_drop():
    scene = texture(4)
    tracker = FeatureTracker(TrackerParams(max_features=50))
    first = tracker.track(view(scene))
    tracker.drop(np.arange(50) % 2 == 0)
    assert len(tracker.ids) == 25
    tracker.reset()
    again = tracker.track(view(scene))
    assert again.ids.min() > first.ids.max()
    assert (again.previous_index == -1).all()


def test_crowded_tracks_are_thinned_to_the_oldest():
    scene = texture(5)
    tracker = FeatureTracker(TrackerParams(max_features=50, min_distance_px=10))
    first = tracker.track(view(scene))
    # Put a younger twin 1 px beside every track (as converging motion would).
    twins = first.points + np.float32([1.0, 0.0])
    tracker._points = np.concatenate([first.points, twins])
    tracker._ids = np.concatenate([first.ids, first.ids + 1000])
    second = tracker.track(view(scene, dx=0.5))
    kept_ids = second.ids[second.previous_index >= 0]
    assert len(kept_ids) > 40
    assert (kept_ids < 1000).all()


def test_a_blank_image_gives_no_tracks():
    tracked = FeatureTracker().track(np.full((HEIGHT, WIDTH), 90, np.uint8))
    assert len(tracked.ids) == 0


def test_a_new_image_size_starts_over():
    tracker = FeatureTracker(TrackerParams(max_features=50))
    tracker.track(view(texture(6)))
    smaller = tracker.track(view(texture(6))[:200, :300])
    assert (smaller.previous_index == -1).all()


@pytest.mark.parametrize('image', [
    np.zeros((10, 10, 3), np.uint8), np.zeros((10, 10), np.float32), np.zeros((4, 100), np.uint8)])
def test_non_grayscale_input_is_rejected(image):
    with pytest.raises(BadMessageError, match='gray'):
        FeatureTracker().track(image)


def test_redetection_searches_only_cells_with_room_at_the_image_wide_threshold():
    # Strong texture on the left, a faint copy on the right: the first search sees both.
    scene = texture(7)
    scene[:, 200:] = 128 + 0.12 * (scene[:, 200:] - 128)  # view columns 160 on
    params = TrackerParams(max_features=120, grid_columns=4, grid_rows=3)
    tracker = FeatureTracker(params)
    first = tracker.track(view(scene))
    gray = view(scene)
    strongest = cv2.cornerMinEigenVal(gray, 3).max()
    # Lose every track of the two right-hand cell columns; the left cells stay full.
    tracker.drop(first.points[:, 0] < WIDTH // 2)

    def cells(points):
        rows, columns = (points[:, 1] * 3 // HEIGHT), (points[:, 0] * 4 // WIDTH)
        return (rows * 4 + columns).astype(int)

    room = np.bincount(cells(tracker.points), minlength=12) < 10  # the quota is 10 per cell
    assert room[[2, 3, 6, 7, 10, 11]].all() and room.sum() < 12
    second = tracker.track(gray)
    new = second.points[second.previous_index < 0]
    assert len(new) > 0 and room[cells(new)].all()  # only the cells with room were searched
    # Most of the faint half's corners are below quality_level x the image's strongest corner:
    # a search of the faint cells alone must not lower the threshold to take them.
    response = cv2.cornerMinEigenVal(gray, 3)
    at = np.rint(new).astype(int)
    assert (response[at[:, 1], at[:, 0]] >= 0.9 * params.quality_level * strongest).all()
