"""A schematic map of Seoul's 25 districts, drawn by the portal itself (no tiles, no CDN).

The shapes are authored here, not downloaded: a hand-drawn outline of the city split by a
hand-drawn line of the Han river, and one anchor point per district near its real centre
(longitude, latitude, read off a paper map to about 0.01 degree). Each district's shape is its
anchor's Voronoi cell inside its bank of the river, so districts sit where they are, touch the
neighbours they touch, and the river runs between north and south. It is a schematic for choosing
a district, not a survey map (docs/pb.md, "The district map"). Pure: no I/O, computed once.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from portal.districts import DISTRICTS

Point = tuple[float, float]

# Anchors (longitude, latitude) and the bank of the Han river each district lies on.
ANCHORS: dict[str, tuple[float, float, str]] = {
    "11110": (126.978, 37.600, "north"),  # Jongno
    "11140": (126.996, 37.560, "north"),  # Jung
    "11170": (126.980, 37.532, "north"),  # Yongsan
    "11200": (127.040, 37.551, "north"),  # Seongdong
    "11215": (127.086, 37.547, "north"),  # Gwangjin
    "11230": (127.053, 37.583, "north"),  # Dongdaemun
    "11260": (127.094, 37.600, "north"),  # Jungnang
    "11290": (127.018, 37.603, "north"),  # Seongbuk
    "11305": (127.012, 37.642, "north"),  # Gangbuk
    "11320": (127.035, 37.670, "north"),  # Dobong
    "11350": (127.074, 37.650, "north"),  # Nowon
    "11380": (126.926, 37.617, "north"),  # Eunpyeong
    "11410": (126.940, 37.578, "north"),  # Seodaemun
    "11440": (126.905, 37.560, "north"),  # Mapo
    "11470": (126.857, 37.523, "south"),  # Yangcheon
    "11500": (126.822, 37.559, "south"),  # Gangseo
    "11530": (126.862, 37.494, "south"),  # Guro
    "11545": (126.900, 37.459, "south"),  # Geumcheon
    "11560": (126.910, 37.520, "south"),  # Yeongdeungpo
    "11590": (126.952, 37.499, "south"),  # Dongjak
    "11620": (126.945, 37.467, "south"),  # Gwanak
    "11650": (127.025, 37.473, "south"),  # Seocho
    "11680": (127.062, 37.496, "south"),  # Gangnam
    "11710": (127.112, 37.503, "south"),  # Songpa
    "11740": (127.147, 37.548, "south"),  # Gangdong
}

# The Han river, west to east (longitude, latitude).
RIVER: tuple[Point, ...] = (
    (126.790, 37.600), (126.830, 37.582), (126.860, 37.566), (126.890, 37.551),
    (126.915, 37.540), (126.940, 37.526), (126.965, 37.514), (127.000, 37.515),
    (127.035, 37.527), (127.070, 37.519), (127.100, 37.528), (127.120, 37.548),
    (127.150, 37.567), (127.185, 37.585),
)  # fmt: skip

# The city's edge north of the river, east to west (it closes along the river).
NORTH_EDGE: tuple[Point, ...] = (
    (127.120, 37.560), (127.115, 37.575), (127.112, 37.605), (127.118, 37.640),
    (127.095, 37.690), (127.060, 37.697), (127.030, 37.716), (127.000, 37.690),
    (126.975, 37.652), (126.950, 37.660), (126.910, 37.662), (126.898, 37.625),
    (126.884, 37.592), (126.860, 37.578),
)  # fmt: skip

# The city's edge south of the river, east to west.
SOUTH_EDGE: tuple[Point, ...] = (
    (127.184, 37.556), (127.160, 37.530), (127.145, 37.510), (127.160, 37.478),
    (127.120, 37.463), (127.090, 37.460), (127.070, 37.445), (127.040, 37.428),
    (127.000, 37.432), (126.980, 37.445), (126.950, 37.436), (126.920, 37.430),
    (126.900, 37.420), (126.880, 37.440), (126.870, 37.475), (126.840, 37.480),
    (126.800, 37.490), (126.830, 37.515), (126.800, 37.535), (126.765, 37.556),
)  # fmt: skip

WEST, NORTH, SOUTH = 126.755, 37.725, 37.410
X_SCALE = 2000 * math.cos(math.radians(37.55))  # SVG units per degree of longitude
Y_SCALE = 2000.0  # SVG units per degree of latitude
WIDTH = round((127.195 - WEST) * X_SCALE)
HEIGHT = round((NORTH - SOUTH) * Y_SCALE)


def to_svg(point: Point) -> Point:
    """(longitude, latitude) to SVG (x right, y down)."""
    lon, lat = point
    return ((lon - WEST) * X_SCALE, (NORTH - lat) * Y_SCALE)


def _river_between(start: Point, end: Point) -> list[Point]:
    """The river's points strictly inside the longitudes of two edge ends, west to east."""
    low, high = sorted((start[0], end[0]))
    return [p for p in RIVER if low < p[0] < high]


def _bank(edge: tuple[Point, ...]) -> list[Point]:
    """One bank's polygon: its edge (east to west), then back east along the river."""
    return [*edge, *_river_between(edge[-1], edge[0])]


def _clip(polygon: list[Point], keep: Point, other: Point) -> list[Point]:
    """The part of ``polygon`` nearer to ``keep`` than to ``other`` (Sutherland-Hodgman, one plane)."""
    (kx, ky), (ox, oy) = keep, other
    nx, ny = ox - kx, oy - ky
    limit = (ox * ox + oy * oy - kx * kx - ky * ky) / 2

    def inside(p: Point) -> bool:
        return p[0] * nx + p[1] * ny <= limit

    def crossing(a: Point, b: Point) -> Point:
        da, db = a[0] * nx + a[1] * ny - limit, b[0] * nx + b[1] * ny - limit
        t = da / (da - db)
        return (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]))

    out: list[Point] = []
    for i, current in enumerate(polygon):
        previous = polygon[i - 1]
        if inside(current):
            if not inside(previous):
                out.append(crossing(previous, current))
            out.append(current)
        elif inside(previous):
            out.append(crossing(previous, current))
    return out


def _centroid(polygon: list[Point]) -> Point:
    area = cx = cy = 0.0
    for i, (x1, y1) in enumerate(polygon):
        x0, y0 = polygon[i - 1]
        cross = x0 * y1 - x1 * y0
        area += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    return (cx / (3 * area), cy / (3 * area))


@dataclass(frozen=True)
class DistrictShape:
    """One district on the map: its outline as an SVG path and where its label goes."""

    code: str
    path: str
    label_x: float
    label_y: float


@functools.cache
def district_shapes() -> tuple[DistrictShape, ...]:
    """Every district's shape, in the order of ``portal.districts.DISTRICTS``."""
    banks = {"north": _bank(NORTH_EDGE), "south": _bank(SOUTH_EDGE)}
    shapes = []
    for district in DISTRICTS:
        lon, lat, side = ANCHORS[district.code]
        region = [to_svg(p) for p in banks[side]]
        anchor = to_svg((lon, lat))
        for code, (olon, olat, oside) in ANCHORS.items():
            if code != district.code and oside == side:
                region = _clip(region, anchor, to_svg((olon, olat)))
        path = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in region) + " Z"
        label_x, label_y = _centroid(region)
        shapes.append(DistrictShape(district.code, path, round(label_x, 1), round(label_y, 1)))
    return tuple(shapes)


@functools.cache
def river_path() -> str:
    """The Han river as an SVG path (drawn as a thick stroke over the districts' shared edge)."""
    return "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in map(to_svg, RIVER))
