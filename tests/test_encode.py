"""tensors → display bytes: exact pixels for hand-made tensors."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnnviz_widget import encode

REPO = Path(__file__).resolve().parents[1]


def decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


def test_png_round_trips_gray_and_rgb_and_refuses_wide_types():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    rgb = np.arange(36, dtype=np.uint8).reshape(3, 4, 3)
    assert np.array_equal(decode(encode.png(gray)), gray)
    assert np.array_equal(decode(encode.png(rgb)), rgb)
    with pytest.raises(TypeError, match="uint8"):
        encode.png(gray.astype(np.float32))


def test_unsigned_codes_scale_to_255_and_signed_codes_centre_on_128():
    x = torch.tensor([[0.0, 1.0, 2.0, 4.0]])
    assert encode.encode_codes(x, 4.0, signed=False).tolist() == [[0, 64, 128, 255]]  # 63.75 → 64, 127.5 → 128
    y = torch.tensor([[-4.0, -2.0, 0.0, 2.0, 4.0, 8.0]])
    assert encode.encode_codes(y, 4.0, signed=True).tolist() == [[1, 64, 128, 192, 255, 255]]
    assert encode.encode_codes(y, 0.0, signed=True).tolist() == [[128] * 6]  # a silent map: all zero-code


def test_atlas_puts_each_channel_in_its_tile_with_its_own_values():
    # 5 channels of 3×4, values are integers 0..255 and the layer max is 255: every code equals its value.
    acts = torch.zeros(5, 3, 4)
    for c in range(5):
        acts[c] = torch.arange(12).reshape(3, 4) * 10 + c
    acts[4, 2, 3] = 255
    atlas = encode.activation_atlas(acts, percentile=100, gamma=1)  # the layer's largest value, linearly
    assert (atlas.count, atlas.tile, atlas.cols, atlas.signed, atlas.downscale) == (5, (3, 4), 3, False, 1)
    sheet = decode(atlas.png)
    assert sheet.shape == (2 * 3, 3 * 4)
    for c in range(5):
        r, k = divmod(c, 3)
        assert np.array_equal(sheet[r * 3:(r + 1) * 3, k * 4:(k + 1) * 4], acts[c].numpy().astype(np.uint8)), c
    assert np.all(sheet[3:, 8:] == 0)  # the unused sixth cell
    assert atlas.stats[:, 1].tolist() == [110, 111, 112, 113, 255]  # max
    assert atlas.stats[:, 0].tolist() == [0, 1, 2, 3, 4]  # min
    assert atlas.stats[:, 4].tolist() == [255] * 5  # one scale for the layer
    assert atlas.stats[0, 3] == pytest.approx(11 / 12)  # fraction active: all but the zero


def test_atlas_of_a_signed_layer_centres_zero_on_gray_and_marks_silent_channels():
    acts = torch.tensor([[[-2.0, 0.0], [1.0, 2.0]], [[0.0, 0.0], [0.0, 0.0]]])
    atlas = encode.activation_atlas(acts, percentile=100, gamma=1)
    assert atlas.signed
    sheet = decode(atlas.png)
    assert sheet[:, :2].tolist() == [[1, 128], [192, 255]]  # 128 + round(127·x/2); 63.5 → 64 → 192
    assert sheet[:, 2:].tolist() == [[128, 128], [128, 128]]
    assert atlas.stats[1, :2].tolist() == [0.0, 0.0]  # min = max = 0: the front end marks it silent


def test_atlas_per_channel_normalisation_stretches_each_tile():
    acts = torch.tensor([[[1.0, 2.0]], [[10.0, 20.0]]])
    per_layer = decode(encode.activation_atlas(acts, percentile=100, gamma=1).png)
    per_channel = encode.activation_atlas(acts, normalize="channel", gamma=1)
    assert per_layer.tolist() == [[13, 26, 128, 255]]
    assert decode(per_channel.png).tolist() == [[128, 255, 128, 255]]
    assert per_channel.stats[:, 4].tolist() == [2.0, 20.0] and per_channel.percentile is None
    # The square-root ramp applies per channel too: 1/2 of the peak → round(255 · √0.5) = round(180.3) = 180.
    assert decode(encode.activation_atlas(acts, normalize="channel").png).tolist() == [[180, 255, 180, 255]]
    with pytest.raises(ValueError, match="normalize"):
        encode.activation_atlas(acts, normalize="image")


def test_atlas_scale_is_the_95th_percentile_of_the_unit_peaks_with_a_square_root_ramp():
    # 21 one-pixel units with peaks 0, 1, 4, 9, 16 (×16) and 64. Sorted, the 95th percentile sits at position
    # 0.95 · 20 = 19: 16, the scale. code = round(255 · √min(x / 16, 1)): 1 → √(1/16) = 0.25 → 63.75 → 64;
    # 4 → 0.5 → 127.5 → 128 (half to even); 9 → 0.75 → 191.25 → 191; 16 → 255; 64 is clipped to 255.
    values = [0.0, 1.0, 4.0, 9.0] + [16.0] * 16 + [64.0]
    atlas = encode.activation_atlas(torch.tensor(values)[:, None, None])
    assert (atlas.cols, atlas.gamma, atlas.percentile) == (5, 0.5, 95.0)
    codes = decode(atlas.png).reshape(-1)[:21].tolist()
    assert codes == [0, 64, 128, 191] + [255] * 16 + [255]
    assert atlas.stats[:, 4].tolist() == [16.0] * 21  # one scale for the layer
    assert atlas.stats[:, 1].tolist() == values  # the true peaks: the clipped unit's 64 stays readable
    # The old rule, the layer's largest value linearly: round(255 · x / 64) = 0, 4, 16, 36, 64 (×16), 255.
    old = encode.activation_atlas(torch.tensor(values)[:, None, None], percentile=100, gamma=1)
    assert decode(old.png).reshape(-1)[:21].tolist() == [0, 4, 16, 36] + [64] * 16 + [255]


def test_signed_codes_follow_the_ramp_on_both_sides_of_gray():
    # Two units, both peaking at |x| = 4: the scale is 4. code = 128 ± round(127 · √(|x| / 4)):
    # −4 → 1; −1 → 128 − round(63.5) = 128 − 64 = 64; 1 → 192; 0.25 → 128 + round(31.75) = 160; 4 → 255.
    acts = torch.tensor([[[-4.0, -1.0], [0.0, 1.0]], [[4.0, 0.25], [0.0, 0.0]]])
    atlas = encode.activation_atlas(acts)
    assert atlas.signed and atlas.stats[:, 4].tolist() == [4.0, 4.0]
    assert decode(atlas.png).tolist() == [[1, 64, 255, 160], [128, 192, 128, 128]]
    assert encode.encode_codes(torch.tensor([[-4.0, -1.0, 0.0, 1.0, 8.0]]), 4.0, signed=True,
                               gamma=0.5).tolist() == [[1, 64, 128, 192, 255]]


def test_a_layer_where_few_units_fire_takes_the_largest_peak_as_its_scale():
    # 40 units, one firing (peak 2): the 95th percentile (position 37.05 of the sorted peaks) is 0, so the scale
    # falls back to the largest peak and the firing unit is at full brightness, not black.
    acts = torch.zeros(40, 1, 1)
    acts[7] = 2.0
    atlas = encode.activation_atlas(acts)
    assert atlas.stats[0, 4] == 2.0
    assert decode(atlas.png).reshape(-1)[7] == 255
    assert encode.atlas_scale(torch.tensor([0.0, 10.0])) == pytest.approx(9.5)  # 0 + 0.95 · (10 − 0)
    assert encode.atlas_scale(torch.zeros(3)) == 0.0 and encode.atlas_scale(torch.zeros(0)) == 0.0
    with pytest.raises(ValueError, match="percentile must lie in 0–100 and gamma be positive"):
        encode.activation_atlas(acts, gamma=0)


def test_large_maps_are_max_pooled_keeping_the_strongest_value_and_its_sign():
    acts = torch.zeros(1, 4, 4)
    acts[0, 0, 1] = -3.0  # window (0,0): strongest is negative
    acts[0, 1, 0] = 1.0
    acts[0, 2, 2] = 2.0  # window (1,1)
    atlas = encode.activation_atlas(acts, gamma=1, max_tile=2)  # one channel: its peak 3 is the scale
    assert (atlas.downscale, atlas.tile) == (2, (2, 2))
    assert decode(atlas.png).tolist() == [[1, 128], [128, 213]]  # −3 → 1; 2 → 128 + round(127·2/3) = 213
    assert atlas.stats[0, :2].tolist() == [-3.0, 2.0]  # statistics are of the full-resolution map


def test_atlas_of_512_channels_stays_under_500_kb_even_for_noise():
    acts = torch.rand(512, 56, 56, generator=torch.Generator().manual_seed(0))
    atlas = encode.activation_atlas(acts)
    assert len(atlas.png) <= 500_000
    assert atlas.count * atlas.tile[0] * atlas.tile[1] <= encode.ATLAS_PIXELS


def test_linear_layers_become_one_pixel_tiles():
    atlas = encode.activation_atlas(torch.tensor([0.0, 1.0, 2.0]), percentile=100, gamma=1)
    assert (atlas.count, atlas.tile) == (3, (1, 1))
    assert decode(atlas.png).tolist() == [[0, 128], [255, 0]]  # 2 columns; the fourth cell is unused


def test_state_carries_stats_as_little_endian_float32():
    atlas = encode.activation_atlas(torch.tensor([[[1.0]], [[3.0]]]))
    state = atlas.to_state()
    assert np.frombuffer(state["stats"], dtype="<f4").reshape(2, 5)[:, 1].tolist() == [1.0, 3.0]
    assert state["stats_columns"] == ["min", "max", "mean", "fraction_active", "scale"]
    assert (state["gamma"], state["percentile"]) == (encode.ATLAS_GAMMA, encode.ATLAS_PERCENTILE) == (0.5, 95.0)


def test_raw_pictures_carry_shape_channels_and_bytes():
    rgb = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    assert encode.raw(rgb) == {"shape": [2, 2], "channels": 3, "data": bytes(range(12))}
    assert encode.raw(np.array([[7, 8]], np.uint8)) == {"shape": [1, 2], "channels": 1, "data": b"\x07\x08"}
    with pytest.raises(TypeError, match="uint8"):
        encode.raw(np.zeros((2, 2), np.float32))


def test_to_pil_reads_png_and_raw_pictures_back():
    rgb = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    assert np.array_equal(np.asarray(encode.to_pil(encode.png(rgb))), rgb)
    assert np.array_equal(np.asarray(encode.to_pil(encode.raw(rgb))), rgb)
    assert np.asarray(encode.to_pil(encode.raw(np.array([[9]], np.uint8)))).tolist() == [[[9, 9, 9]]]


def test_activation_map_is_stretched_on_its_own_channel():
    state = encode.activation_map(torch.tensor([[0.0, 5.0], [10.0, 2.5]]))
    assert (state["signed"], state["scale"], state["shape"], state["colormap"]) == (False, 10.0, [2, 2], "heat")
    assert state["codes"] == {"shape": [2, 2], "channels": 1, "data": bytes([0, 128, 255, 64])}
    assert encode.activation_map(torch.tensor([[-1.0, 1.0]]))["colormap"] == "diverging"


def test_projection_is_centred_on_gray_with_one_scale_for_all_channels():
    p = torch.zeros(3, 1, 3)
    p[0, 0] = torch.tensor([4.0, -4.0, 0.0])  # R
    p[1, 0] = torch.tensor([2.0, 0.0, 0.0])  # G
    pixels = encode.projection_pixels(p, quantile=1.0)
    assert pixels.dtype == np.uint8 and pixels.shape == (1, 3, 3)
    assert pixels[0].tolist() == [[255, 192, 128], [1, 128, 128], [128, 128, 128]]


def test_projection_reorders_bgr_models_to_rgb_and_repeats_gray():
    p = torch.zeros(3, 1, 1)
    p[0] = 1.0  # the model's channel 0 is blue for a Caffe (BGR) model
    assert encode.projection_pixels(p, "BGR", quantile=1.0)[0, 0].tolist() == [128, 128, 255]
    assert encode.projection_pixels(torch.ones(1, 1, 2), "L", quantile=1.0)[0].tolist() == [[255] * 3] * 2


def test_projection_quantile_clips_rare_extremes_and_zero_is_plain_gray():
    p = torch.zeros(1, 1, 1000)
    p[0, 0, :995] = 1.0
    p[0, 0, 999] = 100.0  # one outlier in a thousand
    pixels = encode.projection_pixels(p, "L")
    assert pixels[0, 0, 0] == 255 and pixels[0, 999, 0] == 255
    assert np.all(encode.projection_pixels(torch.zeros(3, 2, 2)) == 128)


def test_projection_box_crops_before_normalising():
    p = torch.zeros(1, 4, 4)
    p[0, 0, 0] = 100.0  # outside the box: must not set the scale
    p[0, 2, 3] = 1.0
    pixels = encode.projection_pixels(p, "L", quantile=1.0, box=[2, 2, 4, 4])
    assert pixels.shape == (2, 2, 3)
    assert pixels[..., 0].tolist() == [[128, 255], [128, 128]]


@pytest.mark.parametrize(("field", "size", "expected"), [
    ((10, 10, 13, 13), (227, 227), [0, 0, 24, 24]),  # widened around its centre, clipped at the corner
    ((100, 50, 103, 53), (227, 227), [89, 39, 113, 63]),
    ((-20, 200, 60, 280), (227, 227), [0, 147, 80, 227]),  # larger than min_side: kept, shifted inside
    ((0, 0, 3, 3), (16, 16), [0, 0, 16, 16]),  # an input smaller than min_side: all of it
])
def test_crop_box(field, size, expected):
    assert encode.crop_box(field, size) == expected


def _kernel(sigma):
    t = np.arange(-np.ceil(4 * sigma), np.ceil(4 * sigma) + 1)
    k = np.exp(-t * t / (2 * sigma * sigma))
    return k / k.sum()


def test_gaussian_blur_is_the_separable_kernel_with_mirrored_borders():
    k = _kernel(2.0)  # radius 8
    delta = np.zeros((41, 41))
    delta[20, 20] = 1.0
    out = encode.gaussian_blur(delta, 2.0)
    assert np.array_equal(out[12:29, 12:29], np.outer(k, k)) and out.sum() == pytest.approx(1.0)
    # σ = 0.5 (radius 2) on a 3×3 corner delta: mirroring without repeating the edge sends row/column 4 of the
    # padding back onto index 0, so out[2, 0] gathers the kernel's two tails.
    k = _kernel(0.5)
    corner = np.zeros((3, 3))
    corner[0, 0] = 1.0
    out = encode.gaussian_blur(corner, 0.5)
    assert out[0, 0] == k[2] * k[2] and out[1, 0] == k[1] * k[2] and out[2, 0] == (k[0] + k[4]) * k[2]
    assert np.allclose(encode.gaussian_blur(np.full((4, 6), 7.0), 3.0), 7.0, rtol=0, atol=1e-12)


def test_projection_display_raw_is_projection_pixels():
    p = torch.randn(3, 5, 6, generator=torch.Generator().manual_seed(0))
    assert np.array_equal(encode.projection_display(p, "raw", "BGR", box=[1, 1, 4, 5]),
                          encode.projection_pixels(p, "BGR", box=[1, 1, 4, 5]))


def test_projection_display_gray_and_norm():
    p = torch.tensor([[[1.0, -2.0, 0.0]], [[3.0, 0.0, 0.0]], [[2.0, 2.0, 0.0]]])  # [3, 1, 3]
    gray = encode.projection_display(p, "gray", quantile=1.0)  # channel means [2, 0, 0]: scale 2
    assert gray.dtype == np.uint8 and gray.shape == (1, 3, 3)
    assert gray[0].tolist() == [[255] * 3, [128] * 3, [128] * 3]
    q = torch.tensor([[[3.0, 0.0, -1.0]], [[4.0, 0.0, 0.0]], [[0.0, 0.0, 0.0]]])  # lengths [5, 0, 1]
    assert encode.projection_display(q, "norm", quantile=1.0)[0, :, 0].tolist() == [255, 0, 51]
    assert np.array_equal(encode.projection_display(q, "norm", "BGR"), encode.projection_display(q, "norm", "RGB"))


def test_projection_display_scale_is_a_quantile_of_what_is_shown():
    p = torch.tensor([[[0.0, 1.0, 2.0, 3.0, 100.0]]])  # one channel; the median of |m| is 2
    assert encode.projection_display(p, "gray", "L", quantile=0.5)[0, :, 0].tolist() == [128, 192, 255, 255, 255]
    assert encode.projection_display(p, "norm", "L", quantile=0.5)[0, :, 0].tolist() == [0, 128, 255, 255, 255]


def test_projection_display_blurred_norm_blurs_the_whole_projection_before_the_crop():
    k = _kernel(2.0)
    p = torch.zeros(1, 41, 41)
    p[0, 20, 20] = -3.0  # the norm forgets the sign
    blob = np.outer(k, k) / k[8] ** 2
    out = encode.projection_display(p, "blurred_norm", "L", quantile=1.0, sigma=2.0)
    assert np.array_equal(out[12:29, 12:29, 0], np.round(255 * blob).astype(np.uint8))
    assert out[:12].max() == 0 and np.all(out[..., 0] == out[..., 2])
    # a box next to the blob: its scale is its own largest value, which the blur carried across the box's edge
    box = encode.projection_display(p, "blurred_norm", "L", quantile=1.0, box=[16, 22, 20, 26], sigma=2.0)
    side = np.outer(k[4:8], k[10:14])
    assert np.array_equal(box[..., 0], np.round(255 * side / side.max()).astype(np.uint8))


def test_projection_display_silent_units_and_unknown_modes():
    zero = torch.zeros(3, 2, 2)
    assert np.all(encode.projection_display(zero, "gray") == 128)
    assert np.all(encode.projection_display(zero, "norm") == 0)
    assert np.all(encode.projection_display(zero, "blurred_norm") == 0)
    with pytest.raises(ValueError, match="raw, gray, norm, blurred_norm"):
        encode.projection_display(zero, "normblur")


@pytest.mark.parametrize(("field", "fraction", "expected"), [
    ((0, 0, 10, 10), 0.5, [2, 2, 7, 7]),
    ((24, 24, 231, 231), 0.5, [75, 75, 179, 179]),  # 103.5 rounds to 104; 51 px off each side
    ((-20, 200, 60, 280), 1.0, [-20, 200, 60, 280]),
    ((10, 10, 13, 13), 0.1, [11, 11, 12, 12]),  # at least one pixel
])
def test_central_box(field, fraction, expected):
    assert encode.central_box(field, fraction) == expected
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        encode.central_box(field, 0.0)


def test_filters_are_centred_per_filter_in_rgb_order():
    w = torch.zeros(2, 3, 1, 2)
    w[0, 0, 0, 0] = 2.0  # BGR model: input channel 0 is blue
    w[0, 2, 0, 1] = -1.0
    w[1, 1] = 0.5
    rgb = encode.filter_pixels(w, "BGR")
    assert rgb.shape == (2, 1, 2, 3)
    assert rgb[0, 0].tolist() == [[128, 128, 255], [64, 128, 128]]  # 128 + round(127·(−1)/2) = 64 (−63.5 → −64)
    assert rgb[1, 0].tolist() == [[128, 255, 128]] * 2
    assert encode.filter_pixels(w, "RGB")[0, 0, 0].tolist() == [255, 128, 128]


def test_gray_filters_and_nearest_neighbour_zoom():
    w = torch.tensor([[[[1.0, -1.0], [0.0, 1.0]]]])  # one filter, one input channel, 2×2
    sheet = encode.filter_sheet(w, min_tile=8)
    assert (sheet.count, sheet.zoom, sheet.tile, sheet.kernel, sheet.cols) == (1, 4, (8, 8), (2, 2), 1)
    pixels = decode(sheet.png)
    assert pixels.shape == (8, 8, 3)
    assert np.all(pixels[:4, :4] == 255) and np.all(pixels[:4, 4:] == 1) and np.all(pixels[4:, :4] == 128)


def test_thumbnail_sheet_puts_image_i_in_tile_i():
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    png, cols = encode.thumbnail_sheet([Image.new("RGB", (40, 30), c) for c in colours], size=8)
    sheet = decode(png)
    assert cols == 3 and sheet.shape == (8, 24, 3)
    for i, c in enumerate(colours):
        assert np.all(sheet[:, i * 8:(i + 1) * 8] == c)


def test_colour_maps_are_exact_at_their_stops():
    assert np.array_equal(encode.colormap_lut("gray")[:, 0], np.arange(256))
    assert encode.colormap_lut("diverging")[128].tolist() == [247, 247, 247]
    assert encode.colorize(np.array([[0, 255]], np.uint8), "heat").tolist() == [[[0, 0, 4], [252, 255, 164]]]
    with pytest.raises(ValueError, match="unknown colour map"):
        encode.colormap_lut("jet")


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_front_end_colour_maps_equal_these():
    script = ("import { COLORMAPS, lut } from './js/src/lib/colormap.js';"
              "console.log(JSON.stringify(Object.fromEntries(Object.keys(COLORMAPS).map(n => [n, [...lut(n)]]))));")
    out = subprocess.run(["node", "--input-type=module", "-e", script], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout
    js = json.loads(out)
    assert sorted(js) == sorted(encode.COLORMAPS)
    for name, table in js.items():
        assert table == encode.colormap_lut(name).reshape(-1).tolist(), name


def test_exemplar_tiles_keep_small_boxes_and_shrink_large_ones_to_the_mean():
    assert (encode.fit_size(3, 3, 96), encode.fit_size(207, 207, 96), encode.fit_size(100, 50, 40)) == (
        (3, 3), (96, 96), (40, 20))
    blocks = np.kron(np.arange(4, dtype=np.uint8).reshape(2, 2) * 60, np.ones((4, 4), np.uint8))  # 2×2 blocks of 4 px
    patch = np.stack([blocks, blocks + 1, blocks + 2], axis=-1)  # 8×8×3
    weak, strong = torch.zeros(3, 8, 8), torch.zeros(3, 8, 8)
    weak[0, :4, :4], strong[2, 4:, 4:] = 0.01, -50.0  # each projection is normalised on its own
    patches, projections = encode.exemplar_tiles([patch, patch], [weak, strong], max_side=2)
    assert patches.shape == projections.shape == (2, 2, 2, 3)
    assert patches[0, :, :, 0].tolist() == [[0, 60], [120, 180]] and patches[0, 1, 1].tolist() == [180, 181, 182]
    assert projections[0, 0, 0].tolist() == [255, 128, 128] and projections[1, 1, 1].tolist() == [128, 128, 1]
    assert projections[0, 1, 1].tolist() == [128, 128, 128]
    same, _ = encode.exemplar_tiles([patch], [weak], max_side=96)
    assert np.array_equal(same[0], patch)  # small enough: the pixels themselves
    assert encode.exemplar_tiles([], [])[0].shape == (0, 1, 1, 3)


def test_top9_figure_puts_projections_left_and_patches_right_in_the_same_places():
    """Two exemplars of 2×2 px, ``tile=4`` (each picture enlarged ×2), ``gap=1``, 3 a row: each grid is
    3·4 + 2·1 = 14 px wide, the grids 4 px apart (32 px in all), one row of 4 px; white where nothing is."""
    patches = [np.full((2, 2, 3), 10 * (i + 1), np.uint8) for i in range(2)]
    projections = [torch.tensor([[[1.0, -1.0], [0.0, 2.0]]] * 3) * (i + 1) for i in range(2)]
    figure = encode.top9_figure(patches, projections, tile=4, gap=1)
    assert figure.shape == (4, 32, 3) and figure.dtype == np.uint8

    def enlarged(picture):
        return picture.repeat(2, axis=0).repeat(2, axis=1)

    for i, x in enumerate((0, 5)):
        assert np.array_equal(figure[:, x:x + 4], enlarged(encode.projection_display(projections[i], "raw")))
        assert np.array_equal(figure[:, 18 + x:22 + x], enlarged(patches[i]))
    for white in (4, *range(9, 18), 22, *range(27, 32)):
        assert (figure[:, white] == 255).all(), white


def test_top9_figure_shows_the_central_part_of_the_field_in_the_chosen_display():
    """A 48×48 field at ``fraction=0.5``: its central 24×24 px (12 to 36), projection and patch alike; ``tile=24``
    leaves them at their size. Grids: 3·24 + 2·2 = 76 px, the patches from x = 76 + 8."""
    rng = np.random.default_rng(0)
    patch = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    projection = torch.from_numpy(rng.normal(size=(3, 48, 48)).astype(np.float32))
    figure = encode.top9_figure([patch], [projection], mode="gray", fraction=0.5, tile=24)
    assert figure.shape == (24, 2 * 76 + 8, 3)
    assert np.array_equal(figure[:, :24], encode.projection_display(projection, "gray", box=(12, 12, 36, 36)))
    assert np.array_equal(figure[:, 84:108], patch[12:36, 12:36])
    with pytest.raises(ValueError, match="as many patches as projections"):
        encode.top9_figure([patch], [])


def test_exemplar_tiles_in_a_display_and_on_the_central_half():
    # Two 4×4 exemplars; the central half of a 4-pixel field is its middle 2×2. The projection holds +3 in red and
    # −3 in blue at (1, 1), +6 in green at (2, 2): gray (the channel mean) is 0 and 2, so on the 2×2 crop its
    # robust scale is the 99.5th percentile of |0, 0, 0, 2| = 1.97 and (2, 2) is clipped to 255; the norm is √18
    # and 6, its scale the 99.5th percentile of 0, 0, √18, 6 = √18 + 0.985 · (6 − √18) ≈ 5.97: (2, 2) is clipped
    # to 255 and (1, 1) shows round(255 · √18 / 5.97).
    patch = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    p = torch.zeros(3, 4, 4)
    p[0, 1, 1], p[2, 1, 1], p[1, 2, 2] = 3.0, -3.0, 6.0
    patches, gray = encode.exemplar_tiles([patch, patch], [p, p], display="gray", fraction=0.5)
    assert np.array_equal(patches[0], patch[1:3, 1:3]) and patches.shape == (2, 2, 2, 3)
    assert gray[0, :, :, 0].tolist() == [[128, 128], [128, 255]]
    _, norm = encode.exemplar_tiles([patch], [p], display="norm", fraction=0.5)
    scale = np.quantile([0.0, 0.0, np.sqrt(18.0), 6.0], 0.995)
    assert norm[0, :, :, 0].tolist() == [[round(255 * np.sqrt(18.0) / scale), 0], [0, 255]]
    _, raw = encode.exemplar_tiles([patch], [p])  # the paper's: colour on the whole field, as before
    assert np.array_equal(raw[0], encode.projection_pixels(p))


def test_exemplar_tiles_at_several_sizes_equal_one_call_a_size():
    rng = np.random.default_rng(0)
    patches = [rng.integers(0, 256, (40, 40, 3), dtype=np.uint8) for _ in range(3)]
    projections = [torch.from_numpy(rng.normal(size=(3, 40, 40)).astype(np.float32)) for _ in range(3)]
    both = encode.exemplar_tile_sizes(patches, projections, "BGR", (16, 8), "blurred_norm", 0.5)
    for (tiles, shown), side in zip(both, (16, 8)):
        one = encode.exemplar_tiles(patches, projections, "BGR", side, "blurred_norm", 0.5)
        assert np.array_equal(tiles, one[0]) and np.array_equal(shown, one[1]) and tiles.shape[1:3] == (side, side)
