"""Scoring at scale: a scan whose rows carry the model's output, scored in bounded batches.

When the logs lack a version's output (or an analysis needs the model's own scores), the model
scores the scan's rows batch by batch, never the whole table at once, with the one scoring
function of every path (:func:`mlmon_nb.models.score_column`, i.e. :func:`mlmon_nb.models.score`):

* **DuckDB**: the scan's rows are streamed as Arrow record batches of at most ``batch_rows`` rows;
  each batch is typed as :func:`mlmon_nb.data.read_window` types it, scored, and its kept columns
  and the score are appended to a parquet spill file in a temporary folder; the scored scan reads
  that file. Memory is bounded by the batch, not the rows. The folder is removed by
  the scored scan's ``close`` (a ``with`` block closes it), and at once when scoring fails or
  is interrupted (Ctrl-C).
* **Spark**: ``mapInPandas`` over the scan's DataFrame; the model file's bytes go to the executors
  once (a broadcast; inside the function through Spark Connect), each task rebuilds the model once
  (its sha256 checked) and scores each Arrow batch (Spark's
  ``spark.sql.execution.arrow.maxRecordsPerBatch``, 10,000 rows by default, cut to ``batch_rows``
  at most). The result is persisted (memory and disk) so that several aggregations score once, and
  registered as the scan's view. The executors need mlmon-nb and the model's libraries installed,
  as the driver has them.

The scored column is one number per row: a binary classifier's probability of the positive class,
a regressor's prediction, a multiclass classifier's top-class probability (the baseline's
``__prediction__``).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..data import table_frame
from ..models import LoadedModel, load_model_bytes, score_column
from ..sources import literal, quote
from .base import WINDOW_ROWS, Scan

__all__ = ["duckdb_scored", "spark_scored", "score_partition", "Shipment"]

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------- DuckDB


def duckdb_scored(scan, model: LoadedModel, *, column: str, batch_rows: int, kept: Sequence[str],
                  feats: Sequence[str], spill_dir) -> Scan:
    """DuckDB: stream ``scan``'s rows in Arrow batches, score each, spill them to parquet; a scan of the spill."""
    folder = tempfile.TemporaryDirectory(prefix="mlmon-scored-", dir=spill_dir)
    try:
        path = Path(folder.name) / "scored.parquet"
        if scan.progress is None:
            batches, rows = _spill(scan, model, column, batch_rows, kept, feats, path, [0])
        else:  # the runner prints how far the scoring pass got, as it does for aggregation passes
            done, total = [0], scan.rows
            with scan.progress.scan("scoring the window's rows", total, lambda: done[0] / total if total else None):
                batches, rows = _spill(scan, model, column, batch_rows, kept, feats, path, done)
        logger.info("scored %s rows of %s in %d batches of at most %s rows", f"{rows:,}", scan.relation.where,
                    batches, f"{batch_rows:,}")
        out = type(scan)(scan._con, f"SELECT * FROM read_parquet({literal(str(path))})", source=scan._source,
                         timestamp=scan.timestamp, features=scan.features)
    except BaseException:  # Ctrl-C included: no spill is left behind
        folder.cleanup()
        raise
    out.on_close(folder.cleanup)
    out.spill, out.batches, out._rows, out.progress = Path(folder.name), batches, rows, scan.progress
    return out


def _spill(scan, model, column, batch_rows, kept, feats, path: Path, done: list[int]) -> tuple[int, int]:
    """Stream, score and write the scan's rows; (batches, rows). ``done[0]``: rows scored so far."""
    listed = ", ".join(quote(c) for c in dict.fromkeys([*kept, *feats]))
    result = scan._relation.query(WINDOW_ROWS, f"SELECT {listed} FROM {WINDOW_ROWS}")
    reader = (getattr(result, "to_arrow_reader", None) or result.fetch_record_batch)(batch_rows)
    schema = pa.schema([reader.schema.field(c) for c in kept] + [pa.field(column, pa.float64())])
    batches = rows = 0
    with pq.ParquetWriter(path, schema) as writer:
        for batch in reader:
            for start in range(0, batch.num_rows, batch_rows):  # a reader may give more than asked
                part = batch.slice(start, batch_rows)
                frame = table_frame(pa.Table.from_batches([part.select(feats)]), scan.relation, None, scan.features)
                scores = score_column(model, frame, feats)
                del frame
                out = pa.RecordBatch.from_arrays([*(part.column(c) for c in kept), pa.array(scores, pa.float64())],
                                                 schema=schema)
                writer.write_batch(out)
                batches, rows = batches + 1, rows + part.num_rows
                done[0] = rows
    return batches, rows


# --------------------------------------------------------------------------- Spark


@dataclass(frozen=True)
class Shipment:
    """What an executor needs to rebuild the driver's model: its bytes (or a broadcast of them)."""

    name: str
    version: str
    task: str
    sha256: str
    trusted_types: tuple[str, ...]
    data: Any  # bytes, or a pyspark Broadcast of them

    def load(self) -> LoadedModel:
        data = self.data if isinstance(self.data, (bytes, bytearray)) else self.data.value
        return load_model_bytes(bytes(data), name=self.name, version=self.version, task=self.task,
                                sha256=self.sha256, trusted_types=self.trusted_types)


def score_partition(batches: Iterator[pd.DataFrame], *, shipment: Shipment, column: str, kept: Sequence[str],
                    feats: Sequence[str], batch_rows: int) -> Iterator[pd.DataFrame]:
    """``mapInPandas``'s function: the model rebuilt once per task, each batch scored."""
    model = shipment.load()
    for frame in batches:
        for start in range(0, len(frame), batch_rows):
            part = frame.iloc[start:start + batch_rows]
            out = part.loc[:, list(kept)].reset_index(drop=True)
            out[column] = score_column(model, part, feats)
            yield out


def spark_scored(scan, model: LoadedModel, *, column: str, batch_rows: int, kept: Sequence[str],
                 feats: Sequence[str], spill_dir=None) -> Scan:
    """Spark: ``mapInPandas`` scoring on the executors, persisted and registered as a view
    (``spill_dir`` is DuckDB's: Spark keeps persisted rows where its executors keep blocks)."""
    from pyspark import StorageLevel  # noqa: the spark extra, present when the scan is a Spark one
    from pyspark.sql.types import DoubleType, StructField, StructType  # noqa: as above

    spark = scan._engine.spark
    data = model.path.read_bytes()
    context, broadcast = None, None
    try:
        context = spark.sparkContext
    except Exception:  # noqa: BLE001 (Spark Connect has no SparkContext: the bytes travel with the function)
        context = None
    if context is not None:
        broadcast = context.broadcast(data)
        if context.master.startswith("local") and "PYSPARK_PYTHON" not in os.environ:
            # Local workers run on this machine: this interpreter (the default "python3" may lack pyspark).
            context.pythonExec = sys.executable
    shipment = Shipment(name=model.path.name, version=model.version, task=model.task, sha256=model.sha256,
                        trusted_types=model.untrusted, data=broadcast if broadcast is not None else data)
    frame = scan._frame.select(*[scan._frame[c] for c in dict.fromkeys([*kept, *feats])])
    schema = StructType([frame.schema[c] for c in kept] + [StructField(column, DoubleType(), True)])
    fn = functools.partial(score_partition, shipment=shipment, column=column, kept=tuple(kept), feats=tuple(feats),
                           batch_rows=batch_rows)
    out = frame.mapInPandas(fn, schema).persist(StorageLevel.MEMORY_AND_DISK)
    scan_out = type(scan)(scan._engine, out, timestamp=scan.timestamp, features=scan.features,
                          where=scan.relation.where, path=scan.relation.path)
    scan_out._rows, scan_out.progress = scan._rows, scan.progress
    view, spark_session = scan_out.view, spark

    def release() -> None:
        try:
            out.unpersist()
            spark_session.catalog.dropTempView(view)
            if broadcast is not None:
                broadcast.unpersist()
        except Exception:  # noqa: BLE001 (a stopped session holds nothing any more)
            logger.debug("could not release the scored view %s", view)

    scan_out.on_close(release)
    return scan_out
