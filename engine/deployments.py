"""Deployments: a validated bundle becomes a version, and a start finds the newest version of
its process and that version's specs and forms, each read once per process."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import spiff
from .audit_trail import audit
from .bundle import check_bundle, content_hash
from .contracts import Actor, DeploymentInfo, FormValidator, InstanceView
from .errors import NotFound
from .models import Deployment, DeploymentFile, Instance

if TYPE_CHECKING:
    from .service import Engine

NEWEST_DEPLOYMENT = select(func.max(Deployment.__table__.c.id))
_DEPLOYED_PROCESSES = select(
    Deployment.__table__.c.id, Deployment.__table__.c.process_ids
).order_by(Deployment.__table__.c.version)


class Deployments:
    """Engine operations on deployments; mixed into `Engine`."""

    def deploy(self: Engine, files: Mapping[str, bytes], actor: Actor) -> DeploymentInfo:
        """A bundle becomes a new version only if every check passes; identical content is the
        same version."""
        digest = content_hash(files)
        with self._transaction() as session:
            existing = session.scalar(select(Deployment).where(Deployment.content_hash == digest))
            if existing is not None:
                return self._deployment_info(session, existing, created=False)
        checked = check_bundle(files, set(self.handlers), self._compile_form)
        with self._transaction() as session:
            version = (session.scalar(select(func.max(Deployment.version))) or 0) + 1
            row = Deployment(
                version=version,
                content_hash=checked.content_hash,
                created_at=self.clock.now(),
                created_by=actor.id,
                process_ids=checked.parsed.process_ids,
                specs_json=checked.parsed.specs_json,
            )
            session.add(row)
            session.flush()
            session.add_all(
                DeploymentFile(deployment_id=row.id, name=n, kind=checked.kinds[n], content=c)
                for n, c in sorted(checked.files.items())
            )
            detail = {"version": version, "hash": digest, "files": sorted(files)}
            audit(session, row.created_at, actor.id, "deployed", detail=detail)
            info = self._deployment_info(session, row, created=True)
        self.start_periodic_processes()
        return info

    def start_periodic_processes(self: Engine) -> list[InstanceView]:
        """Start one instance of every deployed process that begins with a timer, unless one
        is running: it waits for its first due time and then repeats by its own cycle."""
        with self._transaction() as session:
            latest = self._latest_deployments(session)
            running = set(
                session.scalars(select(Instance.process_id).where(Instance.status == "running"))
            )
            due = [
                pid
                for pid, deployment_id in latest.items()
                if pid not in running
                and spiff.starts_on_timer(self._process_specs(session, deployment_id)[pid])
            ]
        scheduler = Actor.system_actor("scheduler")
        return [self.start(pid, {}, pid, scheduler) for pid in sorted(due)]

    def deployments(self: Engine) -> list[DeploymentInfo]:
        with self._transaction() as session:
            rows = session.scalars(select(Deployment).order_by(Deployment.version.desc()))
            return [self._deployment_info(session, row, created=False) for row in rows]

    def deployment_files(self: Engine, version: int) -> dict[str, bytes]:
        with self._transaction() as session:
            row = session.scalar(select(Deployment).where(Deployment.version == version))
            if row is None:
                raise NotFound(f"deployment version {version} not found")
            files = session.scalars(
                select(DeploymentFile).where(DeploymentFile.deployment_id == row.id)
            )
            return {f.name: f.content for f in files}

    def _deployment_info(
        self: Engine, session: Session, row: Deployment, created: bool
    ) -> DeploymentInfo:
        names = session.scalars(
            select(DeploymentFile.name).where(DeploymentFile.deployment_id == row.id)
        )
        return DeploymentInfo(
            id=row.id,
            version=row.version,
            content_hash=row.content_hash,
            process_ids=list(row.process_ids),
            created_at=row.created_at,
            created_by=row.created_by,
            files=sorted(names),
            created=created,
        )

    def _latest_deployment(
        self: Engine, session: Session, process_id: str
    ) -> tuple[int, int | None]:
        """For a start: the newest deployment holding the process as this engine last saw the
        deployments, and the newest deployment's id then. A known process costs no statement:
        the start checks that id when it stores its instance (`_store_new`)."""
        with self._lock:
            found, newest = self._latest.get(process_id), self._newest_deployment
        if found is None:
            found = self._latest_deployments(session).get(process_id)
            newest = self._newest_deployment
        if found is None:
            raise NotFound(f"process '{process_id}' is not deployed")
        return found, newest

    def _latest_deployments(self: Engine, session: Session) -> dict[str, int]:
        """Process id -> the newest deployment holding it, as the database has it now."""
        newest = session.connection().execute(NEWEST_DEPLOYMENT).scalar()
        return self._deployments_as_of(session, newest)

    def _deployments_as_of(self: Engine, session: Session, newest: int | None) -> dict[str, int]:
        """Which deployment is a process's newest changes only when a deployment is added,
        here or by another process sharing the database: the processes of all deployments
        are read again only when the newest deployment's id moved."""
        with self._lock:
            if newest != self._newest_deployment:
                latest: dict[str, int] = {}
                for deployment_id, process_ids in session.connection().execute(_DEPLOYED_PROCESSES):
                    latest.update(dict.fromkeys(process_ids, deployment_id))
                self._latest, self._newest_deployment = latest, newest
            return self._latest

    def _process_specs(
        self: Engine, session: Session, deployment_id: int
    ) -> dict[str, spiff.ProcessSpecs]:
        """Specs are restored once per deployment and shared by every instance of it."""
        specs = self._specs.get(deployment_id)
        if specs is None:
            specs_json = session.scalar(
                select(Deployment.specs_json).where(Deployment.id == deployment_id)
            )
            specs = self._specs[deployment_id] = spiff.load_specs(specs_json)
        return specs

    def _form(
        self: Engine, session: Session, deployment_id: int, form_key: str
    ) -> FormValidator | None:
        if self._compile_form is None:
            return None
        key = (deployment_id, form_key)
        if key not in self._forms:
            content = session.scalar(
                select(DeploymentFile.content).where(
                    DeploymentFile.deployment_id == deployment_id,
                    DeploymentFile.name.in_([f"{form_key}.json", f"forms/{form_key}.json"]),
                )
            )
            if content is None:
                raise NotFound(f"form '{form_key}' is not part of the deployment")
            self._forms[key] = self._compile_form(form_key, content)
        return self._forms[key]
