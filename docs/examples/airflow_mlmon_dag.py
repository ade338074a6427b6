"""Airflow DAG: monitor a model version every week, for the week that just ended.

Copy this file to your ``dags/`` folder and edit the four constants below. docs/SCHEDULING.md
("Airflow") explains the choices. Written for Airflow 2.4 to 2.x; on Airflow 3 import
``BashOperator`` from ``airflow.providers.standard.operators.bash`` and ``ShortCircuitOperator``
from ``airflow.providers.standard.operators.python``.

Tasks: ``mlmon_run`` runs the week's notebooks and maps ``mlmon run``'s exit code to a task
state (EXIT_CODES); ``news`` lets ``notify`` run only when the run had news.
"""

from __future__ import annotations

import datetime as dt

from airflow import DAG
from airflow.exceptions import AirflowException, AirflowFailException
from airflow.operators.bash import BashOperator
from airflow.operators.python import ShortCircuitOperator

#: The window is the DAG run's data interval (Monday to Monday with the schedule below), not
#: ``-w last-week``: a retry, a cleared task or a backfilled DAG run monitors the same week.
RUN_COMMAND = (
    "/opt/mlmon/.venv/bin/mlmon run -p /srv/mlmon/mlmon.yaml -m ctr-ranker -v 3 "
    "-w {{ data_interval_start | ds }}/{{ data_interval_end | ds }}"
)
#: The team's reaction to news; mlmon's own webhooks (``alerts:`` in mlmon.yaml) already send the
#: news itself. Replace with your alert (Slack, e-mail, a ticket).
NOTIFY_COMMAND = "/opt/mlmon/.venv/bin/mlmon incidents -p /srv/mlmon/mlmon.yaml -m ctr-ranker"

#: What each exit code of ``mlmon run`` makes of the ``mlmon_run`` task.
EXIT_CODES = {
    0: "success",  # nothing new at or above --fail-on
    1: "news",  # a new or worsening incident: success, and `notify` runs (or "fail": see SCHEDULING.md)
    2: "fail",  # bad input (project file, data, model, arguments): failed at once, never retried
    3: "retry",  # a notebook failed (its error report is archived): failed, retried
}
WHY = {1: "news, see the run's report", 2: "bad input, see the log; fix it, then clear the task",
       3: "a notebook failed; its report with the traceback is in the archive"}
#: bash itself always exits 0 and prints mlmon's exit code last: a plain BashOperator only knows
#: success, skipped and failed-with-retries, not "failed, do not retry".
EXIT_MARK = "mlmon-exit="
BASH_COMMAND = RUN_COMMAND + '; echo "' + EXIT_MARK + '$?"'


class MlmonRunOperator(BashOperator):
    """A BashOperator that turns ``mlmon run``'s exit code into a task state (EXIT_CODES)."""

    def execute(self, context):
        last_line = super().execute(context) or ""
        mark = last_line.rpartition(EXIT_MARK)[2].strip()
        code = int(mark) if mark.isdigit() else -1
        state = EXIT_CODES.get(code, "retry")  # killed (137), interrupted (130): try again
        why = WHY.get(code, "killed or interrupted")
        if state == "fail":  # AirflowFailException: failed without the retries
            raise AirflowFailException(f"mlmon run exited {code}: {why}")
        if state == "retry":
            raise AirflowException(f"mlmon run exited {code}: {why}")
        return state  # the XCom `news` reads


def had_news(ti) -> bool:
    """Whether ``mlmon_run`` reported news (the ShortCircuitOperator skips ``notify`` otherwise)."""
    return ti.xcom_pull(task_ids="mlmon_run") == "news"


with DAG(
    dag_id="mlmon_ctr_ranker_3",
    schedule="0 6 * * 1",  # Mondays 06:00 UTC; each run's data interval is the week before
    start_date=dt.datetime(2026, 9, 7, 6, tzinfo=dt.timezone.utc),
    catchup=True,  # one DAG run per missed week, oldest first
    max_active_runs=1,  # weeks in order: each run's incidents build on the earlier weeks
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=30)},
    tags=["mlmon"],
) as dag:
    run = MlmonRunOperator(task_id="mlmon_run", bash_command=BASH_COMMAND)
    news = ShortCircuitOperator(task_id="news", python_callable=had_news)
    notify = BashOperator(task_id="notify", bash_command=NOTIFY_COMMAND)
    run >> news >> notify
