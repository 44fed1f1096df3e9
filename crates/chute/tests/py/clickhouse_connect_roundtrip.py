"""ClickHouse's Python client (clickhouse-connect) against chute's ClickHouse HTTP interface:
creates a table, inserts typed rows (Native format, lz4 request compression as the client does by
default), reads them back typed, and checks that a read-only user cannot insert.

usage: clickhouse_connect_roundtrip.py HOST PORT PASSWORD READONLY_USER READONLY_PASSWORD
Prints one JSON object: the rows read back, the column types, and the read-only refusal's code.
"""
import datetime
import json
import re
import sys

import clickhouse_connect
from clickhouse_connect.driver.exceptions import DatabaseError

host, port, password, ro_user, ro_password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
client = clickhouse_connect.get_client(host=host, port=port, username="default", password=password)
client.command("DROP TABLE IF EXISTS py_roundtrip")
client.command(
    "CREATE TABLE py_roundtrip (id UInt32, name String, score Float64, at DateTime64(3, 'UTC'), "
    "tags Array(String), note Nullable(String)) ENGINE = MergeTree ORDER BY id"
)
t0 = datetime.datetime(2026, 11, 23, 10, 0, 0, 125000, tzinfo=datetime.timezone.utc)
rows = [
    [1, "alpha", 1.5, t0, ["a", "b"], None],
    [2, "beta", -2.25, t0 + datetime.timedelta(seconds=1), [], "second"],
    [3, "gamma \u00e9", 1e300, t0 + datetime.timedelta(days=1), ["x"], ""],
]
summary = client.insert("py_roundtrip", rows, column_names=["id", "name", "score", "at", "tags", "note"])
result = client.query("SELECT id, name, score, at, tags, note FROM py_roundtrip ORDER BY id")
back = [
    [r[0], r[1], r[2], r[3].astimezone(datetime.timezone.utc).isoformat(), list(r[4]), r[5]]
    for r in result.result_rows
]
types = [t.name for t in result.column_types]
count = client.command("SELECT count() FROM py_roundtrip")
params = client.query("SELECT {n:UInt32} * 2 AS doubled", parameters={"n": 21}).result_rows[0][0]

ro = clickhouse_connect.get_client(host=host, port=port, username=ro_user, password=ro_password)
ro_rows = ro.query("SELECT count() FROM py_roundtrip").result_rows[0][0]
ro_code = None
try:
    ro.insert("py_roundtrip", [[9, "nope", 0.0, t0, [], None]], column_names=["id", "name", "score", "at", "tags", "note"])
except DatabaseError as e:
    found = re.search(r"Code: (\d+)", str(e))
    ro_code = int(found.group(1)) if found else str(e)
bad_password_error = None
try:
    clickhouse_connect.get_client(host=host, port=port, username="default", password=password + "x")
except Exception as e:  # noqa: BLE001 - the client wraps it differently by version
    bad_password_error = str(e)

print(json.dumps({
    "written": summary.written_rows,
    "rows": back,
    "types": types,
    "count": count,
    "params": params,
    "ro_rows": ro_rows,
    "ro_code": ro_code,
    "bad_password_error": bad_password_error,
    "server_version": client.server_version,
}))
