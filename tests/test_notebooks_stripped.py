"""The notebooks are kept in git without outputs (CI executes them with nbmake), and are the
ones tools/make_notebooks.py writes."""

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_notebooks_have_no_outputs():
    books = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert [b.stem for b in books] == ["desk_margin_whatif", "var_backtest", "venue_stress_cascade"]
    for b in books:
        nb = json.loads(b.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, b.name
