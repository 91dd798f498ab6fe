"""Moving running instances from one deployed version to another. A dry run says, per instance,
whether every element it is at (and has passed) exists in the target; applying moves only those,
one transaction each, keeps their timers' due times and audits every move."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import spiff
from .audit_trail import audit
from .contracts import Actor
from .errors import InvalidData, NotFound
from .models import LARGEST_VERSION, Deployment, Instance, written

if TYPE_CHECKING:
    from .service import Engine


@dataclass(frozen=True)
class MigrationCheck:
    instance_id: int
    business_key: str | None
    active_elements: list[str]
    missing_active: list[str]
    missing_other: list[str]

    @property
    def movable(self) -> bool:
        return not self.missing_active and not self.missing_other


class InstanceMigration:
    """Engine operations for migrating instances; mixed into `Engine`."""

    def migration_plan(
        self: Engine, process_id: str, from_version: int, to_version: int
    ) -> list[MigrationCheck]:
        """The dry run: nothing is changed."""
        with self._transaction() as session:
            source, target = _versions(session, process_id, from_version, to_version)
            target_specs = self._process_specs(session, target)[process_id]
            rows = session.scalars(_running(process_id, source))
            return [_check(row, target_specs) for row in rows]

    def migrate_instances(
        self: Engine,
        process_id: str,
        from_version: int,
        to_version: int,
        actor: Actor,
        instance_ids: list[int] | None = None,
    ) -> list[MigrationCheck]:
        """Move every movable instance (or the listed ones); returns the checks of those moved.
        Each move is its own transaction and re-checks the instance as it is at that moment."""
        moved = []
        for check in self.migration_plan(process_id, from_version, to_version):
            if not check.movable or (instance_ids and check.instance_id not in instance_ids):
                continue
            with self._transaction() as session:
                source, target = _versions(session, process_id, from_version, to_version)
                row = session.get(Instance, check.instance_id)
                if row is None or row.deployment_id != source or row.status != "running":
                    continue
                target_specs = self._process_specs(session, target)[process_id]
                current = _check(row, target_specs)
                if not current.movable:
                    continue
                call = self._service_call(session, row)
                wf = spiff.Instance.restore(row.state, target_specs, call)
                # written by `_save`'s UPDATE with the state, not by the unit of work
                written(row, {"deployment_id": target})
                detail = {"from_version": from_version, "to_version": to_version}
                audit(
                    session,
                    self.clock.now(),
                    actor.id,
                    "instance_migrated",
                    instance=row,
                    detail={**detail, "active_elements": current.active_elements},
                )
                self._save(session, row, wf, actor)
                moved.append(current)
        return moved


def _versions(session: Session, process_id: str, *versions: int) -> list[int]:
    ids = []
    for version in versions:
        row = None
        if version <= LARGEST_VERSION:
            row = session.execute(
                select(Deployment.id, Deployment.process_ids).where(Deployment.version == version)
            ).first()
        if row is None:
            raise NotFound(f"deployment version {version} not found")
        if process_id not in row.process_ids:
            message = f"version {version} has no process '{process_id}'"
            raise InvalidData(message, {"process_id": [message]})
        ids.append(row.id)
    return ids


def _running(process_id: str, deployment_id: int):
    return (
        select(Instance)
        .where(
            Instance.process_id == process_id,
            Instance.deployment_id == deployment_id,
            Instance.status == "running",
        )
        .order_by(Instance.id)
    )


def _check(row: Instance, target: spiff.ProcessSpecs) -> MigrationCheck:
    missing_active, missing_other = spiff.spec_gaps(row.state, target)
    return MigrationCheck(
        instance_id=row.id,
        business_key=row.business_key,
        active_elements=spiff.active_elements(row.state),
        missing_active=missing_active,
        missing_other=missing_other,
    )
