"""The production kit, as far as a machine with no Docker engine can check it: the Dockerfile, docker-compose.yml,
docker-compose.postgres.yml and the systemd units parsed, every command line in them (shell loops' too) parsed by
the real `ingest` CLI, the volumes and environment lined up, the compose file's shell loops run with a stand-in
`ingest`, and the image's command run directly (entry point included) against a loopback outlet."""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest
import yaml
from conftest import Site, article_html, query, rss, send

from ingest.cli import ON_POSTGRES, PG_SCHEMES, cli

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UA = "ingest-test/1.0 (+https://example.org/contact)"
STORY = "/news/2026/06/01/council-budget"
LOREM = ("Members of the council agreed that spending on schools, roads and the water supply would rise "
         "in the coming year while administrative costs would fall by a tenth.")


def ingest_command(argv: list[str]) -> click.Context:
    """Parse `ingest [global options] COMMAND [options]` as the CLI would: an unknown command or option, or a bad
    value, raises click's UsageError."""
    assert argv[0] == "ingest", argv
    at = next((i for i, arg in enumerate(argv) if i and arg in cli.commands), None)
    assert at is not None, f"no ingest command in {argv}"
    parent = cli.make_context("ingest", argv[1:at + 1])
    return cli.commands[argv[at]].make_context(argv[at], argv[at + 1:], parent=parent)


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions: (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip().removesuffix("\\") + " " if line.rstrip().endswith("\\") else line.strip()
        if not line.rstrip().endswith("\\"):
            name, _, args = pending.strip().partition(" ")
            instructions.append((name.upper(), args.strip()))
            pending = ""
    return instructions


def one(name: str) -> str:
    found = [args for instr, args in dockerfile() if instr == name]
    assert len(found) == 1, f"{name}: {found}"
    return found[0]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for instr, args in dockerfile():
        if instr == "ENV":
            env.update(pair.split("=", 1) for pair in shlex.split(args))
    return env


def volume() -> str:
    (path,) = json.loads(one("VOLUME"))
    return str(path)


def compose() -> dict[str, dict[str, object]]:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]
    assert isinstance(services, dict)
    return services


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((DEPLOY / name).read_text(encoding="utf-8"))
    return parser


def unit_env(parser: configparser.ConfigParser) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in shlex.split(parser["Service"]["Environment"]))


# --- the Dockerfile -------------------------------------------------------------------------------

def test_the_image_runs_the_daemon_as_a_non_root_user_with_a_health_check() -> None:
    assert json.loads(one("CMD")) == ["ingest", "run"]
    ingest_command(json.loads(one("CMD")))
    user = one("USER")
    assert user not in ("root", "0")
    assert not user.startswith(("root:", "0:"))
    assert any(instr == "RUN" and "useradd" in args and f" {user}" in args for instr, args in dockerfile())
    options, _, check = one("HEALTHCHECK").partition("CMD ")
    assert "--start-period=" in options
    argv = shlex.split(check.split("||")[0])
    assert argv == ["ingest", "health"]
    ingest_command(argv)
    assert one("STOPSIGNAL") == "SIGTERM"


def test_the_image_keeps_config_and_database_in_the_volume() -> None:
    env, data = image_env(), volume()
    assert env["INGEST_CONFIG"] == f"{data}/sources.toml"
    assert env["INGEST_DB"].startswith(f"{data}/")
    workdirs = [args for instr, args in dockerfile() if instr == "WORKDIR"]
    assert workdirs[-1] == data  # where the daemon runs: relative paths land in the volume
    # What the image copies exists, and the build context does not leave it out.
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    for instr, args in dockerfile():
        if instr == "COPY":
            *sources, _ = args.split()
            for source in sources:
                assert (ROOT / source).exists(), source
                assert source.split("/")[0] not in ignored, source
    copied = {Path(args.split()[-1]).name: args.split()[0] for i, args in dockerfile() if i == "COPY"}
    (entry,) = json.loads(one("ENTRYPOINT"))
    assert copied[entry] == "deploy/docker-entrypoint.sh"
    # The shipped sources.toml, copied into the first WORKDIR: where the entry point seeds an empty volume from.
    assert "sources.toml" in next(args for instr, args in dockerfile() if instr == "COPY").split()[:-1]
    assert env["INGEST_SHIPPED_CONFIG"] == f"{workdirs[0]}/sources.toml"


# --- docker-compose.yml ---------------------------------------------------------------------------

def test_compose_runs_the_daemon_and_datasette_on_one_volume() -> None:
    services, env, data = compose(), image_env(), volume()
    assert set(services) == {"ingest", "datasette"}
    commands = {}
    for name, service in services.items():
        command = service["command"]
        assert isinstance(command, list)
        commands[name] = ingest_command([str(c) for c in command])
        assert service["volumes"] == [f"data:{data}"], name  # read-write: WAL readers need the -shm file
        for key, value in (service.get("environment") or {}).items():
            assert env[key] == value, (name, key)
        assert service["restart"] in ("always", "unless-stopped", "on-failure"), name
    assert commands["ingest"].info_name == "run"
    serve = commands["datasette"]
    assert serve.info_name == "serve"
    assert serve.params["host"] == "0.0.0.0"
    ports = services["datasette"]["ports"]
    assert isinstance(ports, list)
    assert [str(p).rsplit(":", 1)[-1] for p in ports] == [str(serve.params["port"])]
    assert "data" in yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["volumes"]


def test_a_bad_command_line_would_be_caught() -> None:
    """The check above can fail: click refuses what `ingest` would refuse."""
    for argv in (["ingest", "serve", "--hots", "0.0.0.0"], ["ingest", "serve", "--port", "http"],
                 ["ingest", "runn"], ["ingest", "health", "--max-lag", "soon"]):
        with pytest.raises((click.UsageError, AssertionError)):
            ingest_command(argv)


# --- docker-compose.postgres.yml: several machines' worth on PostgreSQL --------------------------------------

PG_COMPOSE = ROOT / "docker-compose.postgres.yml"
INGEST_SERVICES = ("scheduler", "worker", "publisher", "datasette")
SHELL_KEYWORDS = {"do", "then", "else", "elif", "!", "{", "}"}


def pg_compose_file() -> dict[str, object]:
    loaded = yaml.safe_load(PG_COMPOSE.read_text(encoding="utf-8"))  # PyYAML resolves the `<<: *ingest` merges
    assert isinstance(loaded, dict)
    return loaded


def pg_services() -> dict[str, dict[str, object]]:
    services = pg_compose_file()["services"]
    assert isinstance(services, dict)
    return services


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose's interpolation of a value: ${NAME:-default} (unset or empty), ${NAME-default} (unset), ${NAME},
    $NAME; $$ is a literal $. A variable that is neither in `env` nor given a default is an error here."""
    env = env or {}

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        if match.group(3) is not None:  # a default
            empty_counts = match.group(2) == ":-"
            return env[name] if name in env and (env[name] or not empty_counts) else match.group(3)
        assert name in env, f"${name} has no default: compose would substitute an empty string"
        return env[name]

    return re.sub(r"\$\$|\$\{(\w+)(?:(:?-)([^}]*))?\}|\$(\w+)", one, value)


def shell_commands(script: str) -> list[list[str]]:
    """The `ingest ...` commands of a `sh -c` script (interpolated already), one simple command per list: each
    line split as the shell splits words, cut at ; & && | || and the like, keywords such as `do` dropped."""
    found: list[list[str]] = []
    for line in script.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words: list[str] = []
        for token in [*lexer, ";"]:
            if token and set(token) <= set(";&|()<>"):
                while words and words[0] in SHELL_KEYWORDS:
                    words.pop(0)
                if words and words[0] == "ingest":
                    found.append(words)
                words = []
            else:
                words.append(token)
    return found


def service_commands(service: dict[str, object], env: dict[str, str] | None = None) -> list[list[str]]:
    command = service["command"]
    assert isinstance(command, list)
    argv = [interpolate(str(c), env) for c in command]
    if argv[0] == "ingest":
        return [argv]
    assert argv[:2] == ["sh", "-c"], argv
    assert len(argv) == 3, argv
    return shell_commands(argv[2])


def service_env(service: dict[str, object], env: dict[str, str] | None = None) -> dict[str, str]:
    """What the container's process sees: the image's ENV, then the service's environment."""
    given = service.get("environment") or {}
    assert isinstance(given, dict)
    return {**image_env(), **{k: interpolate(str(v), env) for k, v in given.items()}}


def resolve(argv: list[str], environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> click.Context:
    """`ingest_command` with the container's environment in place of ours (click reads INGEST_DB and the rest)."""
    for param in cli.params:
        for name in [param.envvar] if isinstance(param.envvar, str) else param.envvar or []:
            monkeypatch.delenv(name, raising=False)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    return ingest_command(argv)


def the_command(name: str, monkeypatch: pytest.MonkeyPatch) -> click.Context:
    service = pg_services()[name]
    commands = service_commands(service)
    assert len(commands) == 1, (name, commands)
    return resolve(commands[0], service_env(service), monkeypatch)


def mounts(service: dict[str, object]) -> dict[str, str]:
    """Named volume → where the service mounts it (with :ro when read-only)."""
    volumes = service.get("volumes") or []
    assert isinstance(volumes, list)
    found = {}
    for spec in volumes:
        source, _, target = str(spec).partition(":")
        found[source] = target
    return found


def seconds(duration: object) -> float:
    match = re.fullmatch(r"(\d+)(s|m)", str(duration))
    assert match, duration
    return int(match.group(1)) * (60 if match.group(2) == "m" else 1)


@pytest.mark.parametrize("name", INGEST_SERVICES)
def test_each_postgres_compose_command_is_a_real_ingest_command_on_its_database(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each service's command line (the `ingest` line inside a shell loop too) is parsed by the real CLI with the
    container's environment, and a command given a PostgreSQL archive is one that runs on it (cli.ON_POSTGRES)."""
    context = the_command(name, monkeypatch)
    expected = {"scheduler": "run", "worker": "worker", "publisher": "publish", "datasette": "serve"}
    assert context.info_name == expected[name]
    db = context.parent.params["db"] if context.parent else None
    if name == "datasette":
        assert isinstance(db, Path)  # Datasette reads SQLite: the published file
    else:
        assert isinstance(db, str)
        assert db.split(":", 1)[0] in PG_SCHEMES
        assert context.info_name in ON_POSTGRES, f"`ingest {context.info_name}` does not run on PostgreSQL"


def test_the_scheduler_workers_and_publisher_use_the_postgres_services_database() -> None:
    services = pg_services()
    postgres = services["postgres"]
    urls = set()
    for env in ({}, {"POSTGRES_PASSWORD": "s3cret"}):  # the default, and a password from .env
        pg_env = service_env(postgres, env)
        for name in ("scheduler", "worker", "publisher"):
            url = service_env(services[name], env)["INGEST_DB"]
            urls.add(url)
            assert url == (f"postgresql://{pg_env['POSTGRES_USER']}:{pg_env['POSTGRES_PASSWORD']}@postgres:5432/"
                           f"{pg_env['POSTGRES_DB']}"), name
    assert len(urls) == 2  # the password really comes from the environment
    raw = postgres["environment"]
    assert isinstance(raw, dict)
    assert str(raw["POSTGRES_PASSWORD"]).startswith("${POSTGRES_PASSWORD:-")
    assert "CHANGE ME" in PG_COMPOSE.read_text(encoding="utf-8")
    for ignore in (".gitignore", ".dockerignore"):  # the .env with the password: not committed, not in the image
        assert ".env" in (ROOT / ignore).read_text(encoding="utf-8").split(), ignore


def test_postgres_keeps_its_data_in_a_named_volume_and_ingest_waits_until_it_is_ready() -> None:
    services, top = pg_services(), pg_compose_file()
    postgres = services["postgres"]
    assert str(postgres["image"]).split(":")[0] == "postgres"  # the official image
    assert mounts(postgres) == {"pgdata": "/var/lib/postgresql/data"}
    volumes = top["volumes"]
    assert isinstance(volumes, dict)
    assert "pgdata" in volumes
    check = postgres["healthcheck"]
    assert isinstance(check, dict)
    test = [str(word) for word in check["test"]]
    assert test[0] == "CMD"
    assert test[1] == "pg_isready"
    env = service_env(postgres)
    options = dict(zip(test[2::2], test[3::2], strict=True))
    assert options["-U"] == env["POSTGRES_USER"]
    assert options["-d"] == env["POSTGRES_DB"]
    assert options["-h"] == "127.0.0.1"  # TCP: the image's first-start server listens on the socket only
    for name in ("scheduler", "worker", "publisher"):
        depends = services[name]["depends_on"]
        assert isinstance(depends, dict)
        assert depends["postgres"] == {"condition": "service_healthy"}, name
    assert postgres["restart"] == "unless-stopped"


def test_the_postgres_compose_services_set_only_variables_ingest_reads() -> None:
    known = {name for param in cli.params
             for name in ([param.envvar] if isinstance(param.envvar, str) else param.envvar or [])}
    known |= set(image_env())
    assert {"INGEST_DB", "INGEST_CONFIG", "INGEST_LOG_JSON"} <= known
    for name in INGEST_SERVICES:
        service = pg_services()[name]
        given = service.get("environment") or {}
        assert isinstance(given, dict)
        assert set(given) <= known, (name, set(given) - known)
        env = service_env(service)
        assert env["INGEST_CONFIG"] == image_env()["INGEST_CONFIG"]  # in the volume, seeded by the entry point
        assert service["image"] == "ingest:latest"
        assert service["build"] == "."
        assert service["init"] is True
        assert service["restart"] == "unless-stopped", name


def test_the_workers_scale_and_drain(monkeypatch: pytest.MonkeyPatch) -> None:
    worker = pg_services()["worker"]
    deploy = worker["deploy"]
    assert isinstance(deploy, dict)
    assert deploy["replicas"] >= 2
    for fixed in ("container_name", "ports", "hostname"):  # each would stop `--scale worker=3`
        assert fixed not in worker, fixed
    assert seconds(worker["stop_grace_period"]) > 10  # SIGTERM drains within 10 s
    assert the_command("worker", monkeypatch).params["concurrency"] >= 1
    scheduler = pg_services()["scheduler"]
    assert (scheduler.get("deploy") or {}).get("replicas", 1) == 1
    assert seconds(scheduler["stop_grace_period"]) > 10


def test_the_scheduler_and_the_workers_share_the_raw_pages_and_the_config() -> None:
    """One named volume at the image's volume and working directory: sources.toml and every relative path (the
    raw pages' folder included) are the same files in the scheduler, each worker and the publisher."""
    services, data = pg_services(), volume()
    workdir = [args for instr, args in dockerfile() if instr == "WORKDIR"][-1]
    assert workdir == data
    volumes = pg_compose_file()["volumes"]
    assert isinstance(volumes, dict)
    for name in ("scheduler", "worker", "publisher"):
        found = mounts(services[name])
        assert found["data"] == data, name  # read-write: the workers append to the WARC files
        assert "data" in volumes
        assert service_env(services[name])["INGEST_CONFIG"].startswith(f"{data}/")


def test_datasette_serves_what_the_publisher_writes_on_loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    services = pg_services()
    publish = the_command("publisher", monkeypatch)
    serve = the_command("datasette", monkeypatch)
    assert publish.params["force"] is True  # each round replaces the last snapshot
    target = publish.params["target"]
    assert serve.parent is not None
    assert serve.parent.params["db"] == target
    assert mounts(services["publisher"])["published"] == str(target.parent)
    assert mounts(services["datasette"])["published"] == f"{target.parent}:ro"
    assert "published" not in mounts(services["scheduler"])
    # The folder exists in the image, owned by the image's user: a new named volume copies it, owner included.
    user = one("USER")
    assert any(instr == "RUN" and f"mkdir -p /data/db {target.parent}" in args and f"chown -R {user}:{user} /data "
               f"{target.parent}" in args for instr, args in dockerfile())
    assert serve.params["host"] == "0.0.0.0"
    ports = [str(p) for p in services["datasette"]["ports"]]
    assert ports == [f"127.0.0.1:{serve.params['port']}:{serve.params['port']}"]
    for name, service in services.items():  # PostgreSQL's port too: this machine only
        for port in service.get("ports") or []:
            assert str(port).startswith("127.0.0.1:"), (name, port)
    depends = services["datasette"]["depends_on"]
    assert "publisher" in depends


def test_the_image_installs_the_postgres_extra() -> None:
    installs = [args for instr, args in dockerfile() if instr == "RUN" and "pip install" in args]
    assert len(installs) == 1
    assert ".[postgres]" in shlex.split(installs[0])
    import tomllib
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    names = {re.split(r"[\[<>=]", requirement)[0] for requirement in extras["postgres"]}
    assert {"psycopg", "procrastinate"} <= names


def test_the_compose_files_do_not_share_a_project() -> None:
    """Both files sit in the repository's root: their own `name:` keeps their volumes (both have `data`) apart."""
    single = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert "name" not in single
    assert pg_compose_file()["name"] not in (None, ROOT.name, "ingest")


def fake_ingest(tmp_path: Path) -> tuple[Path, Path]:
    """A `sh` stand-in for `ingest` that logs `<pid> <args>` when it starts and `<pid> stopped` on SIGTERM."""
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    (bin_dir / "ingest").write_text(f"""#!/bin/sh
echo "$$ $*" >> {log}
trap 'echo "$$ stopped" >> {log}; exit 0' TERM
while :; do sleep 0.05; done
""", encoding="utf-8")
    (bin_dir / "ingest").chmod(0o755)
    return bin_dir, log


def wait_for(predicate: Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_datasette_is_restarted_on_each_new_snapshot(tmp_path: Path) -> None:
    """The datasette service's loop, run by sh here (its folder and poll interval shortened, `ingest` a stand-in):
    serve starts once the file exists; a snapshot renamed into place stops it and starts it again, on the new
    file; SIGTERM stops serve and the loop, exit 0."""
    (script,) = [interpolate(str(c)) for c in pg_services()["datasette"]["command"]][2:]
    assert "sleep 10 " in script
    published = tmp_path / "published"
    published.mkdir()
    script = script.replace("/published", str(published))
    script = script.replace("sleep 10 ", "sleep 0.2 ").replace("sleep 5;", "sleep 0.1;")
    bin_dir, log = fake_ingest(tmp_path)

    def calls() -> list[list[str]]:
        return [line.split() for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []

    proc = subprocess.Popen(["sh", "-c", script], env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    stderr = ""
    try:
        time.sleep(0.5)
        assert calls() == []  # no snapshot yet: nothing served
        (published / "news.db").write_bytes(b"first")
        wait_for(lambda: len(calls()) == 1)
        first = calls()[0]
        assert first[1:] == ["--db", f"{published}/news.db", "serve", "--host", "0.0.0.0", "--port", "8001"]
        time.sleep(0.6)
        (published / "news.db").write_bytes(b"first, appended")  # the same file: no restart
        time.sleep(0.6)
        assert len(calls()) == 1
        new = published / ".news.db.x.partial"
        new.write_bytes(b"second")
        os.replace(new, published / "news.db")  # what publish does
        wait_for(lambda: len(calls()) == 3)
        assert calls()[1] == [first[0], "stopped"]
        second = calls()[2]
        assert second[0] != first[0]
        assert second[1:] == first[1:]
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:  # the loop and its stand-in `ingest` (which holds the stderr pipe) with it
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 0, stderr
    assert calls()[3:] == [[second[0], "stopped"]]


def test_the_publisher_removes_a_killed_publishs_leftover_and_stops_on_sigterm(tmp_path: Path) -> None:
    (script,) = [interpolate(str(c)) for c in pg_services()["publisher"]["command"]][2:]
    published = tmp_path / "published"
    published.mkdir()
    leftover = published / ".news.db.abc123.partial"
    leftover.write_bytes(b"cut short")
    script = script.replace("/published", str(published))
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    (bin_dir / "ingest").write_text(f'#!/bin/sh\necho "$*" >> {log}\n', encoding="utf-8")
    (bin_dir / "ingest").chmod(0o755)
    proc = subprocess.Popen(["sh", "-c", script], env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
                            start_new_session=True)
    try:
        wait_for(log.exists)
        assert log.read_text(encoding="utf-8") == f"publish --to {published}/news.db --force\n"
        assert not leftover.exists()
        proc.send_signal(signal.SIGTERM)  # during the sleep between two rounds
        proc.wait(timeout=10)
    finally:
        with contextlib.suppress(ProcessLookupError):  # the loop's `sleep 300`, left behind as in a container
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == 0


def test_the_docs_start_the_postgres_compose_file_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    """README's "Running on several machines" comes after the production section, names this file and links
    docs/several-machines.md, which names this file and its services, and each `ingest` line of its ```sh blocks
    parses."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.index("\n## Running in production\n") < readme.index("\n## Running on several machines\n")
    summary = readme.split("\n## Running on several machines\n", 1)[1].split("\n## ", 1)[0]
    assert PG_COMPOSE.name in summary
    assert "(docs/several-machines.md)" in summary
    section = (ROOT / "docs" / "several-machines.md").read_text(encoding="utf-8")
    assert f"docker compose -f {PG_COMPOSE.name} up -d --build --scale worker=3" in section
    for name in pg_services():
        assert f"`{name}`" in section, name
    blocks = re.findall(r"^```sh\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    lines = [line.split("  #")[0] for block in blocks for line in block.splitlines() if line.startswith("ingest ")]
    assert lines
    monkeypatch.delenv("INGEST_DB", raising=False)
    for line in lines:
        context = ingest_command(shlex.split(line))
        assert context.parent is not None
        if isinstance(context.parent.params["db"], str):
            assert context.info_name in ON_POSTGRES, line


def test_a_bad_compose_command_would_be_caught() -> None:
    """The extraction above finds the `ingest` lines of a shell loop, and click refuses what ingest would."""
    script = "trap 'exit 0' TERM\nwhile :; do\n  ingest publish --to /p/n.db --forse || echo failed >&2\ndone\n"
    (argv,) = shell_commands(script)
    assert argv == ["ingest", "publish", "--to", "/p/n.db", "--forse"]
    with pytest.raises(click.UsageError):
        ingest_command(argv)
    assert shell_commands("until [ -e x ]; do sleep 5; done\nx=1; ingest run & pid=$!\n") == [["ingest", "run"]]
    assert interpolate("a$${b}${C:-d}${E-f}", {"C": "", "E": ""}) == "a${b}d"
    with pytest.raises(AssertionError):
        interpolate("${NOPE}")


# --- systemd --------------------------------------------------------------------------------------

def test_the_systemd_unit_restarts_the_daemon_as_its_own_user() -> None:
    service = unit("ingest.service")["Service"]
    argv = shlex.split(service["ExecStart"])
    assert Path(argv[0]).name == "ingest"
    assert Path(argv[0]).is_absolute()
    assert ingest_command(["ingest", *argv[1:]]).info_name == "run"
    assert service["Restart"] in ("on-failure", "always")
    assert service["RestartPreventExitStatus"] == "2"  # bad config or a damaged database: restarting won't help
    assert service["User"] not in ("root", "0")
    env = unit_env(unit("ingest.service"))
    assert env["INGEST_DB"].startswith(service["WorkingDirectory"] + "/")
    assert service["WorkingDirectory"] == f"/var/lib/{service['StateDirectory']}"
    assert service["WorkingDirectory"] in service["ReadWritePaths"].split()
    assert Path(env["INGEST_CONFIG"]).name == "sources.toml"
    assert unit("ingest.service")["Install"]["WantedBy"] == "multi-user.target"


def test_a_timer_runs_ingest_health_with_the_daemons_environment() -> None:
    health = unit("ingest-health.service")
    argv = shlex.split(health["Service"]["ExecStart"])
    assert ingest_command(["ingest", *argv[1:]]).info_name == "health"
    assert health["Service"]["Type"] == "oneshot"
    assert unit_env(health) == unit_env(unit("ingest.service"))
    assert health["Service"]["User"] == unit("ingest.service")["Service"]["User"]
    timer = unit("ingest-health.timer")["Timer"]
    assert timer["OnUnitActiveSec"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_itself_accepts_the_units(tmp_path: Path) -> None:
    for name in ("ingest.service", "ingest-health.service", "ingest-health.timer"):
        text = (DEPLOY / name).read_text(encoding="utf-8")
        # verify wants ExecStart's program to exist: the one installed here stands in for /opt/ingest/bin/ingest
        (tmp_path / name).write_text(text.replace("/opt/ingest/bin/ingest", f"{sys.executable} -m ingest"),
                                     encoding="utf-8")
    done = subprocess.run(["systemd-analyze", "verify", *(f"./{n}" for n in sorted(os.listdir(tmp_path)))],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


# --- the image's command, run directly ------------------------------------------------------------

@pytest.fixture
def outlet() -> Iterator[Site]:
    story = article_html("Council budget", [f"Paragraph {i}. {LOREM}" for i in range(4)]).encode()
    site = Site({"/robots.txt": lambda h: send(h, 200, b"User-agent: *\nAllow: /\n", "text/plain"),
                 STORY: lambda h: send(h, 200, story)})
    site.routes["/feed.xml"] = lambda h: send(h, 200, rss([site.url(STORY)]), "application/rss+xml")
    yield site
    site.close()


def loopback_config(site: Site) -> str:
    return "\n".join(["[settings]", f'user_agent = "{UA}"', "per_host_delay = 0", "max_retries = 0",
                      "[sources.local]", f'feeds = ["{site.url("/feed.xml")}"]', 'interval = "1m"']) + "\n"


@pytest.mark.parametrize("config_in_volume", [True, False])
def test_the_images_command_runs_the_daemon_on_the_volume(config_in_volume: bool, tmp_path: Path,
                                                         outlet: Site) -> None:
    """ENTRYPOINT + CMD with the image's environment, /data and /app mapped to folders here: the daemon reads
    sources.toml from the volume (seeded from the shipped one when missing), writes the database there, answers
    SIGTERM with exit 0, and the HEALTHCHECK's command passes."""
    data, app = tmp_path / "data", tmp_path / "app"
    data.mkdir()
    app.mkdir()
    (data if config_in_volume else app).joinpath("sources.toml").write_text(loopback_config(outlet), encoding="utf-8")
    if config_in_volume:  # the shipped file would name the real outlets: it must not be used
        shutil.copy(ROOT / "sources.toml", app / "sources.toml")
    workdir = [args for instr, args in dockerfile() if instr == "WORKDIR"]

    def mapped(value: str) -> str:
        return value.replace(volume(), str(data), 1).replace(workdir[0], str(app), 1)

    env = {**os.environ, **{k: mapped(v) for k, v in image_env().items()}}
    (entry,) = json.loads(one("ENTRYPOINT"))
    command = json.loads(one("CMD"))
    assert (entry, command[0]) == ("ingest-entrypoint", "ingest")
    argv = ["sh", str(DEPLOY / "docker-entrypoint.sh"), sys.executable, "-m", "ingest", *command[1:]]
    proc = subprocess.Popen(argv, env=env, cwd=mapped(workdir[-1]), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    db = Path(env["INGEST_DB"])
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if query(db, "SELECT count(*) FROM runs WHERE status = 'ok'")[0][0]:
                    break
            except sqlite3.Error:  # not made yet
                pass
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr[-3000:]
    assert "daemon stopped" in stderr
    assert db.parent.parent == data
    assert [r[0] for r in query(db, "SELECT DISTINCT source FROM runs")] == ["local"]
    assert query(db, "SELECT count(*) FROM articles")[0][0] == 1
    assert (data / "sources.toml").read_text(encoding="utf-8") == loopback_config(outlet)
    assert ("copied the shipped sources.toml" in stderr) != config_in_volume
    check = shlex.split(one("HEALTHCHECK").partition("CMD ")[2].split("||")[0])
    health = subprocess.run([sys.executable, "-m", *check], env=env, capture_output=True, text=True, timeout=60)
    assert health.returncode == 0, health.stdout + health.stderr
    assert health.stdout.startswith("OK: 1 enabled sources")
