"""Generate readable BPMN diagram interchange (BPMNDI) for hand-written BPMN files.

Engineers write the semantic XML of a process by hand; process designers open the files in
bpmn.io / Camunda Modeler, which draw only elements that have diagram interchange. This tool
computes a left-to-right layout once (columns by longest path, lanes as horizontal bands,
orthogonal edges); the file is then committed and edited in the modeller.

    python -m tools.bpmn_layout FILE... [--check]

Without ``--check`` every file is rewritten in place with freshly generated
``bpmndi:BPMNDiagram`` elements (existing ones are replaced, so manual layout is lost).
``--check`` writes nothing and exits 1 listing the files in which some element has no DI.
"""

from __future__ import annotations

import argparse
import heapq
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from lxml import etree

MODEL = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
DI_PREFIXES = {"bpmndi": BPMNDI, "dc": DC, "di": DI}

EVENTS = frozenset(
    {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
)
TASKS = frozenset(
    {
        "task",
        "userTask",
        "serviceTask",
        "scriptTask",
        "businessRuleTask",
        "manualTask",
        "sendTask",
        "receiveTask",
        "callActivity",
    }
)
SUBPROCESSES = frozenset({"subProcess", "transaction", "adHocSubProcess"})
GATEWAYS = frozenset(
    {
        "exclusiveGateway",
        "parallelGateway",
        "inclusiveGateway",
        "eventBasedGateway",
        "complexGateway",
    }
)
FLOW_NODES = EVENTS | TASKS | SUBPROCESSES | GATEWAYS
DATA = frozenset({"dataObjectReference", "dataStoreReference", "dataInput", "dataOutput"})
ANNOTATIONS = frozenset({"textAnnotation", "group"})
UNSUPPORTED = frozenset(
    {
        "choreography",
        "choreographyTask",
        "callChoreography",
        "subChoreography",
        "conversation",
        "subConversation",
        "callConversation",
        "globalConversation",
        "conversationLink",
        "implicitThrowEvent",
    }
)

ORIGIN_X, ORIGIN_Y = 150, 80
GAP = 60  # horizontal space between columns; edges bend in its middle
ROW = 130  # row pitch inside a band: an 80px task, its boundary events and some air
PAD = 10  # band padding above and below its rows
ESCAPE = 12  # how far an edge leaving a boundary event drops before it turns
CHANNEL0, CHANNEL = 15, 12  # back edges run in channels under the rows of their band
POOL_HEADER = LANE_HEADER = 30
CONTENT_PAD = 50  # space between a pool or lane header and the first column
POOL_GAP = 80  # vertical space between pools, where message flows turn
BLACK_BOX = (400, 80)  # a participant without process

HORIZONTAL = (("isHorizontal", "true"),)

Point = tuple[int, int]


class LayoutError(ValueError):
    """The file cannot be laid out (not BPMN, or uses constructs this tool does not draw)."""


# --- geometry ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in diagram coordinates."""

    x: int
    y: int
    w: int
    h: int

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    @property
    def cx(self) -> int:
        return self.x + self.w // 2

    @property
    def cy(self) -> int:
        return self.y + self.h // 2

    def moved(self, dx: int, dy: int) -> Box:
        return Box(self.x + dx, self.y + dy, self.w, self.h)


def _hits(a: Point, b: Point, box: Box, margin: int = 4) -> bool:
    """Whether the axis-aligned segment a-b passes through box (grown by margin)."""
    x1, x2 = sorted((a[0], b[0]))
    y1, y2 = sorted((a[1], b[1]))
    return (
        x2 > box.x - margin
        and x1 < box.right + margin
        and y2 > box.y - margin
        and y1 < box.bottom + margin
    )


def _clear(
    points: Sequence[Point], obstacles: Iterable[Box], lines: Iterable[tuple[int, int, int]] = ()
) -> bool:
    """Whether a polyline avoids every obstacle, and runs along none of the reserved lines."""
    boxes, reserved = list(obstacles), list(lines)
    for a, b in pairwise(points):
        if any(_hits(a, b, box) for box in boxes):
            return False
        if a[1] == b[1] and any(
            abs(a[1] - y) < 6 and max(min(a[0], b[0]), x1) < min(max(a[0], b[0]), x2)
            for x1, x2, y in reserved
        ):
            return False
    return True


def _simplify(points: Sequence[Point]) -> list[Point]:
    """Drop repeated and collinear waypoints so the modeller shows only real bends."""
    out: list[Point] = []
    for point in points:
        if out and point == out[-1]:
            continue
        if len(out) >= 2 and (
            out[-2][0] == out[-1][0] == point[0] or out[-2][1] == out[-1][1] == point[1]
        ):
            out[-1] = point
        else:
            out.append(point)
    return out if len(out) >= 2 else [*out, *out]


def _straight(a: Box, b: Box) -> list[Point]:
    """A two-point line between facing borders: how modellers draw associations."""
    if b.y >= a.bottom:
        return [(a.cx, a.bottom), (b.cx, b.y)]
    if b.bottom <= a.y:
        return [(a.cx, a.y), (b.cx, b.bottom)]
    if b.x >= a.right:
        return [(a.right, a.cy), (b.x, b.cy)]
    return [(a.x, a.cy), (b.right, b.cy)]


# --- semantic model ------------------------------------------------------------------------


def _kind(el: object) -> str:
    """Local name of a BPMN model element, '' for anything else (comments, extensions)."""
    tag = getattr(el, "tag", None)
    prefix = "{" + MODEL + "}"
    return tag[len(prefix) :] if isinstance(tag, str) and tag.startswith(prefix) else ""


def _children(el: etree._Element, *kinds: str) -> list[etree._Element]:
    return [child for child in el if _kind(child) in kinds]


def _text(el: etree._Element) -> str:
    return (el.text or "").strip()


def _size(kind: str) -> tuple[int, int]:
    """Standard bpmn.io sizes, so shapes look as if drawn in the modeller."""
    if kind in EVENTS:
        return 36, 36
    if kind in GATEWAYS or kind == "dataStoreReference":
        return 50, 50
    if kind in DATA:
        return 36, 50
    if kind == "textAnnotation":
        return 100, 30
    if kind == "group":
        return 150, 100
    return 100, 80


def _shape_attrs(kind: str) -> tuple[tuple[str, str], ...]:
    if kind == "exclusiveGateway":
        return (("isMarkerVisible", "true"),)
    if kind in SUBPROCESSES:
        return (("isExpanded", "false"),)
    return ()


@dataclass(frozen=True)
class Link:
    """One connection to draw: sequence flow, association or data association."""

    id: str
    source: str
    target: str


@dataclass
class Container:
    """A process or sub-process: the unit one grid layout covers."""

    elem: etree._Element
    nodes: dict[str, etree._Element]
    flows: list[Link]
    artifacts: dict[str, etree._Element]
    links: list[Link]
    hosts: dict[str, str]  # boundary event id -> id of the activity it is attached to

    def anchor(self, node: str) -> str:
        """The node that stands for node in the grid: boundary events move with their host."""
        return self.hosts.get(node, node)


@dataclass(frozen=True)
class Lane:
    """A lane shape: nesting depth (1 = top level) and the bands of its leaf lanes."""

    id: str
    depth: int
    first: int
    last: int


def _container(elem: etree._Element) -> Container:
    nodes: dict[str, etree._Element] = {}
    artifacts: dict[str, etree._Element] = {}
    for child in elem:
        kind, ident = _kind(child), child.get("id")
        if ident and kind in FLOW_NODES:
            nodes[ident] = child
        elif ident and (kind in DATA or kind in ANNOTATIONS):
            artifacts[ident] = child
    if _kind(elem) == "process":
        for io in _children(elem, "ioSpecification"):
            for data in _children(io, "dataInput", "dataOutput"):
                if data.get("id"):
                    artifacts[data.get("id")] = data
    flows = [
        Link(flow.get("id"), flow.get("sourceRef"), flow.get("targetRef"))
        for flow in _children(elem, "sequenceFlow")
        if flow.get("id") and flow.get("sourceRef") in nodes and flow.get("targetRef") in nodes
    ]
    drawable = set(nodes) | set(artifacts)
    links = _associations(elem, drawable) + _data_associations(nodes, artifacts)
    return Container(elem, nodes, flows, artifacts, links, _hosts(nodes))


def _hosts(nodes: dict[str, etree._Element]) -> dict[str, str]:
    hosts = {}
    for ident, node in nodes.items():
        host = node.get("attachedToRef")
        if (
            _kind(node) == "boundaryEvent"
            and host in nodes
            and _kind(nodes[host]) != "boundaryEvent"
        ):
            hosts[ident] = host
    return hosts


def _associations(elem: etree._Element, drawable: set[str]) -> list[Link]:
    links = []
    for assoc in _children(elem, "association"):
        source, target = assoc.get("sourceRef"), assoc.get("targetRef")
        if assoc.get("id") and source in drawable and target in drawable and source != target:
            links.append(Link(assoc.get("id"), source, target))
    return links


def _data_associations(
    nodes: dict[str, etree._Element], artifacts: dict[str, etree._Element]
) -> list[Link]:
    """Data associations live inside activities; draw those whose data end is drawn."""
    links = []
    for node_id, node in nodes.items():
        for assoc in _children(node, "dataInputAssociation", "dataOutputAssociation"):
            ident = assoc.get("id")
            if not ident:
                continue
            incoming = _kind(assoc) == "dataInputAssociation"
            refs = [
                _text(ref) for ref in _children(assoc, "sourceRef" if incoming else "targetRef")
            ]
            data = next((ref for ref in refs if ref in artifacts), None)
            if data:
                links.append(Link(ident, data, node_id) if incoming else Link(ident, node_id, data))
    return links


def _lanes(process: etree._Element, c: Container) -> tuple[list[Lane], dict[str, int], int]:
    """Lane shapes, the band of every node and the band count (leaf lanes + unassigned)."""
    lanes: list[Lane] = []
    band_of: dict[str, int] = {}
    leaves = 0

    def walk(lane_set: etree._Element, depth: int) -> None:
        nonlocal leaves
        for lane in _children(lane_set, "lane"):
            slot, first = len(lanes), leaves
            lanes.append(Lane("", depth, first, first))
            children = _children(lane, "childLaneSet")
            if any(_children(cls, "lane") for cls in children):
                for cls in children:
                    walk(cls, depth + 1)
            else:
                leaves += 1
            for ref in _children(lane, "flowNodeRef"):
                band_of.setdefault(_text(ref), first)
            lanes[slot] = Lane(lane.get("id", ""), depth, first, leaves - 1)

    for lane_set in _children(process, "laneSet"):
        walk(lane_set, 1)
    if not lanes:
        return [], dict.fromkeys(c.nodes, 0), 1
    grid_nodes = [n for n in c.nodes if n not in c.hosts]
    extra = any(n not in band_of for n in grid_nodes)
    bands = {n: band_of.get(n, leaves) for n in grid_nodes}
    return lanes, bands, leaves + (1 if extra else 0)


# --- layering ------------------------------------------------------------------------------


def _successors(c: Container) -> dict[str, list[tuple[str, str]]]:
    succ: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for flow in c.flows:
        succ[c.anchor(flow.source)].append((flow.id, c.anchor(flow.target)))
    return succ


def _back_edges(c: Container) -> set[str]:
    """Flows that close a cycle, found by DFS from the start events; they are drawn backwards."""
    succ = _successors(c)
    grid_nodes = [n for n in c.nodes if n not in c.hosts]
    entered = {target for edges in succ.values() for _, target in edges}
    starts = [n for n in grid_nodes if _kind(c.nodes[n]) == "startEvent"]
    roots = starts + [n for n in grid_nodes if n not in entered] + grid_nodes
    state: dict[str, int] = {}  # 1 on the DFS stack, 2 finished
    back: set[str] = set()
    for root in roots:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(succ[root]))]
        while stack:
            node, edges = stack[-1]
            step = next(edges, None)
            if step is None:
                state[node] = 2
                stack.pop()
                continue
            flow, target = step
            if state.get(target) == 1:
                back.add(flow)
            elif target not in state:
                state[target] = 1
                stack.append((target, iter(succ[target])))
    return back


def _columns(c: Container, back: set[str]) -> dict[str, int]:
    """Column = longest path from a source over forward flows (Kahn order)."""
    index = {n: i for i, n in enumerate(c.nodes)}
    indegree = {n: 0 for n in c.nodes if n not in c.hosts}
    succ: dict[str, list[str]] = defaultdict(list)
    for flow in c.flows:
        a, b = c.anchor(flow.source), c.anchor(flow.target)
        if flow.id not in back and a != b:
            succ[a].append(b)
            indegree[b] += 1
    column = dict.fromkeys(indegree, 0)
    ready = [(index[n], n) for n, degree in indegree.items() if degree == 0]
    heapq.heapify(ready)
    while ready:
        _, node = heapq.heappop(ready)
        for target in succ[node]:
            column[target] = max(column[target], column[node] + 1)
            indegree[target] -= 1
            if indegree[target] == 0:
                heapq.heappush(ready, (index[target], target))
    for event, host in c.hosts.items():
        column[event] = column[host]
    return column


# --- grid ----------------------------------------------------------------------------------


@dataclass
class Item:
    """One grid cell occupant: a node, an artifact, or a dummy carrying a long edge."""

    id: str
    w: int
    h: int
    band: int
    col: int
    order: int
    tier: int = 0  # 0 flow node or dummy, 1 artifact (below the flow), 2 parked (bottom row)
    flow: str = ""  # for dummies: the flow they carry
    preds: list[str] = field(default_factory=list)
    followers: list[Item] = field(default_factory=list)  # boundary flows' rows under a host
    follower: bool = False
    row: int = 0
    rank: int = -1  # tie-break inside a cell, from the right-to-left sweep

    def __post_init__(self) -> None:
        self.rank = self.order if self.rank < 0 else self.rank


@dataclass
class Grid:
    """Positions of one container's content, relative to its top-left corner."""

    boxes: dict[str, Box]
    col_of: dict[str, int]
    col_x: list[int]
    col_w: list[int]
    band_top: list[int]
    band_h: list[int]
    dummies: dict[str, list[tuple[int, int]]]  # flow -> (column, y) it passes through
    lines: dict[str, list[tuple[int, int, int]]]  # flow -> (x1, x2, y) reserved for it
    channels: dict[str, int]  # back flow -> y of its channel
    edges: dict[str, list[Point]] = field(default_factory=dict)
    ports: set[tuple[str, str]] = field(default_factory=set)  # (node, side) already used

    @property
    def width(self) -> int:
        return self.col_x[-1] + self.col_w[-1] if self.col_x else 0

    @property
    def height(self) -> int:
        return self.band_top[-1] + self.band_h[-1]

    def gap_before(self, col: int) -> int:
        return self.col_x[col] - GAP // 2

    def gap_after(self, col: int) -> int:
        return self.col_x[col] + self.col_w[col] + GAP // 2


def _parked_nodes(c: Container) -> set[str]:
    """Event sub-processes have no flows; they go to a bottom row instead of column 0."""
    touched = {end for flow in c.flows for end in (flow.source, flow.target)}
    return {
        n
        for n, el in c.nodes.items()
        if _kind(el) in SUBPROCESSES and el.get("triggeredByEvent") == "true" and n not in touched
    }


def _grid_items(
    c: Container, cols: dict[str, int], band_of: dict[str, int], back: set[str], n_bands: int
) -> dict[str, Item]:
    items: dict[str, Item] = {}
    parked = _parked_nodes(c)
    for ident, el in c.nodes.items():
        if ident not in c.hosts:
            w, h = _size(_kind(el))
            tier = 2 if ident in parked else 0
            items[ident] = Item(ident, w, h, band_of[ident], cols[ident], len(items), tier)
    for flow in c.flows:
        if flow.id not in back:
            _add_chain(c, flow, cols, items)
    position = {event: i for i, event in enumerate(c.hosts)}
    source_of = {flow.id: flow.source for flow in c.flows}
    for item in items.values():
        # the rightmost boundary event takes the first row down: its edge then crosses no other
        item.followers.sort(key=lambda dummy: -position[source_of[dummy.flow]])
    anchors = _artifact_anchors(c)
    for ident, el in c.artifacts.items():
        w, h = _size(_kind(el))
        anchor = items.get(anchors.get(ident, ""))
        if anchor is not None and anchor.tier == 0:
            items[ident] = Item(ident, w, h, anchor.band, anchor.col, len(items), 1)
        else:
            items[ident] = Item(ident, w, h, n_bands - 1, 0, len(items), 2)
    return items


def _add_chain(c: Container, flow: Link, cols: dict[str, int], items: dict[str, Item]) -> None:
    """Dummies reserve a slot in every column a long flow crosses, so it never cuts a node.

    A flow leaving a boundary event also reserves the row under its host, so it can drop
    straight down from the event and run right without touching another edge.
    """
    source, target = c.anchor(flow.source), c.anchor(flow.target)
    first = cols[source] if flow.source in c.hosts else cols[source] + 1
    prev = source
    for col in range(first, cols[target]):
        dummy = Item(f"{flow.id} {col}", 0, 0, items[source].band, col, len(items), flow=flow.id)
        if col == cols[source]:
            dummy.follower = True
            items[source].followers.append(dummy)
        else:
            dummy.preds = [prev]
        items[dummy.id] = dummy
        prev = dummy.id
    items[target].preds.append(prev)


def _artifact_anchors(c: Container) -> dict[str, str]:
    """Each data object or annotation is drawn under the first node it is connected to."""
    anchors: dict[str, str] = {}
    for link in c.links:
        for artifact, other in ((link.source, link.target), (link.target, link.source)):
            if artifact in c.artifacts and other in c.nodes:
                anchors.setdefault(artifact, c.anchor(other))
    return anchors


def _assign_rows(items: dict[str, Item]) -> None:
    """Barycenter sweeps: rows from predecessors (left to right), a right-to-left sweep that
    reorders ties by successors, then rows again."""
    cells: dict[tuple[int, int], list[Item]] = defaultdict(list)
    for item in items.values():
        if item.tier < 2:
            cells[(item.col, item.band)].append(item)
    for key in sorted(cells):
        _fill_cell(cells[key], items)
    _rerank(cells, items)
    for key in sorted(cells):
        _fill_cell(cells[key], items)
    _park(items)


def _rerank(cells: dict[tuple[int, int], list[Item]], items: dict[str, Item]) -> None:
    """Right to left, order each cell by the mean rank of its successors in the same band."""
    succ: dict[str, list[Item]] = defaultdict(list)
    for item in items.values():
        for pred in item.preds:
            succ[pred].append(item)
    for key in sorted(cells, reverse=True):
        movable = sorted((i for i in cells[key] if not i.follower), key=lambda i: i.row)
        for position, item in enumerate(movable):
            item.rank = position
        keys = {item.id: _successor_key(item, succ[item.id]) for item in movable}
        for position, item in enumerate(sorted(movable, key=lambda i: keys[i.id])):
            item.rank = position


def _successor_key(item: Item, successors: list[Item]) -> tuple[float, int]:
    ranks = [s.rank for s in successors if s.band == item.band]
    return (sum(ranks) / len(ranks) if ranks else item.rank, item.rank)


def _fill_cell(cell: list[Item], items: dict[str, Item]) -> None:
    wanted: list[tuple[int, tuple[bool, int], Item]] = []
    free: list[Item] = []
    for item in cell:
        if item.tier or item.follower:
            continue
        rows = [items[p].row for p in item.preds if items[p].band == item.band]
        if rows:
            # on a tie real nodes go first (the main path stays straight), then by rank
            wanted.append((sum(rows) // len(rows), (bool(item.flow), item.rank), item))
        else:
            free.append(item)
    taken: set[int] = set()
    last = -1
    for want, _, item in sorted(wanted, key=lambda w: (w[0], w[1])):
        last = _put(item, max(last + 1, want), taken)
    for item in sorted(free, key=lambda i: i.rank):
        row = 0
        while taken & set(range(row, row + 1 + len(item.followers))):
            row += 1
        _put(item, row, taken)
    row = max(taken, default=-1) + 1
    for item in cell:
        if item.tier == 1:
            item.row, row = row, row + 1


def _put(item: Item, row: int, taken: set[int]) -> int:
    """Place item, and the flows leaving its boundary events just below; return the last row."""
    for offset, placed in enumerate([item, *item.followers]):
        placed.row = row + offset
        taken.add(placed.row)
    return row + len(item.followers)


def _park(items: dict[str, Item]) -> None:
    """Parked items (event sub-processes, unconnected artifacts): a row under their band."""
    by_band: dict[int, list[Item]] = defaultdict(list)
    for item in items.values():
        if item.tier == 2:
            by_band[item.band].append(item)
    for band, parked in by_band.items():
        flow = [i.row for i in items.values() if i.band == band and i.tier < 2]
        row = 1 + max(flow, default=-1)
        for col, item in enumerate(parked):
            item.col, item.row = col, row


def _geometry(c: Container, items: dict[str, Item], back: set[str], n_bands: int) -> Grid:
    """Turn columns, bands and rows into coordinates; reserve a channel per back edge."""
    col_x, col_w = _column_geometry(items)
    back_by_band: dict[int, list[str]] = defaultdict(list)
    for flow in c.flows:
        if flow.id in back:
            back_by_band[items[c.anchor(flow.source)].band].append(flow.id)
    rows = [1] * n_bands
    for item in items.values():
        rows[item.band] = max(rows[item.band], item.row + 1)
    band_h = [
        2 * PAD
        + rows[b] * ROW
        + (CHANNEL0 + CHANNEL * len(back_by_band[b]) if b in back_by_band else 0)
        for b in range(n_bands)
    ]
    band_top = [sum(band_h[:b]) for b in range(n_bands)]
    grid = Grid({}, {}, col_x, col_w, band_top, band_h, defaultdict(list), defaultdict(list), {})
    for item in items.values():
        _place_item(grid, item)
    _place_boundaries(c, grid)
    for band, flows in back_by_band.items():
        floor = band_top[band] + PAD + rows[band] * ROW + CHANNEL0
        for k, flow in enumerate(flows):
            grid.channels[flow] = floor + k * CHANNEL
    return grid


def _column_geometry(items: dict[str, Item]) -> tuple[list[int], list[int]]:
    """Each column is as wide as its widest shape; columns are GAP apart."""
    n_cols = 1 + max((item.col for item in items.values()), default=-1)
    col_w = [36] * n_cols
    for item in items.values():
        col_w[item.col] = max(col_w[item.col], item.w)
    col_x = [0] * n_cols
    for col in range(1, n_cols):
        col_x[col] = col_x[col - 1] + col_w[col - 1] + GAP
    return col_x, col_w


def _place_item(grid: Grid, item: Item) -> None:
    """Shapes are centred in their cell; dummies only record where their flow runs."""
    cy = grid.band_top[item.band] + PAD + ROW // 2 + item.row * ROW
    x1, width = grid.col_x[item.col], grid.col_w[item.col]
    if item.flow:
        grid.dummies[item.flow].append((item.col, cy))
        grid.lines[item.flow].append((x1, x1 + width, cy))
    else:
        grid.boxes[item.id] = Box(x1 + (width - item.w) // 2, cy - item.h // 2, item.w, item.h)
        grid.col_of[item.id] = item.col


def _place_boundaries(c: Container, grid: Grid) -> None:
    """Boundary events sit on the bottom border of their host, spread 44px apart."""
    by_host: dict[str, list[str]] = defaultdict(list)
    for event, host in c.hosts.items():
        by_host[host].append(event)
    for host, events in by_host.items():
        box = grid.boxes[host]
        for i, event in enumerate(events):
            cx = box.cx + i * 44 - 22 * (len(events) - 1)
            grid.boxes[event] = Box(cx - 18, box.bottom - 18, 36, 36)
            grid.col_of[event] = grid.col_of[host]


# --- edge routing --------------------------------------------------------------------------


def _first_clear(
    candidates: list[list[Point]], grid: Grid, flow: Link, free_ports: bool = False
) -> list[Point]:
    """The first candidate route that crosses no shape; the last one is safe by construction.

    With free_ports, routes leaving or entering a side another edge already uses come after
    the others: a loop sharing a gateway's bottom with a split would be unreadable.
    """
    obstacles = [
        box for ident, box in grid.boxes.items() if ident not in (flow.source, flow.target)
    ]
    lines = [line for other, group in grid.lines.items() if other != flow.id for line in group]

    def cost(index: int) -> tuple[bool, int, int]:
        points = candidates[index]
        start, end = _sides(points)
        shared = [
            # sharing a left/right port overlaps only up to the gap; top/bottom overlap longer
            1 if side in ("left", "right") else 2
            for node, side in ((flow.source, start), (flow.target, end))
            if (node, side) in grid.ports
        ]
        blocked = index < len(candidates) - 1 and not _clear(points, obstacles, lines)
        return blocked, sum(shared) if free_ports else 0, index

    return candidates[min(range(len(candidates)), key=cost)]


def _sides(points: Sequence[Point]) -> tuple[str, str]:
    """Which side of its source an edge leaves by, and which side of its target it enters."""

    def side(a: Point, b: Point) -> str:
        if a[0] == b[0]:
            return "bottom" if b[1] > a[1] else "top"
        return "right" if b[0] > a[0] else "left"

    return side(points[0], points[1]), side(points[-1], points[-2])


def _is_gateway(c: Container, node: str) -> bool:
    return _kind(c.nodes[node]) in GATEWAYS


def _route_forward(c: Container, grid: Grid, flow: Link) -> list[Point]:
    s, t = grid.boxes[flow.source], grid.boxes[flow.target]
    stations = [*grid.dummies.get(flow.id, []), (grid.col_of[flow.target], t.cy)]
    starts = _forward_starts(c, flow, s, stations[0][1])
    ends = [True, False] if _is_gateway(c, flow.target) else [False]
    candidates = [
        _forward_path(grid, prefix, y, stations, t, nice) for prefix, y in starts for nice in ends
    ]
    return _first_clear(candidates, grid, flow)


def _forward_starts(
    c: Container, flow: Link, s: Box, first_y: int
) -> list[tuple[list[Point], int]]:
    """Ways to leave the source: right side; boundary events and gateway splits go vertical."""
    if flow.source in c.hosts:
        escape = s.bottom + ESCAPE
        default = ([(s.cx, s.bottom), (s.cx, escape)], escape)
        if first_y > escape:
            return [([(s.cx, s.bottom), (s.cx, first_y)], first_y), default]
        return [default]
    if _is_gateway(c, flow.source) and first_y != s.cy:
        edge = s.bottom if first_y > s.cy else s.y
        return [([(s.cx, edge), (s.cx, first_y)], first_y), ([(s.right, s.cy)], s.cy)]
    return [([(s.right, s.cy)], s.cy)]


def _forward_path(
    grid: Grid,
    prefix: list[Point],
    y: int,
    stations: list[tuple[int, int]],
    t: Box,
    nice_end: bool,
) -> list[Point]:
    """Manhattan route through the stations, bending in the gaps between columns."""
    points = list(prefix)
    for i, (col, station_y) in enumerate(stations):
        if i == len(stations) - 1 and nice_end and y != t.cy:
            return [*points, (t.cx, y), (t.cx, t.y if y < t.cy else t.bottom)]
        if y != station_y:
            gx = grid.gap_before(col)
            points += [(gx, y), (gx, station_y)]
            y = station_y
    return [*points, (t.x, t.cy)]


def _route_back(c: Container, grid: Grid, flow: Link) -> list[Point]:
    """Loops leave downwards, run left in a channel under the band and come back up."""
    s, t = grid.boxes[flow.source], grid.boxes[flow.target]
    channel = grid.channels[flow.id]
    after = grid.gap_after(grid.col_of[flow.source])
    before = grid.gap_before(grid.col_of[flow.target])
    down = [(s.cx, s.bottom), (s.cx, channel)]
    if flow.source in c.hosts:
        escape = s.bottom + ESCAPE
        side = [(s.cx, s.bottom), (s.cx, escape), (after, escape), (after, channel)]
    else:
        side = [(s.right, s.cy), (after, s.cy), (after, channel)]
    up = [(t.cx, channel), (t.cx, t.bottom)]
    left = [(before, channel), (before, t.cy), (t.x, t.cy)]
    candidates = [
        start + end
        for start in (down, side)
        for end in (up, left)
        if end is left or (channel > t.bottom and start[-1][0] != t.cx)
    ]
    return _first_clear(candidates, grid, flow, free_ports=True)


def _route(c: Container, grid: Grid, back: set[str]) -> None:
    """Forward flows first, so loops can avoid the sides the main flow already uses."""
    for flow in sorted(c.flows, key=lambda f: f.id in back):
        route = _route_back if flow.id in back else _route_forward
        points = _simplify(route(c, grid, flow))
        grid.edges[flow.id] = points
        start, end = _sides(points)
        grid.ports.update({(flow.source, start), (flow.target, end)})
    _spread_gaps(c, grid)
    for link in c.links:
        grid.edges[link.id] = _straight(grid.boxes[link.source], grid.boxes[link.target])


TRACKS = (0, 8, -8, 16, -16, 24, -24)


def _spread_gaps(c: Container, grid: Grid) -> None:
    """Give vertical segments of unrelated flows in one gap their own x, so they never merge.

    Flows sharing a source or a target keep sharing a trunk, as a modeller would draw them.
    """
    last = len(grid.col_x) - 1
    if last < 0:
        return
    centers = {grid.gap_before(col) for col in range(last + 1)} | {grid.gap_after(last)}
    segments: dict[int, list[tuple[int, int, int, int]]] = defaultdict(list)
    for order, flow in enumerate(c.flows):
        points = grid.edges[flow.id]
        for i in range(1, len(points) - 2):
            (x1, y1), (x2, y2) = points[i], points[i + 1]
            if x1 == x2 and x1 in centers:
                segments[x1].append((min(y1, y2), max(y1, y2), order, i))
    for x, found in segments.items():
        tracks: list[list[tuple[int, int, Link]]] = []
        for y1, y2, order, i in sorted(found):
            flow = c.flows[order]
            track = next(
                (t for t, members in enumerate(tracks) if _fits(y1, y2, flow, members)),
                len(tracks),
            )
            if track == len(tracks):
                tracks.append([])
            tracks[track].append((y1, y2, flow))
            points = grid.edges[flow.id]
            shift = TRACKS[track % len(TRACKS)]
            points[i], points[i + 1] = (x + shift, points[i][1]), (x + shift, points[i + 1][1])


def _fits(y1: int, y2: int, flow: Link, members: list[tuple[int, int, Link]]) -> bool:
    """Whether a segment may share a track: no overlap, or the same source or target."""
    return all(
        y1 > b2 + 6 or b1 > y2 + 6 or flow.source == other.source or flow.target == other.target
        for b1, b2, other in members
    )


def _layout_container(c: Container, band_of: dict[str, int], n_bands: int) -> Grid:
    """Sugiyama-style layout of one process or sub-process, in content coordinates."""
    back = _back_edges(c)
    cols = _columns(c, back)
    items = _grid_items(c, cols, band_of, back, n_bands)
    _assign_rows(items)
    grid = _geometry(c, items, back, n_bands)
    _route(c, grid, back)
    return grid


# --- diagrams ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """A BPMNShape to write: the element it draws, its bounds and flags."""

    element: str
    box: Box
    attrs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Edge:
    """A BPMNEdge to write: the element it draws and its waypoints."""

    element: str
    points: list[Point]


@dataclass
class Diagram:
    """One BPMNDiagram: the plane's element and what is drawn on it."""

    element: str
    shapes: list[Shape] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)


@dataclass
class LaidOut:
    """A process with its lanes and grid, ready to be placed in a pool."""

    container: Container
    lanes: list[Lane]
    grid: Grid

    def indent(self, header: int) -> int:
        """Distance from the pool's left border to the first column."""
        depth = max((lane.depth for lane in self.lanes), default=0)
        pad = CONTENT_PAD if header or self.lanes else 0
        return header + LANE_HEADER * depth + pad

    def width(self, header: int) -> int:
        pad = CONTENT_PAD if header or self.lanes else 0
        return self.indent(header) + self.grid.width + pad


def _lay_out_process(process: etree._Element) -> LaidOut:
    c = _container(process)
    lanes, band_of, n_bands = _lanes(process, c)
    return LaidOut(c, lanes, _layout_container(c, band_of, n_bands))


def _draw_content(diagram: Diagram, c: Container, grid: Grid, dx: int, dy: int) -> dict[str, Box]:
    """Append the shapes and edges of a laid-out container, shifted to (dx, dy)."""
    boxes = {ident: box.moved(dx, dy) for ident, box in grid.boxes.items()}
    ordered = [n for n in c.nodes if n not in c.hosts] + list(c.hosts) + list(c.artifacts)
    for ident in ordered:
        el = c.nodes.get(ident, c.artifacts.get(ident))
        diagram.shapes.append(Shape(ident, boxes[ident], _shape_attrs(_kind(el))))
    for link in [*c.flows, *c.links]:
        points = [(x + dx, y + dy) for x, y in grid.edges[link.id]]
        diagram.edges.append(Edge(link.id, points))
    return boxes


def _draw_process(diagram: Diagram, laid: LaidOut, box: Box, header: int) -> dict[str, Box]:
    """Lane shapes tiling box (right of the header), then the process content."""
    grid = laid.grid
    for lane in laid.lanes:
        if not lane.id:
            continue
        x = box.x + header + LANE_HEADER * (lane.depth - 1)
        top = box.y + grid.band_top[lane.first]
        bottom = box.y + grid.band_top[lane.last] + grid.band_h[lane.last]
        diagram.shapes.append(Shape(lane.id, Box(x, top, box.right - x, bottom - top), HORIZONTAL))
    return _draw_content(diagram, laid.container, grid, box.x + laid.indent(header), box.y)


def _process_diagram(process: etree._Element) -> Diagram:
    laid = _lay_out_process(process)
    diagram = Diagram(process.get("id"))
    box = Box(ORIGIN_X, ORIGIN_Y, laid.width(0), laid.grid.height)
    _draw_process(diagram, laid, box, 0)
    return diagram


def _subprocess_diagram(sub: etree._Element) -> Diagram:
    """Collapsed sub-process content goes on its own plane, as bpmn.io drill-down expects."""
    c = _container(sub)
    grid = _layout_container(c, {n: 0 for n in c.nodes if n not in c.hosts}, 1)
    diagram = Diagram(sub.get("id"))
    _draw_content(diagram, c, grid, ORIGIN_X, ORIGIN_Y)
    return diagram


def _collaboration_diagram(
    collab: etree._Element, processes: dict[str, etree._Element], drawn: set[str]
) -> Diagram | None:
    """Pools stacked top to bottom in participant order, then message flows between them."""
    pools: list[tuple[str, LaidOut | None]] = []
    for participant in _children(collab, "participant"):
        ident, ref = participant.get("id"), participant.get("processRef", "")
        if not ident:
            continue
        laid = None
        if ref in processes and ref not in drawn:
            drawn.add(ref)
            laid = _lay_out_process(processes[ref])
        pools.append((ident, laid))
    if not pools:
        return None
    width = max(laid.width(POOL_HEADER) if laid else BLACK_BOX[0] for _, laid in pools)
    diagram = Diagram(collab.get("id"))
    boxes: dict[str, Box] = {}
    pool_of: dict[str, Box] = {}
    y = ORIGIN_Y
    for ident, laid in pools:
        box = Box(ORIGIN_X, y, width, laid.grid.height if laid else BLACK_BOX[1])
        diagram.shapes.append(Shape(ident, box, HORIZONTAL))
        content = _draw_process(diagram, laid, box, POOL_HEADER) if laid else {}
        for element, element_box in [(ident, box), *content.items()]:
            boxes[element], pool_of[element] = element_box, box
        y = box.bottom + POOL_GAP
    _draw_message_flows(diagram, collab, boxes, pool_of)
    _draw_collaboration_artifacts(diagram, collab, boxes, y)
    return diagram


def _draw_message_flows(
    diagram: Diagram, collab: etree._Element, boxes: dict[str, Box], pool_of: dict[str, Box]
) -> None:
    """Message flows whose ends are both on this plane (not inside collapsed sub-processes)."""
    k = 0
    for flow in _children(collab, "messageFlow"):
        source, target = flow.get("sourceRef"), flow.get("targetRef")
        if not flow.get("id") or source not in boxes or target not in boxes or source == target:
            continue
        s, t = boxes[source], boxes[target]
        points = _route_message(s, t, pool_of[source], pool_of[target], k)
        diagram.edges.append(Edge(flow.get("id"), _simplify(points)))
        k += 1


def _route_message(s: Box, t: Box, s_pool: Box, t_pool: Box, k: int) -> list[Point]:
    """Vertical out of the source, across in the gap under (or over) its pool, into the target."""
    down = t_pool.y > s_pool.y if s_pool != t_pool else t.cy >= s.cy
    sx, tx = s.cx, t.cx
    if s is s_pool and t is t_pool:
        sx = tx = min(s.x + 150 + 40 * k, s.right - 20)
    elif s is s_pool:
        sx = min(max(t.cx, s.x + 20), s.right - 20)
    elif t is t_pool:
        tx = min(max(s.cx, t.x + 20), t.right - 20)
    sy, ty = (s.bottom, t.y) if down else (s.y, t.bottom)
    if sx == tx:
        return [(sx, sy), (tx, ty)]
    turn = s_pool.bottom + 12 + 10 * (k % 6) if down else s_pool.y - 12 - 10 * (k % 6)
    return [(sx, sy), (sx, turn), (tx, turn), (tx, ty)]


def _draw_collaboration_artifacts(
    diagram: Diagram, collab: etree._Element, boxes: dict[str, Box], y: int
) -> None:
    """Collaboration-level annotations and groups are parked in a row under the pools."""
    x = ORIGIN_X
    for el in _children(collab, *ANNOTATIONS):
        if not el.get("id"):
            continue
        w, h = _size(_kind(el))
        boxes[el.get("id")] = Box(x, y, w, h)
        diagram.shapes.append(Shape(el.get("id"), boxes[el.get("id")]))
        x += w + GAP
    for link in _associations(collab, set(boxes)):
        diagram.edges.append(Edge(link.id, _straight(boxes[link.source], boxes[link.target])))


def _subprocesses(processes: Iterable[etree._Element]) -> list[etree._Element]:
    """Every sub-process of the given processes, nested ones included, in document order."""
    containers = SUBPROCESSES | {"process"}
    return [
        el
        for process in processes
        for el in process.iter()
        if _kind(el) in SUBPROCESSES and el.get("id") and _kind(el.getparent()) in containers
    ]


def _plan(root: etree._Element) -> list[Diagram]:
    """All diagrams of a file: collaborations, processes outside them, collapsed sub-processes."""
    processes = {p.get("id"): p for p in _children(root, "process") if p.get("id")}
    drawn: set[str] = set()
    diagrams = []
    for collab in _children(root, "collaboration"):
        if collab.get("id"):
            diagram = _collaboration_diagram(collab, processes, drawn)
            if diagram is not None:
                diagrams.append(diagram)
    diagrams += [_process_diagram(p) for ident, p in processes.items() if ident not in drawn]
    diagrams += [_subprocess_diagram(sub) for sub in _subprocesses(processes.values())]
    return diagrams


# --- XML -----------------------------------------------------------------------------------

_PROLOG = re.compile(rb"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>)", re.S)


def _parse(content: bytes) -> etree._ElementTree:
    parser = etree.XMLParser(strip_cdata=False, resolve_entities=False, no_network=True)
    root = etree.fromstring(content, parser)
    if _kind(root) != "definitions":
        raise LayoutError("root element is not bpmn:definitions")
    return root.getroottree()


def _root_tag_end(content: bytes) -> int:
    """Offset of the '>' (or '/>') closing the root start tag."""
    pos = 0
    while match := _PROLOG.match(content, pos):
        pos = match.end()
    quote = b""
    for i in range(pos, len(content)):
        char = content[i : i + 1]
        if quote:
            quote = b"" if char == quote else quote
        elif char in (b'"', b"'"):
            quote = char
        elif char == b">":
            return i - 1 if content[i - 1 : i] == b"/" else i
    raise LayoutError("no root element")


def _declare_namespaces(content: bytes, nsmap: dict[str | None, str]) -> bytes:
    """Declare bpmndi/dc/di on definitions textually, so no existing prefix is touched."""
    taken = set(nsmap)
    declarations = []
    for prefix, uri in DI_PREFIXES.items():
        if uri in nsmap.values():
            continue
        name, n = prefix, 1
        while name in taken:
            n += 1
            name = f"{prefix}{n}"
        taken.add(name)
        declarations.append(f' xmlns:{name}="{uri}"')
    if not declarations:
        return content
    end = _root_tag_end(content)
    return content[:end] + "".join(declarations).encode() + content[end:]


def _ids(root: etree._Element) -> set[str]:
    return {el.get("id") for el in root.iter() if isinstance(el.tag, str) and el.get("id")}


def _unique(base: str, used: set[str]) -> str:
    name, n = base, 1
    while name in used:
        n += 1
        name = f"{base}_{n}"
    used.add(name)
    return name


def _ensure_collaboration(root: etree._Element) -> None:
    """Lanes (and several processes) render in bpmn.io only inside pools: create them."""
    if _children(root, "collaboration"):
        return
    processes = [p for p in _children(root, "process") if p.get("id")]
    has_lanes = any(_children(ls, "lane") for p in processes for ls in _children(p, "laneSet"))
    if not processes or (len(processes) == 1 and not has_lanes):
        return
    used = _ids(root)
    first = processes[0]
    ident = _unique(f"{first.get('id')}_collaboration", used)
    collab = etree.SubElement(root, f"{{{MODEL}}}collaboration", id=ident)
    first.addprevious(collab)
    for process in processes:
        participant = etree.SubElement(collab, f"{{{MODEL}}}participant")
        participant.set("id", _unique(f"{process.get('id')}_participant", used))
        if process.get("name"):
            participant.set("name", process.get("name"))
        participant.set("processRef", process.get("id"))


def _emit(root: etree._Element, diagrams: list[Diagram]) -> None:
    """Write the diagrams where the schema wants them: after root elements, before relationships."""
    used = _ids(root)
    relationship = next((el for el in root if _kind(el) == "relationship"), None)
    for n, diagram in enumerate(diagrams, 1):
        el = etree.SubElement(
            root, f"{{{BPMNDI}}}BPMNDiagram", id=_unique(f"BPMNDiagram_{n}", used)
        )
        plane = etree.SubElement(el, f"{{{BPMNDI}}}BPMNPlane", id=_unique(f"BPMNPlane_{n}", used))
        plane.set("bpmnElement", diagram.element)
        for shape in diagram.shapes:
            _emit_shape(plane, shape, used)
        for edge in diagram.edges:
            _emit_edge(plane, edge, used)
        if relationship is not None:
            relationship.addprevious(el)


def _emit_shape(plane: etree._Element, shape: Shape, used: set[str]) -> None:
    el = etree.SubElement(plane, f"{{{BPMNDI}}}BPMNShape", id=_unique(f"{shape.element}_di", used))
    el.set("bpmnElement", shape.element)
    for name, value in shape.attrs:
        el.set(name, value)
    bounds = etree.SubElement(el, f"{{{DC}}}Bounds")
    for name, value in zip(
        ("x", "y", "width", "height"),
        (shape.box.x, shape.box.y, shape.box.w, shape.box.h),
        strict=True,
    ):
        bounds.set(name, str(value))


def _emit_edge(plane: etree._Element, edge: Edge, used: set[str]) -> None:
    el = etree.SubElement(plane, f"{{{BPMNDI}}}BPMNEdge", id=_unique(f"{edge.element}_di", used))
    el.set("bpmnElement", edge.element)
    for x, y in edge.points:
        etree.SubElement(el, f"{{{DI}}}waypoint", x=str(x), y=str(y))


def _strip_diagrams(root: etree._Element) -> None:
    for el in root.findall(f"{{{BPMNDI}}}BPMNDiagram"):
        root.remove(el)


def _check_supported(root: etree._Element) -> None:
    found = _unsupported(root)
    if found:
        raise LayoutError(f"unsupported BPMN constructs: {', '.join(found)}")


def _unsupported(root: etree._Element) -> list[str]:
    return sorted({_kind(el) for el in root.iter() if _kind(el) in UNSUPPORTED})


# --- public API ----------------------------------------------------------------------------


def unsupported_constructs(content: bytes) -> list[str]:
    """BPMN element kinds in content that this tool cannot draw (choreographies, conversations)."""
    return _unsupported(_parse(content).getroot())


def layout(content: bytes) -> bytes:
    """Return content with freshly generated BPMNDI; the semantic part is left as it was."""
    tree = _parse(content)
    root = tree.getroot()
    _check_supported(root)
    normalized = etree.tostring(tree, encoding="UTF-8", xml_declaration=True)
    tree = _parse(_declare_namespaces(normalized, root.nsmap))
    root = tree.getroot()
    _strip_diagrams(root)
    _ensure_collaboration(root)
    _emit(root, _plan(root))
    etree.indent(root, space="  ")
    body = etree.tostring(tree, encoding="UTF-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body + b"\n"


def required_di(content: bytes) -> list[str]:
    """Ids of the elements that need a shape or edge (what this tool would draw)."""
    return _required(_parse(content).getroot())


def missing_di(content: bytes) -> list[str]:
    """Ids of elements that need diagram interchange but have none in content."""
    root = _parse(content).getroot()
    drawn = f"{{{BPMNDI}}}BPMNShape", f"{{{BPMNDI}}}BPMNEdge"
    present = {el.get("bpmnElement", "").rpartition(":")[2] for el in root.iter(*drawn)}
    return [ident for ident in _required(root) if ident not in present]


def _required(root: etree._Element) -> list[str]:
    return [d.element for diagram in _plan(root) for d in (*diagram.shapes, *diagram.edges)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bpmn_layout",
        description="Generate BPMN diagram layout (BPMNDI) in place.",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if some element lacks DI"
    )
    args = parser.parse_args(argv)
    status = 0
    for path in args.files:
        try:
            status |= _check_file(path) if args.check else _layout_file(path)
        except (OSError, etree.XMLSyntaxError, LayoutError) as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            status = 1
    return status


def _check_file(path: Path) -> int:
    missing = missing_di(path.read_bytes())
    if missing:
        print(f"{path}: no diagram interchange for {', '.join(missing)}")
        return 1
    return 0


def _layout_file(path: Path) -> int:
    content = path.read_bytes()
    result = layout(content)
    if result != content:
        path.write_bytes(result)
        print(f"laid out {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
