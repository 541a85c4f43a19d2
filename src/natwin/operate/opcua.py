"""Live plant data from an OPC UA server (asyncua), and a server that plays a data set.

Reading: :func:`read_opcua` subscribes to one variable per tag of the tag map (node
``ns=<namespace>;s=<tag id>`` unless the tag names its ``node``) with a data-change filter that
reports every new source timestamp (so a value that stays the same is still a sample), and
collects (timestamp, tag, value, quality) rows until a duration, a time or a stop event; the
rows are averaged to 1-min samples (the store's resolution: :data:`natwin.operate.tsstore.SAMPLES_PER_HOUR`)
and :func:`ingest_opcua` passes them through the same checks and store as a file
(:func:`natwin.operate.ingest.ingest_table`). Timestamps are the server's source timestamps
(UTC by OPC UA's definition), its server timestamps where a source gives none.

Serving: :class:`PlantServer` publishes one Double variable per tag in a ``Plant`` folder of
the namespace :data:`NAMESPACE` and writes values with their source timestamps; :meth:`PlantServer.play`
plays a wide data set (e.g. :func:`demo_day`) row by row. Tests start it on loopback with a
free port; :func:`serve` runs it for users to try natwin against (``opc.tcp://127.0.0.1:4840``).
Security: none (the server listens on loopback by default; a plant server's certificates and
user tokens are the plant's to configure).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import socket
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager, suppress
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
from asyncua import Client, Server, ua
from asyncua.common.node import Node

from natwin.operate.ingest import IngestReport, ingest_table
from natwin.operate.tagmap import TagMap
from natwin.operate.tsstore import TimeSeriesStore

#: Namespace URI of natwin's plant variables (the tag ids are their string node ids).
NAMESPACE = "urn:natwin:plant"
#: Server-side queue of each monitored item: values written faster than the client's
#: publishing interval wait here (E: 10,000 covers a day of 1-min values played at once).
QUEUE_SIZE = 10_000
log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` now (the OS's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _utc(value: dt.datetime | pd.Timestamp) -> dt.datetime:
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


def _node_id(name: str, index: int) -> ua.NodeId:
    """The string node id ``name`` in namespace ``index``."""
    return ua.NodeId(ua.String(name), ua.Int16(index))


class PlantServer:
    """An OPC UA server with one Double variable per tag (async context manager)."""

    def __init__(self, tag_map: TagMap, *, host: str = "127.0.0.1", port: int | None = None, namespace: str = NAMESPACE) -> None:
        self.tag_map = tag_map
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.namespace = namespace
        self.url = f"opc.tcp://{host}:{self.port}/natwin/"
        self._server = Server()
        self._nodes: dict[str, Node] = {}

    async def __aenter__(self) -> PlantServer:
        await self._server.init()
        self._server.set_endpoint(self.url)
        self._server.set_server_name("natwin plant data")
        self._server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        index = await self._server.register_namespace(self.namespace)
        folder = await self._server.nodes.objects.add_folder(_node_id("Plant", index), "Plant")
        for tag in self.tag_map.tag:
            node = await folder.add_variable(_node_id(tag.id, index), tag.id, ua.Variant(math.nan, ua.VariantType.Double))
            self._nodes[tag.id] = node
        await self._server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._server.stop()

    async def publish(self, ts: dt.datetime | pd.Timestamp, values: Mapping[str, float], good: bool = True) -> None:
        """Write one value per tag with source timestamp ``ts`` (naive: UTC); NaN is skipped."""
        stamp = _utc(ts)
        status = ua.StatusCode(ua.UInt32(ua.StatusCodes.Good if good else ua.StatusCodes.Bad))
        when = cast(ua.DateTime, stamp)  # asyncua types its timestamps as its datetime subclass
        for tag, value in values.items():
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            variant = ua.Variant(float(value), ua.VariantType.Double)
            await self._nodes[tag].write_value(ua.DataValue(variant, StatusCode=status, SourceTimestamp=when, ServerTimestamp=when))

    async def play(self, frame: pd.DataFrame, rows_per_s: float | None = None) -> int:
        """Publish a wide data set row by row (column ``ts`` in UTC, one column per tag),
        ``rows_per_s`` rows a second (None: as fast as it goes); returns the rows played."""
        tags = [c for c in frame.columns if c != "ts" and c in self._nodes]
        for row in frame[["ts", *tags]].itertuples(index=False):
            await self.publish(row[0], dict(zip(tags, row[1:], strict=True)))
            await asyncio.sleep(1.0 / rows_per_s if rows_per_s else 0)
        return len(frame)


class _Collector:
    """Data-change handler: one (timestamp, tag, value, quality) row per notification."""

    def __init__(self, tags: Mapping[Any, str]) -> None:
        self.tags = tags
        self.rows: list[tuple[dt.datetime, str, float, str]] = []
        self.last = asyncio.get_running_loop().time()

    def datachange_notification(self, node: Node, val: Any, data: Any) -> None:
        value = data.monitored_item.Value
        stamp = value.SourceTimestamp or value.ServerTimestamp
        number = float(val) if isinstance(val, int | float) else math.nan
        good = value.StatusCode is None or value.StatusCode.is_good()
        if stamp is None or (good and math.isnan(number)):
            return  # no sample: a variable's initial empty value (a bad reading carries no value)
        self.rows.append((stamp, self.tags[node.nodeid], number, "Good" if good else "Bad"))
        self.last = asyncio.get_running_loop().time()


def _requests(nodes: list[Node]) -> list[ua.MonitoredItemCreateRequest]:
    """Monitored items reporting every change of value, status or source timestamp."""
    requests = []
    for handle, node in enumerate(nodes, start=1):
        item = ua.ReadValueId()
        item.NodeId, item.AttributeId = node.nodeid, ua.AttributeIds.Value
        trigger = ua.DataChangeFilter()
        trigger.Trigger = ua.DataChangeTrigger.StatusValueTimestamp
        params = ua.MonitoringParameters()
        params.ClientHandle, params.SamplingInterval, params.QueueSize = handle, 0.0, QUEUE_SIZE
        params.DiscardOldest, params.Filter = True, trigger
        request = ua.MonitoredItemCreateRequest()
        request.ItemToMonitor, request.MonitoringMode, request.RequestedParameters = item, ua.MonitoringMode.Reporting, params
        requests.append(request)
    return requests


async def read_opcua(
    url: str,
    tag_map: TagMap,
    *,
    duration_s: float | None = None,
    until: dt.datetime | None = None,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
    namespace: str = NAMESPACE,
    publishing_ms: float = 100.0,
) -> pa.Table:
    """Subscribe to the tag map's variables at ``url`` and collect their values until
    ``duration_s`` has passed, ``until`` (a time) or ``stop`` is set; ``ready`` is set once the
    subscription runs. Returns the 1-min long table (ts UTC, tag, value, quality)."""
    if duration_s is None and until is None and stop is None:
        raise ValueError("give duration_s, until or stop")
    deadline = _deadline(duration_s, until)
    async with Client(url) as client:
        index = await client.get_namespace_index(namespace) if any(t.node is None for t in tag_map.tag) else 0
        nodes = [client.get_node(tag.node if tag.node else _node_id(tag.id, index)) for tag in tag_map.tag]
        collector = _Collector({node.nodeid: tag.id for node, tag in zip(nodes, tag_map.tag, strict=True)})
        subscription = await client.create_subscription(publishing_ms, collector)
        await subscription.create_monitored_items(_requests(nodes))
        if ready is not None:
            ready.set()
        loop = asyncio.get_running_loop()
        while not (stop is not None and stop.is_set()) and (deadline is None or loop.time() < deadline):
            await asyncio.sleep(0.05)
        await asyncio.sleep(2 * publishing_ms / 1000)  # the last publish cycle's notifications
        await subscription.delete()
    return to_minutes(collector.rows)


def _deadline(duration_s: float | None, until: dt.datetime | None) -> float | None:
    loop = asyncio.get_running_loop()
    ends = []
    if duration_s is not None:
        ends.append(loop.time() + duration_s)
    if until is not None:
        ends.append(loop.time() + (_utc(until) - dt.datetime.now(dt.UTC)).total_seconds())
    return min(ends) if ends else None


def to_minutes(rows: list[tuple[dt.datetime, str, float, str]]) -> pa.Table:
    """Rows of (timestamp, tag, value, quality) as 1-min samples: the mean of a tag's good
    values in each minute (stamped at its start); a minute with only bad values keeps one row of
    quality Bad (so the checks count it). Columns ts (UTC), tag, value, quality."""
    frame = pd.DataFrame(rows, columns=["ts", "tag", "value", "quality"])
    if frame.empty:
        return pa.table({"ts": pa.array([], pa.timestamp("us", tz="UTC")), "tag": pa.array([], pa.string()),
                         "value": pa.array([], pa.float64()), "quality": pa.array([], pa.string())})
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True).dt.floor("min")
    good = frame[frame["quality"] == "Good"].groupby(["ts", "tag"], as_index=False)["value"].mean()
    good["quality"] = "Good"
    bad = frame[frame["quality"] != "Good"].groupby(["ts", "tag"], as_index=False)["value"].first()
    bad = bad.merge(good[["ts", "tag"]], how="left", indicator=True)
    bad = bad[bad["_merge"] == "left_only"].drop(columns="_merge").assign(quality="Bad")
    out = pd.concat([good, bad], ignore_index=True).sort_values(["tag", "ts"], ignore_index=True)
    return pa.Table.from_pandas(out[["ts", "tag", "value", "quality"]], preserve_index=False)


def ingest_opcua(
    store: TimeSeriesStore,
    tag_map: TagMap,
    url: str,
    duration: float | None = None,
    until: dt.datetime | None = None,
    *,
    plant: str | None = None,
    namespace: str = NAMESPACE,
) -> IngestReport:
    """Read the tag map's variables live from ``url`` for ``duration`` seconds (or until a
    time) and ingest them like a file: checks, store, report."""
    table = asyncio.run(read_opcua(url, tag_map, duration_s=duration, until=until, namespace=namespace))
    start = end = ""
    if table.num_rows:
        stamps = table.column("ts").to_pandas()
        start, end = stamps.min().isoformat(), stamps.max().isoformat()
    return ingest_table(store, tag_map, table, f"{url} {start}..{end}".strip(), plant=plant)


# --------------------------------------------------------------------------- demo data and serving


def demo_day(tag_map: TagMap, day: dt.date, seed: int = 0) -> pd.DataFrame:
    """A synthetic day of 1-min readings for trying the server: each tag around a third of its
    range (the default map's ranges are three times the design rate, so about the design rate;
    temperatures mid-range) with normal noise of the tag's accuracy; status tags 1. Columns:
    ``ts`` (UTC) and one per tag, in the tags' units. Not the reconciliation's test plant
    (natwin.operate.synthetic), only a data set to serve."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range(pd.Timestamp(day, tz="UTC"), periods=1440, freq="min")
    frame = {"ts": ts}
    for tag in tag_map.tag:
        low, high = tag.range
        if tag.reference.kind == "running":
            frame[tag.id] = np.ones(ts.size)
            continue
        level = (low + high) / 2 if tag.quantity == "temperature" else low + (high - low) / 3
        sigma = float(tag.sigma([level])[0]) if tag.accuracy_pct else (tag.accuracy_abs or 0.0) / 2
        frame[tag.id] = np.clip(level + sigma * rng.standard_normal(ts.size), low, high)
    return pd.DataFrame(frame)


@contextmanager
def serving(tag_map: TagMap, frame: pd.DataFrame | None = None, *, host: str = "127.0.0.1", port: int | None = None,
            rows_per_s: float | None = 60.0, loop_forever: bool = False) -> Iterator[str]:
    """Run a :class:`PlantServer` in a background thread (its own event loop) that plays
    ``frame`` (``rows_per_s`` rows a second, over and over when ``loop_forever``); yields its URL
    once it listens, stops it on exit."""
    started, stopping = threading.Event(), threading.Event()
    server = PlantServer(tag_map, host=host, port=port)
    failure: list[BaseException] = []

    async def run() -> None:
        async with server:
            started.set()
            while not stopping.is_set():
                if frame is not None and not frame.empty:
                    await server.play(frame, rows_per_s)
                if not loop_forever:
                    break
            while not stopping.is_set():
                await asyncio.sleep(0.05)

    def target() -> None:
        try:
            asyncio.run(run())
        except BaseException as exc:  # reported to the caller, not lost in the thread
            failure.append(exc)
            started.set()

    thread = threading.Thread(target=target, name="natwin-opcua-server", daemon=True)
    thread.start()
    started.wait(60)
    if failure:
        raise failure[0]
    try:
        yield server.url
    finally:
        stopping.set()
        thread.join(30)


def serve(tag_map: TagMap, frame: pd.DataFrame, *, host: str = "127.0.0.1", port: int = 4840, rows_per_s: float = 60.0) -> None:
    """Serve ``frame`` on ``opc.tcp://host:port/natwin/`` until interrupted (Ctrl-C), playing
    it over and over: a plant to point :func:`ingest_opcua` (or any OPC UA client) at."""
    with serving(tag_map, frame, host=host, port=port, rows_per_s=rows_per_s, loop_forever=True) as url:
        log.warning("serving %d tags on %s (Ctrl-C stops)", len(tag_map.tag), url)
        with suppress(KeyboardInterrupt):
            threading.Event().wait()


@asynccontextmanager
async def plant_server(tag_map: TagMap, *, host: str = "127.0.0.1", port: int | None = None) -> AsyncIterator[PlantServer]:
    """``async with plant_server(tag_map) as server:`` a started :class:`PlantServer`."""
    async with PlantServer(tag_map, host=host, port=port) as server:
        yield server
