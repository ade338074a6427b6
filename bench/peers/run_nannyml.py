"""NannyML's univariate drift and data reconstruction on the benchmark's parquet files
(runs in bench/.peers/venv).

Usage: python run_nannyml.py REFERENCE.parquet CURRENT.parquet SPEC.json OUT_DIR

Daily chunks (``chunk_period="D"``), NannyML's default methods and thresholds. A feature counts
as flagged when any chunk of the analysis period alerts. Both results' plots are written to one
self-contained HTML file (plotly.js embedded once) so that its size compares with the others.
Writes OUT_DIR/nannyml.html and OUT_DIR/nannyml.json.
"""

import json
import os
import sys
import time
from pathlib import Path

# NannyML sends usage statistics unless told not to; this offline machine would make it retry.
os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")
t0 = time.perf_counter()
import nannyml as nml  # noqa: E402
import pandas as pd  # noqa: E402

reference_path, current_path, spec_path, out = sys.argv[1:5]
spec = json.loads(Path(spec_path).read_text())
numeric, categorical, ts = spec["numeric"], spec["categorical"], spec["timestamp"]
cols = numeric + categorical
t_import = time.perf_counter()
reference = pd.read_parquet(reference_path, columns=[ts, *cols])
current = pd.read_parquet(current_path, columns=[ts, *cols])
for c in categorical:
    reference[c] = reference[c].astype("category")
    current[c] = current[c].astype("category")
t_read = time.perf_counter()

univariate = nml.UnivariateDriftCalculator(column_names=cols, treat_as_categorical=categorical,
                                           timestamp_column_name=ts, chunk_period="D")
uni = univariate.fit(reference).calculate(current).filter(period="analysis")
t_uni = time.perf_counter()
reconstruction = nml.DataReconstructionDriftCalculator(column_names=cols, timestamp_column_name=ts,
                                                       chunk_period="D")
rec = reconstruction.fit(reference).calculate(current).filter(period="analysis")
t_rec = time.perf_counter()

flagged = set()
df = uni.to_df()
for col in cols:
    for method in df[col].columns.get_level_values(0).unique():
        if df[(col, method, "alert")].any():
            flagged.add(col)
rec_df = rec.to_df()
reconstruction_alert = bool(rec_df[("reconstruction_error", "alert")].any())

html = Path(out) / "nannyml.html"
with html.open("w", encoding="utf-8") as fh:
    fh.write("<html><head><meta charset='utf-8'><title>NannyML</title></head><body>")
    fh.write(uni.plot(kind="drift").to_html(full_html=False, include_plotlyjs=True))
    fh.write(rec.plot().to_html(full_html=False, include_plotlyjs=False))
    fh.write("</body></html>")
t_html = time.perf_counter()
(Path(out) / "nannyml.json").write_text(json.dumps({
    "flagged": sorted(flagged), "reconstruction_alert": reconstruction_alert, "html": str(html),
    "methods": {"continuous": list(univariate.continuous_method_names),
                "categorical": list(univariate.categorical_method_names)},
    "seconds": {"import": t_import - t0, "read": t_read - t_import, "univariate": t_uni - t_read,
                "reconstruction": t_rec - t_uni, "save_html": t_html - t_rec},
}, indent=1))
