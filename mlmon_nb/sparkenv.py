"""What the Spark engine needs from its surroundings, checked without importing PySpark or pandas,
and the one SparkSession of a process.

:func:`problem` is what :mod:`mlmon_nb.preflight` asks before any kernel starts: is PySpark (and
sqlglot) installed, is there a Java for a session started here, does the master or Spark Connect
server answer (one bounded TCP connection, :data:`CONNECT_SECONDS`). :func:`session` creates or
reuses the process's session, quietly (warnings only, no UI, no progress bars), set to UTC.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import socket
import tempfile
import threading
import warnings
from pathlib import Path
from urllib.parse import urlsplit

from .config import SPARK_CONNECT_PORT, EngineConfig
from .errors import ConfigError

logger = logging.getLogger(__name__)

EXTRA = 'pip install "mlmon-nb[spark]"'
CONNECT_SECONDS = 3.0
"""Longest wait for a Spark master or Spark Connect server to accept a connection (name lookup included)."""
STANDALONE_PORT = 7077
LOG4J = Path(__file__).resolve().parent / "engines" / "log4j2.properties"
# A local session's defaults (the user's conf wins): no UI, few shuffle partitions for small data, and
# no spark-warehouse/ folder left in the working folder (mlmon never writes tables).
LOCAL_DEFAULTS = {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "4",
                  "spark.sql.warehouse.dir": os.path.join(tempfile.gettempdir(), "mlmon-spark-warehouse")}
DEFAULTS = {"spark.ui.showConsoleProgress": "false", "spark.sql.session.timeZone": "UTC"}


_TYPES = {"double": "DOUBLE", "float": "FLOAT", "bigint": "BIGINT", "int": "INTEGER", "smallint": "SMALLINT",
          "tinyint": "TINYINT", "string": "VARCHAR", "boolean": "BOOLEAN", "timestamp": "TIMESTAMP WITH TIME ZONE",
          "timestamp_ntz": "TIMESTAMP", "date": "DATE", "binary": "BLOB", "void": "NULL"}


def duckdb_type(spark_type: str) -> str:
    """A Spark type (its ``simpleString``) as the DuckDB type name the rest of mlmon reads.

    Spark's ``timestamp`` is an instant (shown in the session's time zone): DuckDB's
    ``TIMESTAMP WITH TIME ZONE``; ``timestamp_ntz`` is DuckDB's ``TIMESTAMP``.

    Examples
    --------
    >>> duckdb_type("bigint"), duckdb_type("timestamp"), duckdb_type("decimal(10,2)"), duckdb_type("varchar(8)")
    ('BIGINT', 'TIMESTAMP WITH TIME ZONE', 'DECIMAL(10,2)', 'VARCHAR')
    """
    name = spark_type.strip().lower()
    if name in _TYPES:
        return _TYPES[name]
    if name.startswith("decimal"):
        return name.upper()
    if name.startswith(("varchar", "char")):
        return "VARCHAR"
    return name.upper()


def missing_packages() -> list[str]:
    """Packages of the ``spark`` extra that are not installed (nothing is imported)."""
    missing = []
    for name in ("pyspark", "sqlglot"):
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a broken or shadowed installation is a missing one
            found = False
        if not found:
            missing.append(name)
    return missing


def java() -> str | None:
    """The ``java`` a locally started Spark driver would run (``JAVA_HOME``, else ``PATH``)."""
    home = os.environ.get("JAVA_HOME")
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return os.path.join(home, "bin", "java")
    return shutil.which("java")


def remote_of(cfg: EngineConfig) -> str | None:
    """The Spark Connect URL in force: ``remote``, else ``SPARK_REMOTE`` when no master is set."""
    return cfg.remote or (None if cfg.master else os.environ.get("SPARK_REMOTE") or None)


def endpoints(cfg: EngineConfig) -> list[tuple[str, int]]:
    """The (host, port) pairs a session would connect to first; none for local and YARN masters."""
    remote = remote_of(cfg)
    if remote:
        parts = urlsplit(remote.split("/;")[0])
        return [(parts.hostname or "", parts.port or SPARK_CONNECT_PORT)]
    master = cfg.master or ""
    if master.startswith("spark://"):
        out = []
        for hostport in master[len("spark://"):].split(","):
            host, _, port = hostport.partition(":")
            out.append((host, int(port) if port else STANDALONE_PORT))
        return out
    if master.startswith(("k8s://", "mesos://")):
        inner = master.split("://", 1)[1]
        parts = urlsplit(inner if "://" in inner else "https://" + inner)
        return [(parts.hostname or "", parts.port or 443)]
    return []


def reach(host: str, port: int, timeout: float = CONNECT_SECONDS) -> str | None:
    """Why ``host:port`` does not accept a TCP connection within ``timeout`` s (None when it does).

    The name lookup runs in a daemon thread, so a resolver that hangs costs ``timeout`` too.
    """
    found: dict[str, object] = {}

    def lookup() -> None:
        try:
            found["addrs"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            found["error"] = exc

    thread = threading.Thread(target=lookup, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return f"the name {host} did not resolve within {timeout:g} s"
    if "error" in found:
        return f"unknown host {host} ({getattr(found['error'], 'strerror', None) or found['error']})"
    last = "no address"
    for family, kind, proto, _, addr in found["addrs"]:  # type: ignore[union-attr]
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.settimeout(timeout)
                sock.connect(addr)
                return None
        except OSError as exc:
            last = "timed out" if isinstance(exc, socket.timeout) else (exc.strerror or str(exc))
    return f"{host}:{port} refused or unreachable ({last})"


def problem(cfg: EngineConfig, file: str) -> ConfigError | None:
    """What stops a Spark engine from starting, as one line naming the key (None when nothing does).

    Checks, in order and cheaply: the ``spark`` extra is installed; a session started here (no
    ``remote``) has a Java; the master or Spark Connect server accepts a connection within
    :data:`CONNECT_SECONDS` (a standalone master with several hosts: any of them).
    """
    if cfg.name != "spark":
        return None
    missing = missing_packages()
    if missing:
        return ConfigError(f"{file}: {cfg.key}: engine spark needs {' and '.join(missing)}, not installed here: "
                           f"{EXTRA}")
    remote = remote_of(cfg)
    if not remote and java() is None:
        return ConfigError(f"{file}: {cfg.key}: engine {cfg.shown} starts a Spark driver here, which needs Java 17 "
                           f"or later: none found (JAVA_HOME unset or without bin/java, no java on PATH)")
    targets = endpoints(cfg)
    if targets:
        reasons = [reach(host, port) for host, port in targets]
        if all(reasons):
            what = f"the Spark Connect server {remote}" if remote else f"the Spark master {cfg.master}"
            key = f"{cfg.key}.remote" if cfg.remote else (f"{cfg.key}.master" if cfg.master else "SPARK_REMOTE")
            return ConfigError(f"{file}: {key}: cannot reach {what}: {'; '.join(r for r in reasons if r)}")
    return None


# --------------------------------------------------------------------------- the process's session

_LOCK = threading.Lock()
_SESSION = None
_SETTINGS: tuple | None = None


def session(cfg: EngineConfig):
    """The process's SparkSession for ``cfg``: created on first use, then reused.

    A local or cluster session gets no UI, no console progress bar, warnings-only driver logs and
    UTC as its time zone; a local one also few shuffle partitions. ``conf`` overrides these.
    A second configuration in the same process reuses the first session (Spark allows one per
    process) and says so in the log.

    Raises
    ------
    ConfigError
        PySpark or sqlglot not installed, naming the extra to install.
    """
    global _SESSION, _SETTINGS
    missing = missing_packages()
    if missing:
        raise ConfigError(f"{cfg.key}: engine spark needs {' and '.join(missing)}, not installed here: {EXTRA}")
    settings = (remote_of(cfg), cfg.master, tuple(sorted(cfg.conf.items())))
    with _LOCK:
        if _SESSION is not None and not _stopped(_SESSION):
            if settings != _SETTINGS:
                logger.warning("a Spark session (%s) is already running in this process; %s reuses it",
                               _SETTINGS, cfg.shown)
            return _SESSION
        _SESSION, _SETTINGS = _start(cfg), settings
        return _SESSION


def _start(cfg: EngineConfig):
    with warnings.catch_warnings():
        # PySpark warns on import that it is not tested with pandas 3; mlmon fetches results as Arrow.
        warnings.filterwarnings("ignore", message=".*PySpark does not yet fully support pandas", category=FutureWarning)
        from pyspark.sql import SparkSession  # noqa: the optional extra, imported only when engine is spark

        remote = remote_of(cfg)
        builder = SparkSession.builder.appName("mlmon")
        conf = dict(DEFAULTS)
        if remote:
            builder = builder.remote(remote)
            conf = {"spark.sql.session.timeZone": "UTC"}  # the server's static settings are its own
        else:
            if cfg.master:
                builder = builder.master(cfg.master)
            if (cfg.master or "local").startswith("local"):
                conf.update(LOCAL_DEFAULTS)
                os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # no "resolves to a loopback address" warning
        conf.update(cfg.conf)
        if not remote and LOG4J.is_file():  # the user's JVM options kept, after ours
            own = f"-Dlog4j2.configurationFile={LOG4J.as_uri()}"
            conf["spark.driver.extraJavaOptions"] = f"{own} {cfg.conf.get('spark.driver.extraJavaOptions', '')}".strip()
        for key, value in conf.items():
            builder = builder.config(key, value)
        spark = builder.getOrCreate()
    if not remote:
        spark.sparkContext.setLogLevel("WARN")
    logger.info("Spark session %s started (%s)", spark.version, cfg.shown)
    return spark


def _stopped(spark) -> bool:
    if hasattr(type(spark), "is_stopped"):  # Spark Connect: the client knows
        return bool(spark.is_stopped)
    return getattr(spark.sparkContext, "_jsc", None) is None  # classic: stop() clears it


def stop() -> None:
    """Stop the process's session (the next :func:`session` starts a new one)."""
    global _SESSION, _SETTINGS
    with _LOCK:
        if _SESSION is not None:
            _SESSION.stop()
        _SESSION, _SETTINGS = None, None
