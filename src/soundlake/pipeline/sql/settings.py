"""The Spark session settings that change query results (ANSI mode, session time zone)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from soundlake.core.errors import DefinitionError

ANSI_KEY = "spark.sql.ansi.enabled"
TIME_ZONE_KEY = "spark.sql.session.timeZone"


@dataclass(frozen=True)
class SparkSqlSettings:
    """The Spark session settings that change query results.

    Attributes:
        ansi: ``spark.sql.ansi.enabled``. True (the default of Spark 4 and Databricks
            Runtime 17+): invalid casts, overflows and division by zero fail the query.
            False: the Hive-compatible mode (NULL instead of an error).
        time_zone: ``spark.sql.session.timeZone``, the zone TIMESTAMP values are shown
            and parsed in (default ``UTC``, as on Databricks).
    """

    ansi: bool = True
    time_zone: str = "UTC"

    @classmethod
    def from_conf(cls, conf: Mapping[str, str]) -> SparkSqlSettings:
        """Read the settings from a pipeline ``configuration`` / ``SET`` / ``spark.conf`` map.

        Raises:
            DefinitionError: on a value Spark would reject.
        """
        ansi = cls.ansi
        raw = _get(conf, ANSI_KEY)
        if raw is not None:
            text = raw.strip().lower()
            if text not in ("true", "false"):
                raise DefinitionError(f"configuration {ANSI_KEY}: expected true or false, got {raw!r}")
            ansi = text == "true"
        zone = _get(conf, TIME_ZONE_KEY)
        return cls(ansi=ansi, time_zone=zone.strip() if zone else cls.time_zone)

    def updated(self, conf: Mapping[str, str]) -> SparkSqlSettings:
        """These settings with the keys ``conf`` sets (a flow's ``spark_conf`` / ``SET``).

        Raises:
            DefinitionError: on a value Spark would reject.
        """
        if _get(conf, ANSI_KEY) is None and _get(conf, TIME_ZONE_KEY) is None:
            return self
        merged = {ANSI_KEY: str(self.ansi).lower(), TIME_ZONE_KEY: self.time_zone}
        for key in (ANSI_KEY, TIME_ZONE_KEY):
            value = _get(conf, key)
            if value is not None:
                merged[key] = value
        return SparkSqlSettings.from_conf(merged)


DEFAULT_SETTINGS = SparkSqlSettings()


def _get(conf: Mapping[str, str], key: str) -> str | None:
    for name, value in conf.items():
        if name.lower() == key.lower():
            return str(value)
    return None
