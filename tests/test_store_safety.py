"""The run store under contention, damage and hostile names.

* SQL never carries a user value: an export folder named with quotes, a semicolon and a second
  ``TO`` clause gets exactly its three files, and no statement in ``src/`` is built by string
  formatting;
* writers and readers wait for a store another process holds: two processes saving into one
  store (with a third reading) end with every run stored once;
* a store that stays busy past the timeout never costs a result: it is kept in the pending
  folder beside the store and stored by the next writer (a `natwin run`, a sweep's points);
* a truncated, bit-flipped or foreign file is refused with a message that says what to do,
  without a traceback, and its bytes stay as they were;
* a cancelled sweep is not resumed by `natwin sweep --resume`; a deleted sweep leaves nothing.

The payloads here are small synthetic runs (the store's mechanics do not need the pipeline),
except where a `natwin run` itself is the subject.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

import natwin
from natwin.cli import app
from natwin.store import (
    RunStore,
    StoreBusyError,
    StoreDamagedError,
    keep_payload,
    pending_files,
    save_or_keep,
)

SRC = Path(natwin.__file__).resolve().parents[1]
ENV = os.environ | {"PYTHONPATH": str(SRC)}
runner = CliRunner()


def payload(i: int, tag: str = "p") -> dict:
    """A run payload the size of a real one's parts (KPIs, a few tables), distinct per ``i``."""
    return {
        "name": f"{tag}-{i}",
        "scenario_hash": f"{i:064x}",
        "natwin_version": "test",
        "seed": i,
        "scenario": {"plant": {"name": f"{tag}-{i}", "capacity_t_per_year": 10_000 + i}},
        "kpis": {f"kpi_{k}": i * 1000 + k + 0.5 for k in range(100)} | {"verdict": "go"},
        "tables": {f"table_{t}": [{"row": r, "value": (i * 7919 + r * 104729 + t) % 1000003 / 7} for r in range(200)] for t in range(6)},
        "duration_s": 0.1,
    }


def filled_store(path: Path, n: int = 30) -> Path:
    with RunStore(path) as db:
        for i in range(n):
            db.save_payload(payload(i))
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


_HOLDER = """
import sys, time, duckdb
deadline = time.monotonic() + 60
while True:
    try:
        con = duckdb.connect(sys.argv[1])
        break
    except duckdb.IOException:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.05)
print("holding", flush=True)
sys.stdin.read()
con.close()
"""


@contextmanager
def held(path: Path) -> Iterator[subprocess.Popen]:
    """Another process holding ``path`` open for writing until the block ends."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "holding"
        yield proc
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)


# --------------------------------------------------------------------------- no SQL by formatting


def test_export_to_a_folder_named_with_quotes_and_a_second_to_clause(tmp_path):
    store = filled_store(tmp_path / "runs.duckdb", n=3)
    before = tree(tmp_path)
    hostile = tmp_path / "o'brien; TO 'x"
    result = runner.invoke(app, ["runs", "--store", str(store), "--export", str(hostile)])
    assert result.exit_code == 0, result.output
    new = tree(tmp_path) - before
    assert new == {hostile.name} | {f"{hostile.name}/{t}.parquet" for t in ("runs", "run_kpis", "run_tables")}
    with duckdb.connect() as con:
        rows = con.execute("SELECT count(*) FROM read_parquet(?)", [str(hostile / "runs.parquet")]).fetchone()
        kpis = con.execute("SELECT count(*) FROM read_parquet(?)", [str(hostile / "run_kpis.parquet")]).fetchone()
    assert rows == (3,)
    assert kpis == (3 * 101,)


def test_a_sweep_export_takes_its_id_as_a_parameter(tmp_path):
    with RunStore(tmp_path / "runs.duckdb") as db:
        sweep_id = db.create_sweep("s", {}, [("a", {}), ("b", {})])
        db.save_payload(payload(0), sweep_id=sweep_id, sweep_index=0)
        db.save_payload(payload(1))
        paths = db.export_parquet(tmp_path / "it's here", sweep_id="x' OR '1'='1")
        with duckdb.connect() as con:
            assert con.execute("SELECT count(*) FROM read_parquet(?)", [str(paths["runs"])]).fetchone() == (0,)
        paths = db.export_parquet(tmp_path / "it's here", sweep_id=sweep_id)
    with duckdb.connect() as con:
        assert con.execute("SELECT name FROM read_parquet(?)", [str(paths["runs"])]).fetchall() == [("p-0",)]


_SQL_CALLS = {"execute", "executemany", "sql", "query"}


def _formatted_sql(path: Path) -> list[int]:
    """Lines of calls like ``con.execute(f"...")``: SQL text built by f-string, ``%`` or ``.format``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args):
            continue
        if node.func.attr not in _SQL_CALLS:
            continue
        first = node.args[0]
        built = isinstance(first, ast.JoinedStr | ast.BinOp) or (
            isinstance(first, ast.Call) and isinstance(first.func, ast.Attribute) and first.func.attr == "format"
        )
        if built:
            found.append(node.lineno)
    return found


def test_no_sql_is_built_by_string_formatting(tmp_path):
    """Every statement natwin runs outside the web app is a constant with bound parameters (the
    web app's modules are left to its own checks: one query there joins only '?' placeholders)."""
    files = [p for p in (SRC / "natwin").rglob("*.py") if "web" not in p.relative_to(SRC / "natwin").parts]
    offenders = [f"{path.relative_to(SRC)}:{line}" for path in files for line in _formatted_sql(path)]
    assert offenders == []
    probe = tmp_path / "probe.py"  # the check can fail
    probe.write_text(
        'def f(con, x):\n    con.execute(f"SELECT {x}")\n    con.sql("SELECT %s" % x)\n'
        '    con.execute("SELECT ?", [x])\n',
        encoding="utf-8",
    )
    assert _formatted_sql(probe) == [2, 3]


# --------------------------------------------------------------------------- contention


_WRITER = """
import sys
from natwin.store import RunStore
path, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    with RunStore(path, timeout=120) as db:  # opened for each run, as `natwin run` does
        db.save_payload({"name": f"{tag}-{i}", "kpis": {"i": i}, "tables": {"t": [{"i": i}]}, "scenario": {}})
print("done", flush=True)
"""

_READER = """
import sys
from natwin.store import RunStore
for _ in range(int(sys.argv[2])):
    with RunStore(sys.argv[1], read_only=True, timeout=120) as db:
        db.runs(limit=5)
print("done", flush=True)
"""


def test_two_processes_write_one_store_and_every_run_lands_once(tmp_path):
    store = tmp_path / "runs.duckdb"
    filled_store(store, n=1)
    n = 15
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(store), tag, str(n)], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for tag in ("a", "b")
    ]
    procs.append(subprocess.Popen([sys.executable, "-c", _READER, str(store), "10"], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert out.strip() == "done"
    with RunStore(store, read_only=True) as db:
        names = [r["name"] for r in db.runs(limit=1000)]
    assert sorted(names) == sorted(["p-0"] + [f"{t}-{i}" for t in ("a", "b") for i in range(n)])
    assert pending_files(store) == []


def test_a_busy_store_keeps_the_run_and_the_next_writer_stores_it(tmp_path):
    store = filled_store(tmp_path / "runs.duckdb", n=2)
    with held(store) as holder:
        with pytest.raises(StoreBusyError, match=f"PID {holder.pid}.*NATWIN_STORE_TIMEOUT"):
            RunStore(store, read_only=True, timeout=0.3)
        saved = save_or_keep(payload(7), store, timeout=0.3)
    assert not saved.stored
    assert isinstance(saved.error, StoreBusyError)
    assert saved.pending_file is not None
    assert pending_files(store) == [saved.pending_file]
    kept = json.loads(saved.pending_file.read_text(encoding="utf-8"))
    assert kept["run_id"] == saved.run_id
    with RunStore(store) as db:  # the next writer stores it, once, under the id it was given
        assert db.run(saved.run_id)["kpis"]["kpi_3"] == 7003.5
        assert len(db.runs()) == 3
    assert pending_files(store) == []
    saved.pending_file.parent.mkdir(exist_ok=True)  # a file left by a writer killed after its commit
    saved.pending_file.write_text(json.dumps(kept), encoding="utf-8")
    with RunStore(store) as db:
        assert len(db.runs()) == 3  # no duplicate
    assert pending_files(store) == []


def test_natwin_run_keeps_its_result_when_the_store_stays_busy(tmp_path, monkeypatch):
    store = filled_store(tmp_path / "runs.duckdb", n=1)
    monkeypatch.setenv("NATWIN_STORE_TIMEOUT", "0.5")
    with held(store):
        result = runner.invoke(app, ["run", "--out", str(tmp_path / "out"), "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert "stayed busy" in result.output
    assert "kept run" in result.output
    assert (tmp_path / "out" / "results.json").exists()
    listing = runner.invoke(app, ["runs", "--store", str(store)])
    assert "1 run(s) wait in" in listing.output
    with RunStore(store) as db:
        assert {r["status"] for r in db.runs()} == {"ok"}
        assert len(db.runs()) == 2
    assert pending_files(store) == []


def test_a_sweep_keeps_the_points_a_busy_store_cannot_take(tmp_path, monkeypatch):
    """The sweep holds the store only to write: another process takes it while a point computes."""
    import natwin.sweep as sweep_module

    store_path = tmp_path / "runs.duckdb"
    spec = {"name": "busy", "grid": {"plant.capacity_t_per_year": [-1, -2]}}  # two points that fail fast
    evaluate = sweep_module.evaluate_point
    holding: list = []

    def evaluate_while_held(raw, label=""):
        if not holding:
            cm = held(store_path)
            cm.__enter__()
            holding.append(cm)
        return evaluate(raw, label)

    monkeypatch.setattr(sweep_module, "evaluate_point", evaluate_while_held)
    store = RunStore(store_path, timeout=0.3)
    try:
        summary = sweep_module.run_sweep(store, spec, workers=0)
    finally:
        for cm in holding:
            cm.__exit__(None, None, None)
    assert summary.kept == 2
    assert len(pending_files(store_path)) == 2
    with RunStore(store_path) as db:
        assert db.done_indices(summary.sweep_id) == {0, 1}
        assert [s["status"] for s in db.sweeps()] == ["complete"]
    assert pending_files(store_path) == []


def test_an_unreadable_pending_file_stays_and_the_others_are_stored(tmp_path):
    store = tmp_path / "runs.duckdb"
    keep_payload(payload(1), store)
    bad = pending_files(store)[0].with_name("00000000-bad.json")
    bad.write_text("{not json", encoding="utf-8")
    with RunStore(store) as db:
        assert [r["name"] for r in db.runs()] == ["p-1"]
        assert db.pending() == [bad]


# --------------------------------------------------------------------------- damage


def _runs_block(store: Path) -> int:
    """Byte offset inside a block holding the runs table's ids (DuckDB: three 4 kB headers,
    then blocks of ``block_size`` bytes)."""
    with duckdb.connect(str(store), read_only=True) as con:
        block = con.execute(
            "SELECT min(block_id) FROM pragma_storage_info('runs') WHERE column_name = 'run_id' AND block_id >= 0"
        ).fetchone()[0]
        size = con.execute("SELECT block_size FROM pragma_database_size()").fetchone()[0]
    assert block is not None
    return 3 * 4096 + block * size + 1000


def _tables_block(store: Path) -> int:
    with duckdb.connect(str(store), read_only=True) as con:
        block = con.execute(
            "SELECT max(block_id) FROM pragma_storage_info('run_tables') WHERE column_name = 'rows' AND block_id >= 0"
        ).fetchone()[0]
        size = con.execute("SELECT block_size FROM pragma_database_size()").fetchone()[0]
    return 3 * 4096 + block * size + 5000


def _flip(path: Path, offset: int) -> None:
    with path.open("r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x10]))


@pytest.fixture(scope="module")
def healthy(tmp_path_factory) -> Path:
    return filled_store(tmp_path_factory.mktemp("healthy") / "runs.duckdb", n=40)


def _assert_refused(result, store: Path, bytes_before: str) -> None:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # a message, no traceback
    assert "cannot be used" in result.output
    assert "Move it aside" in result.output
    assert digest(store) == bytes_before


def test_a_truncated_store_is_refused_without_a_traceback_and_left_as_it_is(tmp_path, healthy):
    store = tmp_path / "runs.duckdb"
    shutil.copy(healthy, store)
    os.truncate(store, store.stat().st_size // 2)
    before = digest(store)
    done = subprocess.run(
        [sys.executable, "-m", "natwin", "runs", "--store", str(store)], env=ENV, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "truncated" in done.stderr
    assert "Move it aside" in done.stderr
    with pytest.raises(StoreDamagedError, match="truncated"):
        RunStore(store)
    saved = save_or_keep(payload(99), store)  # a run finished meanwhile is kept, not written into the file
    assert not saved.stored
    assert isinstance(saved.error, StoreDamagedError)
    assert digest(store) == before
    assert tree(tmp_path) == {"runs.duckdb", "runs.duckdb.pending", f"runs.duckdb.pending/{saved.pending_file.name}"}


@pytest.mark.parametrize("where", ["file header", "runs block"])
def test_a_bit_flip_that_natwin_runs_reads_is_refused(tmp_path, healthy, where):
    store = tmp_path / "runs.duckdb"
    shutil.copy(healthy, store)
    _flip(store, 100 if where == "file header" else _runs_block(store))
    before = digest(store)
    _assert_refused(runner.invoke(app, ["runs", "--store", str(store)]), store, before)
    _assert_refused(runner.invoke(app, ["runs", "--store", str(store), "--sweeps"]), store, before)


def test_a_bit_flip_in_stored_tables_stops_every_write(tmp_path, healthy):
    """Listing reads no table rows, so it cannot see this flip; a writer reads everything first."""
    store = tmp_path / "runs.duckdb"
    shutil.copy(healthy, store)
    _flip(store, _tables_block(store))
    before = digest(store)
    with pytest.raises(StoreDamagedError, match="checksum"):
        RunStore(store)
    _assert_refused(runner.invoke(app, ["runs", "--store", str(store), "--check"]), store, before)
    with RunStore(store, read_only=True) as db:  # what the web app reads goes through the same check
        run_id = db.runs(limit=1)[0]["run_id"]
        with pytest.raises(StoreDamagedError, match="Move it aside"):
            db.query("SELECT sum(length(rows)) FROM run_tables WHERE run_id <> ?", [run_id])
    _assert_refused(runner.invoke(app, ["runs", "--store", str(store), "--export", str(tmp_path / "pq")]), store, before)
    sweep = runner.invoke(app, ["sweep", "--resume", "--store", str(store), "--no-progress"])
    _assert_refused(sweep, store, before)


def test_a_healthy_store_passes_every_check(healthy):
    result = runner.invoke(app, ["runs", "--store", str(healthy), "--check"])
    assert result.exit_code == 0, result.output
    assert "no damage found" in result.output


def test_a_foreign_duckdb_file_is_not_written_into(tmp_path):
    other = tmp_path / "mine.duckdb"
    with duckdb.connect(str(other)) as con:
        con.execute("CREATE TABLE measurements (t TIMESTAMP, value DOUBLE)")
    before = digest(other)
    with pytest.raises(StoreDamagedError, match=r"not a natwin run store \(measurements\)"):
        RunStore(other)
    text = tmp_path / "notes.duckdb"
    text.write_text("my notes", encoding="utf-8")
    with pytest.raises(StoreDamagedError, match="not a DuckDB database"):
        RunStore(text)
    assert digest(other) == before
    assert text.read_text(encoding="utf-8") == "my notes"


# --------------------------------------------------------------------------- sweeps


def test_a_cancelled_sweep_is_not_resumed(tmp_path):
    store = tmp_path / "runs.duckdb"
    with RunStore(store) as db:
        older = db.create_sweep("older", {}, [("a", {}), ("b", {})])
        newer = db.create_sweep("newer", {}, [("a", {}), ("b", {})])
        assert db.latest_unfinished_sweep() == newer
        db.cancel_sweep(newer, "cancelled from the web page")
        assert db.latest_unfinished_sweep() == older
        db.cancel_sweep(older)
        assert db.latest_unfinished_sweep() is None
        assert {s["status"] for s in db.sweeps()} == {"cancelled"}
        with pytest.raises(natwin.InputError):
            db.cancel_sweep("0123456789ab")
    result = runner.invoke(app, ["sweep", "--resume", "--store", str(store), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "nothing to resume" in result.output
    listing = runner.invoke(app, ["runs", "--store", str(store), "--sweeps"])
    assert listing.output.count("cancelled") == 2


def test_a_deleted_sweep_leaves_nothing(tmp_path):
    with RunStore(tmp_path / "runs.duckdb") as db:
        keep = db.create_sweep("keep", {}, [("a", {})])
        gone = db.create_sweep("gone", {"grid": {}}, [("a", {}), ("b", {})])
        db.save_payload(payload(0), sweep_id=gone, sweep_index=0)
        db.save_payload(payload(1), sweep_id=keep, sweep_index=0)
        db.cancel_sweep(gone)
        assert db.delete_sweep(gone) is True
        assert db.delete_sweep(gone) is False
        counts = {
            table: db.con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("runs", "run_kpis", "run_tables", "sweeps", "sweep_points", "sweep_status")
        }
    assert counts == {"runs": 1, "run_kpis": 101, "run_tables": 6, "sweeps": 1, "sweep_points": 1, "sweep_status": 0}


# --------------------------------------------------------------------------- start-up


def test_listing_runs_loads_no_pipeline(tmp_path):
    """`natwin runs` reads the store; it never needs the stages (they cost seconds to import)."""
    store = filled_store(tmp_path / "runs.duckdb", n=1)
    code = (
        "import sys, contextlib, io\n"
        "from natwin.cli import app\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        f"        app(['runs', '--store', {str(store)!r}])\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code in (0, None), exc.code\n"
        "print(sorted(m for m in ('natwin.pipeline', 'simpy', 'scipy') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
