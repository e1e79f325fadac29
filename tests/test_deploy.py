"""The production kit, as far as a machine with no Docker engine can check it: the Dockerfile, docker-compose.yml and
the systemd units parsed, every command line in them parsed by the real `ingest` CLI, the volume and environment
lined up, and the image's command run directly (entry point included) against a loopback outlet."""

from __future__ import annotations

import configparser
import json
import os
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import yaml
from conftest import Site, article_html, query, rss, send

from ingest.cli import cli

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
