"""Evidently's DataDriftPreset on the benchmark's parquet files (runs in bench/.peers/venv).

Usage: python run_evidently.py REFERENCE.parquet CURRENT.parquet SPEC.json OUT_DIR

Measured by the caller from process start (interpreter, imports) to the saved HTML: what a user
running Evidently pays end to end. Writes OUT_DIR/evidently.html and OUT_DIR/evidently.json
(the columns Evidently flags as drifted).
"""

import json
import sys
import time
from pathlib import Path

t0 = time.perf_counter()
import pandas as pd  # noqa: E402
from evidently import DataDefinition, Dataset, Report  # noqa: E402
from evidently.presets import DataDriftPreset  # noqa: E402

reference_path, current_path, spec_path, out = sys.argv[1:5]
spec = json.loads(Path(spec_path).read_text())
numeric, categorical = spec["numeric"], spec["categorical"]
cols = numeric + categorical
t_import = time.perf_counter()
reference = pd.read_parquet(reference_path, columns=cols)
current = pd.read_parquet(current_path, columns=cols)
t_read = time.perf_counter()
definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
snapshot = Report([DataDriftPreset()]).run(Dataset.from_pandas(current, data_definition=definition),
                                          Dataset.from_pandas(reference, data_definition=definition))
t_report = time.perf_counter()
html = Path(out) / "evidently.html"
snapshot.save_html(str(html))
t_html = time.perf_counter()

flagged, values = [], {}
for metric in snapshot.dict()["metrics"]:
    config = metric.get("config", {})
    if config.get("type", "").endswith("ValueDrift"):
        method, threshold, value = config["method"], config["threshold"], metric["value"]
        is_p_value = "p_value" in method
        drifted = value < threshold if is_p_value else value >= threshold
        values[config["column"]] = {"method": method, "value": value, "threshold": threshold}
        if drifted:
            flagged.append(config["column"])
(Path(out) / "evidently.json").write_text(json.dumps({
    "flagged": sorted(flagged), "values": values, "html": str(html),
    "seconds": {"import": t_import - t0, "read": t_read - t_import, "report": t_report - t_read,
                "save_html": t_html - t_report},
}, indent=1))
