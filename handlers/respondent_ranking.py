"""The most complained-about respondents of a population, ranked from the `stats_respondents`
aggregate of migration 0011: a few candidates counted in the population usually settle the
ranking, so a large population is not grouped whole."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, func, null, select
from sqlalchemy.sql.elements import ColumnElement

from .models import StatsRespondent
from .stats_sql import COMPLAINTS

STATS_RESPONDENTS = StatsRespondent.__table__

TOP_RESPONDENTS = 20
# Respondents counted in the population per statement while ranking them.
CANDIDATES = 100


def top_respondents(
    connection: Connection, where: Sequence[ColumnElement], population: int
) -> list[tuple[str | None, int]]:
    """The most complained-about bodies as (spelling, complaints in the population), grouped
    by the normalised key that repeat detection uses, each shown with the spelling of its first
    complaint in the population (read along the respondent index of migration 0011)."""
    ranked = _ranking(connection, where, population)
    if not ranked:
        return []
    c = COMPLAINTS.c
    spellings = [
        select(c.respondent)
        .where(c.respondent_key == key, *where)
        .order_by(c.created_at)
        .limit(1)
        .scalar_subquery()
        for key, _ in ranked
    ]
    found = connection.execute(select(*spellings)).one()
    return [(spelling, count) for spelling, (_, count) in zip(found, ranked, strict=True)]


def _ranking(
    connection: Connection, where: Sequence[ColumnElement], population: int
) -> list[tuple[str, int]]:
    """(respondent key, complaints) of the population, the TOP_RESPONDENTS largest, ties by
    key. Candidates come from `stats_respondents`, most complaints overall first, and are
    counted in the population batch by batch until the next one's overall count is below the
    last place: nobody after it can reach it. When the candidates would hold more complaints
    than the population, grouping the population's own complaints is cheaper."""
    r = STATS_RESPONDENTS.c
    query = (
        select(r.respondent_key, r.received)
        .where(r.received > 0)
        .order_by(r.received.desc(), r.respondent_key)
    )
    if not where:
        return [(key, int(n)) for key, n in connection.execute(query.limit(TOP_RESPONDENTS))]
    ranked: list[tuple[str, int]] = []
    examined = offset = 0
    while True:
        batch = connection.execute(query.offset(offset).limit(CANDIDATES)).all()
        if len(ranked) == TOP_RESPONDENTS:
            batch = [row for row in batch if row.received >= ranked[-1][1]]
        if not batch:
            return ranked
        examined += sum(row.received for row in batch)
        if examined > population:
            return _ranking_from_rows(connection, where)
        ranked = _best([*ranked, *_counted(connection, where, [row[0] for row in batch])])
        offset += CANDIDATES


def _best(counts: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    ordered = sorted((pair for pair in counts if pair[1]), key=lambda pair: (-pair[1], pair[0]))
    return ordered[:TOP_RESPONDENTS]


def _counted(
    connection: Connection, where: Sequence[ColumnElement], keys: list[str]
) -> list[tuple[str, int]]:
    """Complaints of the population per respondent key among `keys`."""
    c = COMPLAINTS.c
    query = (
        select(c.respondent_key, func.count())
        .where(c.respondent_key.in_(keys), *where)
        .group_by(c.respondent_key)
    )
    return [(key, int(n)) for key, n in connection.execute(query)]


def _ranking_from_rows(
    connection: Connection, where: Sequence[ColumnElement]
) -> list[tuple[str, int]]:
    """The ranking grouped from the population's complaints, read first (the planner would
    rather walk the whole respondent index)."""
    c = COMPLAINTS.c
    population = (
        select(c.respondent_key)
        .where(*where, c.respondent_key.is_not(null()), c.respondent_key != "")
        .cte("population")
        .prefix_with("MATERIALIZED")
    )
    count = func.count().label("count")
    query = (
        select(population.c.respondent_key, count)
        .group_by(population.c.respondent_key)
        .order_by(count.desc(), population.c.respondent_key)
        .limit(TOP_RESPONDENTS)
    )
    return [(key, int(n)) for key, n in connection.execute(query)]
