"""The run's plots: each a readable PNG, drawn without touching pyplot's global state (a
notebook that trains keeps its inline backend and shows no stray figures)."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from training import plots


def test_every_plot_writes_a_png_and_leaves_pyplot_alone(tmp_path) -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    model = np.clip(0.3 * y + rng.random(400) * 0.7, 0, 1)
    backend = matplotlib.get_backend()
    open_before = plt.get_fignums()

    paths = [
        plots.calibration_curve(y, {"model": model}, tmp_path / "c.png", "calibration"),
        plots.gains_and_lift(y, {"model": model}, tmp_path / "g.png", "gains"),
        plots.shap_beeswarm(
            rng.normal(size=(400, 3)),
            rng.normal(size=(400, 3)),
            ["a", "b", "c"],
            tmp_path / "s.png",
            "drivers",
        ),
        plots.group_table_png(
            [{"group": "segment", "value": "smb", "rows": 4}], tmp_path / "t.png", "t"
        ),
    ]

    for path in paths:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size[0] > 300
    assert matplotlib.get_backend() == backend
    assert plt.get_fignums() == open_before
