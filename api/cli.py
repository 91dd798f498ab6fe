"""The `complaints` command: database, deployments, validation, web server and timer worker."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

from engine import Actor, BundleInvalid
from engine.bundle import check_bundle

from .composition import build_engine, bundle_files, compile_form, handler_table
from .settings import ROOT, Settings
from .users import AccountError, Accounts, generate_password


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for noisy in ("apscheduler", "spiff", "alembic"):  # a line per tick, task state or revision
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return args.run(args, Settings.from_env())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="complaints", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    init = commands.add_parser("init-db", help="create or upgrade the database schema")
    init.set_defaults(run=_init_db)

    deploy = commands.add_parser("deploy", help="deploy the processes and forms as a new version")
    deploy.add_argument("directory", nargs="?", type=Path, help="folder with .bpmn/.dmn files")
    deploy.set_defaults(run=_deploy)

    validate = commands.add_parser("validate", help="check files as deploy would, store nothing")
    validate.add_argument("files", nargs="+", type=Path)
    validate.set_defaults(run=_validate)

    serve = commands.add_parser("serve", help="web server (gunicorn) plus one timer worker")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5000)
    serve.add_argument("--workers", type=int, default=2)
    serve.set_defaults(run=_serve)

    demo = commands.add_parser("demo", help="demo users of every group and sample complaints")
    demo.set_defaults(run=_demo)

    worker = commands.add_parser("worker", help="timer worker only")
    worker.set_defaults(run=_worker)

    users = commands.add_parser("users", help="staff accounts")
    user_commands = users.add_subparsers(required=True, metavar="ACTION")
    add = user_commands.add_parser("add", help="create a staff account")
    add.add_argument("name")
    add.add_argument("--group", dest="groups", action="extend", nargs="+", default=[], metavar="G")
    add.add_argument("--admin", action="store_true", help="administrator (also group admin)")
    add.add_argument("--display-name")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    add.set_defaults(run=_users_add)
    return parser


def _init_db(_args: argparse.Namespace, settings: Settings) -> int:
    engine = build_engine(settings)
    engine.create_schema()
    print(f"database ready: {engine.sql.url.render_as_string(hide_password=True)}")
    return 0


def _deploy(args: argparse.Namespace, settings: Settings) -> int:
    directory = args.directory or settings.processes_dir
    files = bundle_files(directory, settings.forms_dir)
    engine = build_engine(settings)
    try:
        info = engine.deploy(files, Actor.system_actor("cli"))
    except BundleInvalid as err:
        return _report(err)
    state = "deployed" if info.created else "unchanged, already"
    print(
        f"{state} version {info.version} ({info.content_hash[:12]}): {', '.join(info.process_ids)}"
    )
    return 0


def _validate(args: argparse.Namespace, settings: Settings) -> int:
    """Validate the named files together with the deployed forms folder, without a database."""
    files = {p.name: p.read_bytes() for p in args.files}
    for name, content in bundle_files(settings.forms_dir).items():
        files.setdefault(name, content)
    try:
        check_bundle(files, set(handler_table()), compile_form)
    except BundleInvalid as err:
        return _report(err)
    print(f"valid: {', '.join(str(p) for p in args.files)}")
    return 0


def _report(err: BundleInvalid) -> int:
    for problem in err.problems:
        print(problem, file=sys.stderr)
    return 1


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    """gunicorn for the web workers and one timer worker process beside them. Every web worker
    must sign sessions with the same key: without COMPLAINTS_SECRET_KEY one is kept in var/."""
    if not settings.secret_key:
        os.environ["COMPLAINTS_SECRET_KEY"] = _stored_secret(ROOT / "var" / "secret_key")
    worker = subprocess.Popen([sys.executable, "-m", "api.cli", "worker"])
    try:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"{args.host}:{args.port}",
            "--workers",
            str(args.workers),
            "api:create_app()",
        ]
        return subprocess.call(command)
    finally:
        worker.terminate()
        worker.wait(timeout=10)


def _stored_secret(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


def _worker(_args: argparse.Namespace, settings: Settings) -> int:
    from .worker import run_forever

    engine = build_engine(settings)
    run_forever(
        engine, settings.timer_interval_seconds, settings.timer_batch, settings.timer_threads
    )
    return 0


def _demo(_args: argparse.Namespace, settings: Settings) -> int:
    from .demo import create_demo

    engine = build_engine(settings)
    try:
        engine.create_schema()
        for line in create_demo(engine, Accounts(engine.sql)):
            print(line)
    finally:
        engine.close()
    return 0


def _users_add(args: argparse.Namespace, settings: Settings) -> int:
    """Without --password-stdin a strong password is generated and printed this once."""
    generated = not args.password_stdin
    password = generate_password() if generated else sys.stdin.read().rstrip("\r\n")
    engine = build_engine(settings)
    try:
        engine.create_schema()
        account = Accounts(engine.sql).add_user(
            args.name,
            args.groups,
            password=password,
            display_name=args.display_name,
            admin=args.admin,
        )
    except AccountError as err:
        print(f"users add: {err}", file=sys.stderr)
        return 2
    finally:
        engine.close()
    admin = "; administrator" if account.is_admin else ""
    print(f"created user {account.username} (groups: {', '.join(account.groups)}{admin})")
    if generated:
        print(f"password (shown only now): {password}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
