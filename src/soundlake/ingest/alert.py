"""The failure alert: a JSON POST to ``ingest.alert_url`` (the seed's Logic App webhook).

Unlike the seed, whose body is not valid JSON, the body is built with ``json.dumps``::

    {"pipeline": "...", "run_id": "...", "status": "failed", "failed_tables": ["..."],
     "errors": {"<Table>": "<message>"}, "tables": [...], "time": "<UTC ISO>"}
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from soundlake.core.clock import utc_now
from soundlake.core.secrets import mask_secrets
from soundlake.ingest.results import TableResult


def alert_payload(pipeline: str, run_id: str, results: tuple[TableResult, ...]) -> dict[str, Any]:
    """The JSON document POSTed when tables failed."""
    failed = [r for r in results if r.status == "failed"]
    return {
        "pipeline": pipeline,
        "run_id": run_id,
        "status": "failed",
        "failed_tables": [r.table for r in failed],
        "errors": {r.table: mask_secrets(r.error or "unknown error") for r in failed},
        "tables": [
            {"table": r.table, "status": r.status, "rows": r.rows, "attempts": r.attempts}
            for r in results
        ],
        "time": utc_now().isoformat(),
    }


def post_alert(url: str, payload: dict[str, Any], *, timeout: float = 10.0) -> str | None:
    """POST ``payload`` as JSON; return None on a 2xx answer, else the error text."""
    body = json.dumps(payload).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if 200 <= response.status < 300:
                return None
            return f"alert webhook answered HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"alert webhook answered HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return f"alert webhook not reachable: {exc}"
