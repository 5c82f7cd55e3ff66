"""OpenLineage export: each update POSTs one run event per flow to the URL in soundlake.yml.

A local HTTP receiver stands in for Marquez: it takes ``POST /api/v1/lineage`` and keeps
the bodies. Each body is rebuilt with the ``openlineage-python`` client's own classes
(RunEvent, its facets: their validators check run ids, times, schema URLs) and must
serialize back to exactly what was received; the column-lineage facet must name the input
columns of each output column. A file target gets the same events, and an unreachable
endpoint is a WARN event of an update that still completes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.generated import column_lineage_dataset as cl
from openlineage.client.generated import schema_dataset as sd
from openlineage.client.serde import Serde

from tests.pipeline.conftest import Lakehouse

PIPELINE = """
CREATE OR REFRESH STREAMING TABLE plays AS SELECT id, user_id, seconds FROM STREAM read_files('${data}/in', format => 'parquet');
CREATE OR REFRESH MATERIALIZED VIEW per_user AS SELECT user_id, sum(seconds) / 60 AS minutes FROM plays GROUP BY user_id;
"""


@pytest.fixture()
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path == "/api/v1/lineage":
                received.append(json.loads(body))
                self.send_response(201)
            else:
                self.send_response(404)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", received
    server.shutdown()


def _validated(doc: dict[str, Any]) -> RunEvent:
    """``doc`` rebuilt with the client's classes (their validators run), checked to round-trip."""
    outputs = []
    for out in doc["outputs"]:
        facets: dict[str, Any] = {}
        if "schema" in out["facets"]:
            facets["schema"] = sd.SchemaDatasetFacet(fields=[
                sd.SchemaDatasetFacetFields(name=f["name"], type=f.get("type")) for f in out["facets"]["schema"]["fields"]
            ])
        if "columnLineage" in out["facets"]:
            facets["columnLineage"] = cl.ColumnLineageDatasetFacet(fields={
                column: cl.Fields(
                    inputFields=[cl.InputField(namespace=i["namespace"], name=i["name"], field=i["field"])
                                 for i in spec["inputFields"]],
                    transformationDescription=spec["transformationDescription"],
                    transformationType=spec["transformationType"],
                )
                for column, spec in out["facets"]["columnLineage"]["fields"].items()
            })
        outputs.append(OutputDataset(namespace=out["namespace"], name=out["name"], facets=facets))
    event = RunEvent(
        eventType=RunState(doc["eventType"]), eventTime=doc["eventTime"], run=Run(runId=doc["run"]["runId"]),
        job=Job(namespace=doc["job"]["namespace"], name=doc["job"]["name"]), producer=doc["producer"],
        inputs=[InputDataset(namespace=i["namespace"], name=i["name"]) for i in doc["inputs"]], outputs=outputs,
    )
    assert json.loads(Serde.to_json(event)) == _without_client_tags(doc)
    return event


def _without_client_tags(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` without the ``tags`` run facet the client's HTTP transport adds (its version)."""
    copy = json.loads(json.dumps(doc))
    copy["run"]["facets"].pop("tags", None)
    return copy


def _lake(root: Path, **openlineage: str) -> Lakehouse:
    lake = Lakehouse(root)
    lake.config(openlineage=openlineage)
    lake.sql(PIPELINE)
    lake.parquet("in", "a.parquet", [{"id": 1, "user_id": 7, "seconds": 120}, {"id": 2, "user_id": 7, "seconds": 60}])
    return lake


def test_each_update_posts_valid_events_with_column_lineage(
    tmp_path: Path, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = receiver
    lake = _lake(tmp_path / "p", url=url, file="lineage/events.jsonl")
    result = lake.run()
    assert result.ok, result.errors
    events = {e.job.name: e for e in map(_validated, received)}
    assert set(events) == {"main.silver.plays", "main.silver.per_user"}
    per_user = events["main.silver.per_user"]
    assert per_user.eventType == RunState.COMPLETE and per_user.job.namespace == "t"
    lake_ns = f"file://{(lake.root / 'lake').resolve()}"
    assert [(i.namespace, i.name) for i in per_user.inputs] == [(lake_ns, "main.silver.plays")]
    facet = per_user.outputs[0].facets["columnLineage"]
    assert {c: [(i.name, i.field) for i in f.inputFields] for c, f in facet.fields.items()} == {
        "user_id": [("main.silver.plays", "user_id")], "minutes": [("main.silver.plays", "seconds")],
    }
    plays = events["main.silver.plays"].outputs[0].facets["columnLineage"].fields
    assert [(i.namespace, i.name, i.field) for i in plays["seconds"].inputFields] == [
        ("file", str((lake.root / "data" / "in").resolve()), "seconds")
    ]
    written = [json.loads(line) for line in (lake.root / "lineage" / "events.jsonl").read_text().splitlines()]
    assert written == [_without_client_tags(d) for d in received]  # the file gets the same events
    assert lake.run().ok  # an idle update sends nothing
    assert len(received) == 2


def test_an_unreachable_endpoint_is_a_warning_of_a_completed_update(tmp_path: Path) -> None:
    lake = _lake(tmp_path / "p", url="http://127.0.0.1:9")
    result = lake.run()
    assert result.ok, result.errors
    warnings = [e["message"] for e in lake.events(result.run_id) if e["level"] == "WARN"]
    assert any(w.startswith("OpenLineage export failed") for w in warnings), warnings


def test_the_config_needs_a_destination(tmp_path: Path) -> None:
    from soundlake.core.errors import SoundlakeError

    lake = _lake(tmp_path / "p", namespace="x")
    with pytest.raises(SoundlakeError, match="openlineage: give url"):
        lake.run()
