"""``pyspark.sql.types`` subset: data types that render as Spark SQL type names."""

from __future__ import annotations

from collections.abc import Iterable

from soundlake.core.sql_text import ddl_name

__all__ = [
    "ArrayType", "BinaryType", "BooleanType", "ByteType", "DataType", "DateType", "DecimalType",
    "DoubleType", "FloatType", "IntegerType", "LongType", "MapType", "ShortType", "StringType",
    "StructField", "StructType", "TimestampNTZType", "TimestampType",
]


class DataType:
    """A Spark SQL data type; ``simpleString()`` is its SQL spelling."""

    _sql = ""

    def simpleString(self) -> str:
        return self._sql

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DataType) and self.simpleString() == other.simpleString()

    def __hash__(self) -> int:
        return hash(self.simpleString())


def _simple(name: str, sql: str) -> type[DataType]:
    return type(name, (DataType,), {"_sql": sql})


StringType = _simple("StringType", "string")
IntegerType = _simple("IntegerType", "int")
LongType = _simple("LongType", "bigint")
ShortType = _simple("ShortType", "smallint")
ByteType = _simple("ByteType", "tinyint")
DoubleType = _simple("DoubleType", "double")
FloatType = _simple("FloatType", "float")
BooleanType = _simple("BooleanType", "boolean")
DateType = _simple("DateType", "date")
TimestampType = _simple("TimestampType", "timestamp")
TimestampNTZType = _simple("TimestampNTZType", "timestamp_ntz")
BinaryType = _simple("BinaryType", "binary")


class DecimalType(DataType):
    """``decimal(precision, scale)``."""

    def __init__(self, precision: int = 10, scale: int = 0) -> None:
        self.precision = precision
        self.scale = scale

    def simpleString(self) -> str:
        return f"decimal({self.precision},{self.scale})"


class ArrayType(DataType):
    """``array<element>``."""

    def __init__(self, elementType: DataType, containsNull: bool = True) -> None:
        self.elementType = elementType

    def simpleString(self) -> str:
        return f"array<{self.elementType.simpleString()}>"


class MapType(DataType):
    """``map<key, value>``."""

    def __init__(self, keyType: DataType, valueType: DataType, valueContainsNull: bool = True) -> None:
        self.keyType = keyType
        self.valueType = valueType

    def simpleString(self) -> str:
        return f"map<{self.keyType.simpleString()},{self.valueType.simpleString()}>"


class StructField:
    """One field of a :class:`StructType`."""

    def __init__(self, name: str, dataType: DataType, nullable: bool = True, metadata: object = None) -> None:
        self.name = name
        self.dataType = dataType
        self.nullable = nullable

    def ddl(self) -> str:
        """``name TYPE [NOT NULL]``."""
        null = "" if self.nullable else " NOT NULL"
        return f"{ddl_name(self.name)} {self.dataType.simpleString().upper()}{null}"


class StructType(DataType):
    """A row type; :meth:`ddl` gives the column list used as a dataset ``schema``."""

    def __init__(self, fields: Iterable[StructField] | None = None) -> None:
        self.fields = list(fields or [])

    def add(self, field: str | StructField, data_type: DataType | None = None, nullable: bool = True) -> StructType:
        item = field if isinstance(field, StructField) else StructField(field, data_type or StringType(), nullable)
        self.fields.append(item)
        return self

    def simpleString(self) -> str:
        return "struct<" + ",".join(f"{f.name}:{f.dataType.simpleString()}" for f in self.fields) + ">"

    def ddl(self) -> str:
        """``a INT, b STRING NOT NULL``."""
        return ", ".join(f.ddl() for f in self.fields)
