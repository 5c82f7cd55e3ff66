"""Source forms: SQL and Python notebooks, ``.ipynb``, plain files, ``libraries`` forms.

A SQL notebook whose cells end without ``;`` (``sql_notebook``), a Python notebook with
``%md``, ``%pip`` and ``%python`` cells beside a plain SQL file (``python_notebook``),
``.ipynb`` notebooks in SQL and Python (``ipynb``), and plain files (``plain_files``);
between them ``libraries`` is written in every form (glob string, folder,
``glob: {include}``, ``file: {path}``, ``notebook: {path}`` without extension).
"""

from __future__ import annotations

from tests.pipeline.corpus_cases import PLAYS, CorpusCase

_KNOWN = [p for p in PLAYS if p["user_id"] is not None]
_PER_USER = [{"user_id": 0, "plays": 1, "seconds": 75}, {"user_id": 1, "plays": 3, "seconds": 300},
             {"user_id": 2, "plays": 3, "seconds": 375}]
_LONG_KNOWN = [{"id": p["id"], "seconds": p["seconds"]} for p in _KNOWN if p["seconds"] >= 100]
_BY_PLAN_KNOWN = [{"plan": "Free", "plays": 4, "seconds": 400}, {"plan": "Premium", "plays": 3, "seconds": 350}]

CASES = [
    CorpusCase("sql_notebook", {
        "plays": _KNOWN,
        "plays_by_plan": _BY_PLAN_KNOWN,
        "long_plays": _LONG_KNOWN,
        "free_users": [{"user_id": 0, "plays": 1}, {"user_id": 1, "plays": 2}, {"user_id": 2, "plays": 1}],
    }),
    CorpusCase("python_notebook", {
        "plays": PLAYS,
        "per_user": _PER_USER,
        "premium_users": [{"user_id": 1}, {"user_id": 2}, {"user_id": None}],
    }),
    CorpusCase("ipynb", {
        "plays": _KNOWN,
        "long_plays": _LONG_KNOWN,
        "plays_by_plan": _BY_PLAN_KNOWN,
    }),
    CorpusCase("plain_files", {
        "plays": PLAYS,
        "plays_by_plan": [{"plan": "Free", "plays": 4, "seconds": 400}, {"plan": "Premium", "plays": 4, "seconds": 500}],
        "per_user": _PER_USER,
        "long_plays": [{"id": p["id"], "seconds": p["seconds"]} for p in PLAYS if p["seconds"] >= 100],
    }),
]
