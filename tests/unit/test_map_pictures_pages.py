"""Issue 14, pure parts: the map's shapes, results shading, page windows and image preparation."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from portal import images
from portal.districts import DISTRICTS, DONGS, DONGS_BY_KEY, dong_name
from portal.errors import InvalidInput
from portal.paging import Paged, page_number, paginate, window
from portal.seoul_map import HEIGHT, WIDTH, district_shapes, river_path
from portal.web.pagination import Pager
from tests.images import phone_jpeg, png
from voting.compute.district_map import district_figures, shade


def test_every_district_has_a_shape_inside_the_map_with_its_label_inside_it():
    shapes = district_shapes()
    assert [s.code for s in shapes] == [d.code for d in DISTRICTS]
    for shape in shapes:
        points = [tuple(map(float, p.split(","))) for p in re.findall(r"[\d.]+,[\d.]+", shape.path)]
        assert len(points) >= 3, shape.code
        xs, ys = [x for x, _ in points], [y for _, y in points]
        assert 0 <= min(xs) and max(xs) <= WIDTH and 0 <= min(ys) and max(ys) <= HEIGHT
        assert min(xs) < shape.label_x < max(xs) and min(ys) < shape.label_y < max(ys), shape.code
    assert river_path().startswith("M")
    by_code = {s.code: s for s in shapes}
    # North of the Han: Jongno above Yongsan above Gangnam; Gangseo is the westernmost, Gangdong the easternmost.
    assert by_code["11110"].label_y < by_code["11170"].label_y < by_code["11680"].label_y
    assert min(shapes, key=lambda s: s.label_x).code == "11500"
    assert max(shapes, key=lambda s: s.label_x).code == "11740"


def test_every_district_has_its_neighbourhoods():
    assert set(DONGS) == {d.code for d in DISTRICTS} and all(len(v) >= 10 for v in DONGS.values())
    assert DONGS_BY_KEY["11680:역삼1동"].name_en == "Yeoksam 1-dong"
    assert (
        dong_name("11680:역삼1동", "en") == "Yeoksam 1-dong"
        and dong_name("11680:옛동", "en") == "옛동"
    )


def test_results_shading_follows_the_funded_total():
    assert [shade(f, 100) for f in (0, 1, 25, 26, 50, 75, 100)] == [0, 1, 1, 2, 2, 3, 4]
    figures = district_figures(
        {"11110": 1, "11140": 2}, {1: 400, 2: 0}, {"11110": 50}, {"11110": 1000, "11140": 10}
    )
    assert figures["11110"].level == 4 and figures["11140"].level == 0
    assert figures["11110"].turnout_permille == 50.0


def test_garbage_page_numbers_read_as_page_one_and_past_the_end_is_the_last_page():
    for raw in (None, "", "abc", "-1", "0", "1.5", "1e9", "２", "9" * 30):
        assert page_number(raw) == 1, raw
    assert page_number("7") == 7
    assert window(99, 45, 20) == (3, 40) and window(1, 0, 20) == (1, 0)
    paged = paginate(list(range(45)), 3)
    assert paged.items == [40, 41, 42, 43, 44] and (paged.first_item, paged.last_item) == (41, 45)


def test_page_links_keep_every_filter_and_gap_long_runs():
    pager = Pager(Paged([], 6, 20, 400), "/list", (("q", "a b"), ("sort", "title")))
    assert pager.url(1) == "/list?q=a+b&sort=title" and pager.url(7).endswith("&page=7")
    assert pager.numbers() == [1, None, 4, 5, 6, 7, 8, None, 20]


def test_a_phone_photo_is_turned_upright_and_loses_its_metadata():
    prepared = images.prepare(phone_jpeg(800, 600, orientation=6))
    for content in (prepared.content, prepared.thumbnail):
        picture = Image.open(io.BytesIO(content))
        assert picture.format == "JPEG" and picture.height > picture.width
        assert not picture.getexif() and "exif" not in picture.info
    assert max(Image.open(io.BytesIO(prepared.thumbnail)).size) == images.THUMB_SIDE
    assert Image.open(io.BytesIO(images.prepare(png()).content)).format == "PNG"


def test_a_decompression_bomb_and_a_broken_file_are_refused_with_a_message():
    out = io.BytesIO()
    Image.new("1", (8000, 6000)).save(out, format="PNG")  # 48 megapixels in a few kilobytes
    assert len(out.getvalue()) < 100_000
    with pytest.raises(InvalidInput, match="too many pixels") as refused:
        images.prepare(out.getvalue())
    assert refused.value.field == "image"
    with pytest.raises(InvalidInput, match="could not be read"):
        images.prepare(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
