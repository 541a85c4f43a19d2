"""Benchmark: a year of 500 tags at 1-min resolution into the measured-data store.

    .venv/bin/python benchmarks/bench_operate_ingest.py [--tags 500] [--days 365] [--keep DIR]

A wide Parquet historian export (a timestamp column in local time without offset and 500
float columns, 525,600 rows: 262.8 M values) is generated first and not timed: the 65 tags of
the default plant's tag map (data/operate/binhai_tags.toml) are repeated with suffixes until
there are 500, each a noisy reading around a third of its range with a few faults per tag (a
span out of range, a frozen span, a gap) so that every check has work. The timed part is
`natwin.operate.ingest.ingest_file` into a fresh store, run in a fresh interpreter (so the peak
resident memory is that of the ingest alone; Arrow's allocations do not show in tracemalloc):
hashing, reading, the clock, range, frozen-value and gap checks, conversion to base units and
the atomic write of the partitions. Then `hourly()` of the whole year and all tags is timed the
same way (what reconciliation reads).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from natwin.operate.tagmap import packaged_tag_map, parse_tag_map, tag_map_toml

GOAL_S = 60.0


def bench_tag_map(n_tags: int) -> str:
    """TOML of a tag map with ``n_tags`` tags: the default plant's repeated with suffixes."""
    base = packaged_tag_map()
    tags = []
    for i in range(n_tags):
        tag = base.tag[i % len(base.tag)]
        tags.append(tag.model_dump(exclude_defaults=True) | {"id": f"{tag.id}-{i // len(base.tag):02d}"})
    tm = parse_tag_map({"plant": base.plant.model_dump(), "tag": tags})
    return tag_map_toml(tm)


def write_long(wide: Path, path: Path) -> None:
    """The same export in long layout (ts, tag, value), row group by row group, tag-major."""
    source = pq.ParquetFile(wide)
    tags = source.schema_arrow.names[1:]
    schema = pa.schema([("ts", pa.timestamp("us")), ("tag", pa.string()), ("value", pa.float64())])
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for i in range(source.num_row_groups):
            group = source.read_row_group(i)
            n = group.num_rows
            ts = pa.concat_arrays([group.column("ts").combine_chunks()] * len(tags))
            names = pa.array(np.repeat(np.array(tags, dtype=object), n), pa.string())
            values = pa.concat_arrays([group.column(t).combine_chunks() for t in tags])
            writer.write_table(pa.Table.from_arrays([ts, names, values], schema=schema))


def write_export(path: Path, tag_map_text: str, days: int, seed: int = 0) -> int:
    """Write the wide Parquet export, one row group per ~10 days; returns the number of values."""
    import tomllib

    tags = tomllib.loads(tag_map_text)["tag"]
    rng = np.random.default_rng(seed)
    n_rows = days * 1440
    start = np.datetime64("2025-01-01T00:00", "us")
    schema = pa.schema([("ts", pa.timestamp("us"))] + [(t["id"], pa.float64()) for t in tags])
    level = np.array([(t["range"][0] + t["range"][1]) / 3 for t in tags])
    faults = rng.integers(0, n_rows - 200, size=(len(tags), 3))
    step = 14_400
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for a in range(0, n_rows, step):
            b = min(a + step, n_rows)
            ts = start + np.arange(a, b) * np.timedelta64(60_000_000, "us")
            values = level * (1 + 0.01 * rng.standard_normal((b - a, len(tags))))
            for j, (bad, stuck, hole) in enumerate(faults):
                for first, what in ((bad, "range"), (stuck, "frozen"), (hole, "gap")):
                    lo, hi = max(first, a) - a, min(first + 90, b) - a
                    if lo < hi:
                        values[lo:hi, j] = {"range": -1.0, "frozen": level[j], "gap": np.nan}[what]
            columns = [pa.array(ts)] + [pa.array(values[:, j], from_pandas=True) for j in range(len(tags))]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))
    return n_rows * len(tags)


_CHILD = """
import json, resource, sys, time
from natwin.operate.tagmap import load_tag_map
from natwin.operate.tsstore import open_store, hourly
from natwin.operate.ingest import ingest_file
import datetime as dt
tm = load_tag_map(sys.argv[1]); store = open_store(sys.argv[2])
what = sys.argv[4]
start = time.perf_counter()
if what == "ingest":
    r = ingest_file(store, tm, sys.argv[3])
    out = {"status": r.status, "rows_in": r.rows_in, "rows_kept": r.rows_kept, "rows_rejected": r.rows_rejected}
else:
    h = hourly(store, "binhai_nfm111", dt.datetime(2024, 12, 31), dt.datetime(2026, 1, 1))
    out = {"hours": len(h), "tags": h.shape[1]}
out["seconds"] = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
out["cpu_s"] = usage.ru_utime + usage.ru_stime
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def _child(*args: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", _CHILD, *args], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tags", type=int, default=500)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--keep", type=Path, default=None, help="folder to keep the export in (reused when present)")
    parser.add_argument("--layout", choices=["wide", "long"], default="wide", help="the export's layout")
    args = parser.parse_args(argv if argv is not None else [])
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        tag_map = folder / f"tags{args.tags}.toml"
        export = folder / f"export_{args.tags}x{args.days}d.parquet"
        tag_map.write_text(bench_tag_map(args.tags))
        t0 = time.perf_counter()
        if not export.exists():
            write_export(export, tag_map.read_text(), args.days)
        if args.layout == "long":
            wide, export = export, folder / f"export_{args.tags}x{args.days}d_long.parquet"
            if not export.exists():
                write_long(wide, export)
        generate_s = time.perf_counter() - t0
        store = Path(tmp) / "store"
        ingest = _child(str(tag_map), str(store), str(export), "ingest")
        read = _child(str(tag_map), str(store), str(export), "hourly")
    values = args.tags * args.days * 1440
    figures = {
        "values": values, "file_mb": export.stat().st_size / 1e6 if args.keep else float("nan"),
        "generate_s": generate_s, "ingest_s": ingest["seconds"], "ingest_cpu_s": ingest["cpu_s"],
        "ingest_peak_rss_mb": ingest["peak_rss_mb"],
        "values_per_s": values / ingest["seconds"], "hourly_s": read["seconds"], "hourly_cpu_s": read["cpu_s"], "hourly_peak_rss_mb": read["peak_rss_mb"],
        "rows_kept": ingest["rows_kept"], "rows_rejected": ingest["rows_rejected"],
    }
    print(f"machine: {platform.machine()}, Python {platform.python_version()}; {args.tags} tags x {args.days} days at 1 min, {args.layout}")
    for key, value in figures.items():
        print(f"  {key:<20} {value:,.3f}" if isinstance(value, float) else f"  {key:<20} {value:,}")
    print(f"  goal <= {GOAL_S:.0f} s: {'met' if ingest['seconds'] <= GOAL_S else 'NOT met'}")
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
