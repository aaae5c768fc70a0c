"""Where a legend goes: over nothing that is drawn.

:func:`covered` counts what lies under a legend: line vertices and the
segments between them (as drawn, steps included), dots, bands, bars and error
bars, on the axes and on any twin. :func:`place_legend` puts a legend in the
first clear place inside the axes, else outside to the right of every tick
label; :func:`legend_overlaps` is the check the tests run on every plot.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# where a legend may go inside the axes, in the order tried
PLACES = (
    "best",
    "upper right",
    "upper left",
    "lower right",
    "lower left",
    "center right",
    "center left",
)


def _line_path(line):
    """A line's path in display coordinates as drawn (a step line with its steps)."""
    from matplotlib.cbook import STEP_LOOKUP_MAP
    from matplotlib.path import Path as Shape

    x, y = STEP_LOOKUP_MAP[line.get_drawstyle()](line.get_xdata(), line.get_ydata())
    xy = line.get_transform().transform(np.column_stack([x, y]).astype(float))
    return Shape(xy[np.isfinite(xy).all(axis=1)])


def covered(legend, panels: Sequence) -> int:
    """How many drawn things of ``panels`` lie (at least partly) under ``legend``."""
    from matplotlib.collections import LineCollection, PathCollection

    box = legend.get_window_extent(legend.figure.canvas.get_renderer())
    count = 0
    for panel in panels:
        for line in panel.get_lines():
            path = _line_path(line)
            if line.get_visible() and len(path.vertices):
                inside = box.count_contains(path.vertices) > 0
                count += inside or (
                    len(path.vertices) > 1 and path.intersects_bbox(box, filled=False)
                )
        for collection in panel.collections:
            if not collection.get_visible():
                continue
            if isinstance(collection, PathCollection):
                offsets = collection.get_offset_transform().transform(collection.get_offsets())
                count += box.count_contains(offsets)
                continue
            filled = not isinstance(collection, LineCollection)
            transform = collection.get_transform()
            count += sum(
                p.transformed(transform).intersects_bbox(box, filled=filled)
                for p in collection.get_paths()
            )
    return int(count)


def legend_overlaps(ax, also: Sequence = ()) -> int:
    """What :func:`covered` counts under ``ax``'s legend (0 without one)."""
    legend = ax.get_legend()
    if legend is None or not legend.get_visible():
        return 0
    ax.figure.canvas.draw()
    return covered(legend, [ax, *also])


def place_legend(
    ax,
    handles=None,
    labels=None,
    *,
    also: Sequence = (),
    places: Sequence[str] = PLACES,
    avoid: Sequence = (),
    **kwargs,
):
    """A legend on ``ax`` in the first of ``places`` where it covers nothing drawn on
    ``ax`` or on ``also`` (a twin) and no artist of ``avoid`` (text labels), else outside,
    right of every tick label of ``ax`` and ``also``. ``kwargs`` go to ``ax.legend``."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    elif labels is None:
        labels = [h.get_label() for h in handles]
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    boxes = [artist.get_window_extent(renderer) for artist in avoid]
    for place in places:
        legend = ax.legend(handles, labels, loc=place, **kwargs)
        box = legend.get_window_extent(renderer)
        if not covered(legend, [ax, *also]) and not any(box.overlaps(b) for b in boxes):
            return legend
        legend.remove()
    right = max(panel.get_tightbbox(renderer).x1 for panel in (ax, *also))
    x = ax.transAxes.inverted().transform((right, 0))[0]
    return ax.legend(
        handles,
        labels,
        loc="upper left",
        bbox_to_anchor=(x + 0.02, 1),
        borderaxespad=0,
        **kwargs,
    )
