"""Where a study lives: an in-memory storage, the run folder's SQLite file, or a database URL (PostgreSQL) that
several machines share, with heartbeats for dead workers; secrets in URLs masked for errors and reports; and
Optuna's logging quieted while library code runs."""

from __future__ import annotations

import contextlib
import re
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from nnrecipe.errors import UsageError

#: workers that start together on a new database race to create its schema; the losers retry
SCHEMA_RACE_RETRIES = 8
#: query parameters whose value is a secret
_SECRET_KEYS = "password|passwd|pwd|pass|secret|token|api_key|apikey|key"


@dataclass(frozen=True, kw_only=True)
class Heartbeat:
    """How workers show they are alive: a trial whose worker is silent for `grace` seconds is failed and retried."""

    interval: int = 10
    grace: int = 30
    #: times a failed trial is queued again with the same parameters and seed
    max_retry: int = 1


#: the heartbeat workers send unless told otherwise
DEFAULT_HEARTBEAT = Heartbeat()


def default_storage(folder: Path | None) -> str | None:
    """The run folder's SQLite file, or None (in memory) when the run keeps no folder."""
    if folder is None:
        return None
    path = folder / "tune" / "study.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path.resolve()}"


def open_storage(url: str | None, *, heartbeat: Heartbeat | None = Heartbeat()) -> optuna.storages.BaseStorage:
    """An in-memory storage (url None), or a database; with `heartbeat`, the trials of dead workers are failed
    and queued again (None: for a study one process works on alone)."""
    if url is None:
        return optuna.storages.InMemoryStorage()
    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # heartbeats are marked experimental; we rely on them on purpose
        kwargs = _heartbeat_kwargs(heartbeat)
        try:
            return _open_rdb(url, engine_kwargs, kwargs)
        except ImportError as exc:
            raise UsageError(f"storage {redact(url)!r}: the database driver is not installed "
                             f"({scrub(str(exc), url)}); for PostgreSQL install psycopg2-binary") from None
        except Exception as exc:  # sqlalchemy's URL and connection errors: a usage error, not a traceback
            raise UsageError(f"storage {redact(url)!r}: cannot open it: {scrub(str(exc), url)}") from None


def _heartbeat_kwargs(heartbeat: Heartbeat | None) -> dict[str, Any]:
    """RDBStorage's heartbeat arguments, with the callback that queues a dead worker's trial again."""
    storages = optuna.storages
    retry_new = getattr(storages, "RetryHeartbeatStaleTrialCallback", None)  # optuna >= 4.9 renamed it
    kwargs: dict[str, Any]
    if heartbeat is None:
        kwargs = {}
    elif retry_new is not None:
        kwargs = {"heartbeat_stale_trial_callback": retry_new(max_retry=heartbeat.max_retry)}
    else:
        kwargs = {"failed_trial_callback": storages.RetryFailedTrialCallback(max_retry=heartbeat.max_retry)}
    if heartbeat is not None:
        kwargs.update(heartbeat_interval=heartbeat.interval, grace_period=heartbeat.grace)
    return kwargs


def _open_rdb(url: str, engine_kwargs: dict[str, Any], kwargs: dict[str, Any]) -> optuna.storages.BaseStorage:
    """RDBStorage, retried while another process is creating the same schema: PostgreSQL reports the loser's
    CREATE TYPE / CREATE TABLE as a duplicate (two workers started at once on a fresh database), SQLite the
    loser's alembic_version row as a UNIQUE violation (a reader opening a study file its worker is creating)."""
    for attempt in range(SCHEMA_RACE_RETRIES):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **kwargs)
        except Exception as exc:
            text = str(exc)
            racing = any(sign in text for sign in ("already exists", "duplicate key", "UNIQUE constraint failed"))
            if not racing or attempt == SCHEMA_RACE_RETRIES - 1:
                raise
            time.sleep(0.25 * (attempt + 1))
    raise AssertionError("unreachable")


def redact(url: str) -> str:
    """The URL with every secret it may carry masked, for errors and reports: the password of `user:pass@host`
    (with or without a scheme) and `password=`/`token=`-like query parameters."""
    masked = re.sub(r"^((?:[A-Za-z][\w+.-]*://)?[^/@:?#]*):[^@/?#]*@", r"\1:***@", url)
    return re.sub(rf"(?i)([?&;](?:{_SECRET_KEYS})=)[^&;#]*", r"\1***", masked)


def scrub(text: str, url: str) -> str:
    """`text` (an exception's message, say) with the URL, and its password wherever it appears, masked."""
    text = text.replace(url, redact(url))
    for secret in re.findall(r"^(?:[A-Za-z][\w+.-]*://)?[^/@:?#]*:([^@/?#]+)@", url) + re.findall(
            rf"(?i)[?&;](?:{_SECRET_KEYS})=([^&;#]+)", url):
        text = text.replace(secret, "***")
    return text


@contextlib.contextmanager
def quiet_optuna() -> Iterator[None]:
    """Optuna logs every trial; library code never prints, so quiet it for the block and put it back."""
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=optuna.exceptions.ExperimentalWarning)
            warnings.simplefilter("ignore", category=FutureWarning)
            yield
    finally:
        optuna.logging.set_verbosity(level)
