"""Staff authentication over HTTP: the token flow, 401s, the login rate limit and its trail, and
accounts made with `complaints users add`."""

from __future__ import annotations

import io

import pytest

from api.cli import main
from api.users import Accounts, LoginRefused
from engine import Engine
from tests.conftest import new_engine
from tests.test_api_support import PASSWORD, Api, error_of, make_app, staff_api


@pytest.fixture
def api(engine: Engine, sqlite_url: str) -> Api:
    return staff_api(engine, sqlite_url)


def test_a_password_buys_a_bearer_token_that_opens_staff_endpoints(api: Api) -> None:
    answer = api.login("li.intake")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["token_type"] == "Bearer" and len(body["token"]) >= 40
    assert body["expires_at"] == "2026-03-02T13:00:00+00:00"  # twelve hours after START
    assert body["user"] == {
        "username": "li.intake",
        "display_name": "li.intake",
        "groups": ["intake"],
        "is_admin": False,
    }

    me = api.client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200 and me.get_json()["username"] == "li.intake"
    tasks = api.client.get("/api/tasks", headers={"Authorization": f"bearer {body['token']}"})
    assert tasks.status_code == 200


def test_usernames_are_matched_without_regard_to_case(api: Api) -> None:
    assert api.login("Li.Intake").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/tasks",
        "/api/tasks/some-task",
        "/api/instances",
        "/api/instances/1",
        "/api/instances/1/history",
        "/api/deployments",
        "/api/deployments/1/files/review.json",
        "/api/incidents",
        "/api/auth/me",
    ],
)
def test_staff_endpoints_without_a_token_answer_401_in_json(api: Api, path: str) -> None:
    answer = api.client.get(path)
    assert error_of(answer)[:2] == (401, "unauthorized")
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/tasks/some-task/claim"),
        ("post", "/api/tasks/some-task/unclaim"),
        ("post", "/api/tasks/some-task/assign"),
        ("post", "/api/tasks/some-task/complete"),
        ("post", "/api/deployments"),
        ("post", "/api/incidents/1/retry"),
        ("delete", "/api/auth/token"),
    ],
)
def test_staff_actions_without_a_token_answer_401(api: Api, method: str, path: str) -> None:
    answer = getattr(api.client, method)(path, json={})
    assert error_of(answer)[:2] == (401, "unauthorized")


@pytest.mark.parametrize(
    "header", ["Bearer not-a-token", "Bearer " + "x" * 500, "Basic bGk6cHc=", "Bearer", "token"]
)
def test_unknown_or_malformed_tokens_answer_401(api: Api, header: str) -> None:
    answer = api.client.get("/api/tasks", headers={"Authorization": header})
    assert error_of(answer)[0] == 401


def test_a_token_expires_after_twelve_hours(api: Api, clock) -> None:
    caller = api.as_("li.intake")
    clock.advance(hours=11, minutes=59)
    assert caller.get("/api/tasks").status_code == 200
    clock.advance(minutes=2)
    assert error_of(caller.get("/api/tasks"))[:2] == (401, "invalid_token")


def test_a_revoked_token_no_longer_works(api: Api) -> None:
    caller = api.as_("li.intake")
    assert caller.delete("/api/auth/token").status_code == 204
    assert error_of(caller.get("/api/tasks"))[:2] == (401, "invalid_token")


def test_wrong_password_and_unknown_user_get_the_same_401_and_are_audited(api: Api) -> None:
    wrong = api.login("li.intake", "not the password")
    unknown = api.login("nobody", "whatever it is")
    assert error_of(wrong)[:2] == error_of(unknown)[:2] == (401, "invalid_credentials")
    assert wrong.get_json()["message"] == unknown.get_json()["message"]

    trail = [
        (e["event"], e["username"], e["address"], e["detail"])
        for e in api.accounts.auth_events()
        if e["event"] == "login_failed"
    ]
    assert trail == [
        ("login_failed", "li.intake", "192.0.2.1", {"reason": "wrong_password"}),
        ("login_failed", "nobody", "192.0.2.1", {"reason": "unknown_user"}),
    ]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"not json", 400, None),
        (b"", 400, None),
        (b'["li.intake", "pw"]', 422, "body"),
        (b'"li.intake"', 422, "body"),
        (b'{"username": "li.intake"}', 422, "password"),
        (b'{"password": "x"}', 422, "username"),
        (b'{"username": 7, "password": "x"}', 422, "username"),
        (b'{"username": "li.intake", "password": ["x"]}', 422, "password"),
        (b"[" * 100_000, 400, None),
    ],
)
def test_token_requests_that_are_not_a_json_object_with_both_fields_are_refused(
    api: Api, body: bytes, status: int, field: str | None
) -> None:
    answer = api.client.post(
        "/api/auth/token", data=body, headers={"Content-Type": "application/json"}
    )
    got_status, _, fields = error_of(answer)
    assert got_status == status
    if field:
        assert field in fields


def test_five_failed_logins_lock_that_user_from_that_address_for_fifteen_minutes(
    api: Api, clock
) -> None:
    for _ in range(5):
        assert api.login("li.intake", "guess guess guess").status_code == 401
    locked = api.login("li.intake")  # even the right password is not tried now
    assert error_of(locked)[:2] == (429, "too_many_attempts")
    assert int(locked.headers["Retry-After"]) == 15 * 60

    assert api.login("li.intake", address="198.51.100.7").status_code == 200
    assert api.login("zhao.intake").status_code == 200

    clock.advance(minutes=14)
    assert api.login("li.intake").status_code == 429
    clock.advance(minutes=1, seconds=1)
    assert api.login("li.intake").status_code == 200

    events = [e["event"] for e in api.accounts.auth_events("li.intake")]
    assert events.count("login_failed") == 5
    assert events.count("login_throttled") == 2


def test_a_successful_login_starts_the_failure_count_afresh(api: Api) -> None:
    for _ in range(4):
        api.login("li.intake", "guess guess guess")
    assert api.login("li.intake").status_code == 200
    for _ in range(4):
        api.login("li.intake", "guess guess guess")
    assert api.login("li.intake").status_code == 200


# ------------------------------------------------------------ complaints users add


@pytest.fixture
def cli_db(engine: Engine, sqlite_url: str, monkeypatch) -> str:
    monkeypatch.setenv("COMPLAINTS_DATABASE_URL", sqlite_url)
    return sqlite_url


def test_users_add_prints_a_generated_password_once_and_it_logs_in(
    engine: Engine, cli_db: str, capsys
) -> None:
    assert main(["users", "add", "sun.bureau", "--group", "bureau:420102", "petition_office"]) == 0
    out = capsys.readouterr().out
    assert "created user sun.bureau (groups: bureau:420102, petition_office)" in out
    password = next(
        line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("password")
    )
    assert len(password) >= 20

    helper = Api(make_app(engine, cli_db), engine)
    answer = helper.login("sun.bureau", password)
    assert answer.status_code == 200
    assert answer.get_json()["user"]["groups"] == ["bureau:420102", "petition_office"]


def test_users_add_reads_the_password_from_stdin_and_makes_admins(
    engine: Engine, cli_db: str, capsys, monkeypatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a chosen admin password\n"))
    assert main(["users", "add", "root", "--admin", "--password-stdin"]) == 0
    out = capsys.readouterr().out
    assert "password" not in out.replace("--password", "")

    helper = Api(make_app(engine, cli_db), engine)
    answer = helper.login("root", "a chosen admin password")
    assert answer.get_json()["user"]["is_admin"] is True
    assert answer.get_json()["user"]["groups"] == ["admin"]


@pytest.mark.parametrize(
    ("argv", "stdin", "complaint"),
    [
        (["users", "add", "x.y", "--group", "intake", "nonsense"], "", "unknown group"),
        (["users", "add", "x.y", "--group", "bureau:42"], "", "unknown group"),
        (["users", "add", "x.y"], "", "at least one group"),
        (["users", "add", "x y", "--group", "intake"], "", "username"),
        (["users", "add", "x.y", "--group", "intake", "--password-stdin"], "short\n", "12"),
    ],
)
def test_users_add_refuses_bad_input_naming_it(
    cli_db: str, capsys, monkeypatch, argv: list[str], stdin: str, complaint: str
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert main(argv) == 2
    assert complaint in capsys.readouterr().err


def test_users_add_refuses_an_existing_name(cli_db: str, capsys) -> None:
    assert main(["users", "add", "twice", "--group", "intake"]) == 0
    assert main(["users", "add", "Twice", "--group", "leader"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_accounts_tokens_and_the_login_trail_work_on_postgresql(pg_url: str, calls, clock) -> None:
    engine = new_engine(pg_url, calls, clock)
    try:
        accounts = Accounts(engine.sql, now=engine.clock.now, max_failures=2)
        accounts.add_user("pg.user", ["intake", "bureau:420102"], password=PASSWORD)
        with pytest.raises(LoginRefused):
            accounts.login("pg.user", "wrong password!", "192.0.2.9")
        issued = accounts.login("pg.user", PASSWORD, "192.0.2.9")
        account = accounts.authenticate(issued.token)
        assert account is not None and account.groups == ("bureau:420102", "intake")
        assert account.actor().groups == {"intake", "bureau:420102"}
        assert [e["event"] for e in accounts.auth_events("pg.user")] == [
            "login_failed",
            "login_succeeded",
        ]
    finally:
        engine.close()
