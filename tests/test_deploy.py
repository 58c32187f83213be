"""The deployment recipe in ``deploy/`` checked without Docker (these machines cannot run it).

The compose file is parsed with a YAML parser and every reference in it is followed: variables to
the example env file, ``ARCHIVE_*`` names to the settings, URLs to the services and passwords they
name, volumes and networks to their declarations, healthchecks to programs the images have and to
routes the app serves, commands to the CLI.  The Dockerfile and the operations guide are checked
the same way, so the recipe cannot silently drift from the code.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import click
import pytest
import yaml
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from archive.cli import main as cli
from archive.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / "archive.env.example"
DOCKERFILE = DEPLOY / "Dockerfile"
OPERATIONS = DEPLOY / "OPERATIONS.md"

# The services the recipe must have.
REQUIRED_SERVICES = {"postgres", "minio", "minio-init", "elasticsearch", "redis", "api", "migrate", "worker"}
# Programs each image is known to ship (what a healthcheck may call).
IMAGE_PROGRAMS = {
    "postgres": {"pg_isready", "psql", "sh", "bash", "grep"},
    "minio/minio": {"mc", "curl", "sh"},
    "docker.elastic.co/elasticsearch/elasticsearch": {"curl", "bash", "sh", "grep"},
    "redis": {"redis-cli", "sh", "grep"},
    "shebao-archive": {"python", "archive", "sh", "hostname"},
}
# Conditions Compose knows for depends_on.
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
# Memory of one worker task process: one PaddleOCR engine (~1.3 GB at its peak) and the page in hand.
TASK_PROCESS_BYTES = 1.5 * 2**30
# Settings the env example shows at their defaults (the worker's and the tasks').
DEFAULTS_SHOWN = (
    "worker_concurrency",
    "worker_recycle_tasks",
    "dispatch_pages",
    "task_ocr_seconds",
    "task_file_seconds",
    "task_visibility_seconds",
    "task_retries",
)
_REF = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)((?::?[-?+])[^}]*)?\}")
_CONTAINER_REF = re.compile(r"\$\$\{?([A-Za-z_][A-Za-z0-9_]*)")


# -- reading the recipe ---------------------------------------------------------------------------------


@cache
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def services() -> dict[str, dict]:
    return compose()["services"]


def parse_env(text: str) -> tuple[dict[str, str], set[str]]:
    """(defined names → values with ``${NAME}`` of earlier lines substituted, as Compose
    interpolates an env file; names that appear only as commented-out ``# NAME=`` lines)."""
    defined: dict[str, str] = {}
    commented: set[str] = set()
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            m = re.match(r"#\s*([A-Z][A-Z0-9_]*)=", line)
            if m:
                commented.add(m.group(1))
            continue
        name, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z][A-Z0-9_]*", name), f"archive.env.example:{number}: not NAME=VALUE"
        assert name not in defined, f"archive.env.example:{number}: {name} defined twice"
        if value.startswith("'"):
            defined[name] = value.strip("'")
            continue
        value = value.strip('"') if value.startswith('"') else value.split(" #", 1)[0].strip()

        def substitute(m: re.Match[str], number: int = number) -> str:
            ref = m.group(1)
            assert m.group(2) is None, f"archive.env.example:{number}: only plain ${{NAME}} is used here"
            assert ref in defined, f"archive.env.example:{number}: ${{{ref}}} is used before it is defined"
            return defined[ref]

        value = _REF.sub(substitute, value)
        assert "$" not in value, f"archive.env.example:{number}: a '$' Compose would interpolate: {raw!r}"
        defined[name] = value
    return defined, commented


@cache
def env_example() -> tuple[dict[str, str], frozenset[str]]:
    defined, commented = parse_env(ENV_EXAMPLE.read_text(encoding="utf-8"))
    return defined, frozenset(commented - defined.keys())


def strings(node) -> list[str]:
    """Every string anywhere in a parsed YAML tree (keys included)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in strings(k) + strings(v)]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return []


def mounts(service: dict) -> list[tuple[str, str, str]]:
    """(source, target, mode) of each short-syntax volume entry."""
    out = []
    for entry in service.get("volumes", []):
        assert isinstance(entry, str), f"use the short volume syntax: {entry!r}"
        source, target, *mode = entry.split(":")
        out.append((source, target, mode[0] if mode else "rw"))
    return out


def app_services() -> dict[str, dict]:
    """The services running this repository's image."""
    return {name: s for name, s in services().items() if s.get("image", "").startswith("shebao-archive:")}


def image_programs(image: str) -> set[str]:
    for prefix, programs in IMAGE_PROGRAMS.items():
        if image.split(":")[0] == prefix:
            return programs
    raise AssertionError(f"no program list for image {image!r} in IMAGE_PROGRAMS")


def is_one_shot(service: dict) -> bool:
    return service.get("restart") == "no"


def cli_command(words: list[str]) -> tuple[click.Command, list[str]]:
    """The click command ``archive WORDS…`` runs, and the words naming it."""
    command: click.Command = cli
    path: list[str] = []
    for word in words:
        if not isinstance(command, click.Group) or word.startswith("-"):
            break
        sub = command.commands.get(word)
        if sub is None:
            if command.name == "search":  # `archive search 检索词`: a query by default
                command = command.commands["query"]
                break
            raise AssertionError(f"`archive {' '.join([*path, word])}` is not a command of the CLI")
        command, path = sub, [*path, word]
    return command, path


def option_names(command: click.Command) -> set[str]:
    return {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)} | {"--help"}


def cli_params(words: list[str]) -> tuple[list[str], dict]:
    """``archive WORDS…`` parsed by the CLI as it would run them (unknown options, missing or
    ill-typed values raise), without running: (the words naming the command, its parameters)."""
    command, path = cli_command(words)
    try:
        context = command.make_context(" ".join(["archive", *path]), list(words[len(path) :]))
    except click.ClickException as exc:
        raise AssertionError(f"`archive {' '.join(words)}`: {exc.format_message()}") from exc
    return path, context.params


def shell_words(test: list[str]) -> list[str]:
    """A CMD-SHELL healthcheck's command line as the container's shell splits it (``$$`` is Compose's
    escape for ``$``)."""
    kind, *rest = test
    assert kind == "CMD-SHELL", kind
    return shlex.split(" ".join(rest).replace("$$", "$"))


def memory_bytes(limit: str) -> int:
    m = re.fullmatch(r"(\d+)([kmg])", str(limit))
    assert m, f"memory limit {limit!r}: write it as <number>k|m|g"
    return int(m.group(1)) * 1024 ** " kmg".index(m.group(2))


# -- the env example and the settings ---------------------------------------------------------------------


def test_env_example_names_only_real_settings():
    defined, commented = env_example()
    fields = set(Settings.model_fields)
    names = {n for n in (*defined, *commented) if n.startswith("ARCHIVE_")}
    assert names, "no ARCHIVE_ setting in archive.env.example"
    unknown = sorted(n for n in names if n.removeprefix("ARCHIVE_").lower() not in fields)
    assert not unknown, f"archive.env.example names settings archive/settings.py does not have: {unknown}"


def test_env_example_values_are_valid_settings():
    defined, _ = env_example()
    values = {
        n.removeprefix("ARCHIVE_").lower(): v
        for n, v in defined.items()
        if n.startswith("ARCHIVE_") and n.removeprefix("ARCHIVE_").lower() in Settings.model_fields
    }
    settings = Settings(**values)  # validates types, patterns and literals as the app would
    assert settings.db_url.startswith("postgresql+psycopg://"), "PostgreSQL through psycopg 3, as the project installs"
    assert settings.s3_endpoint and settings.s3_access_key and settings.s3_secret_key is not None
    assert settings.s3_lock_mode in ("COMPLIANCE", "GOVERNANCE")
    assert settings.es_url and settings.es_url.startswith("https://"), "Elasticsearch over TLS"
    assert settings.es_ca_certs is not None
    assert settings.cookie_secure is True
    assert settings.forwarded_allow_ips
    assert settings.broker_url, "the stack runs OCR on the workers: the broker must be set"
    for field in DEFAULTS_SHOWN:
        name = f"ARCHIVE_{field.upper()}"
        assert name in defined, f"archive.env.example does not show {name}"
        assert getattr(settings, field) == Settings.model_fields[field].default, f"{name}: not the default"
    # The example holds placeholders, never secrets.
    for name in (
        "POSTGRES_PASSWORD",
        "MINIO_ROOT_PASSWORD",
        "ELASTIC_PASSWORD",
        "ES_ARCHIVE_PASSWORD",
        "REDIS_PASSWORD",
    ):
        assert defined[name].startswith("change-me"), name
    assert settings.s3_secret_key.get_secret_value().startswith("change-me")


def test_urls_name_the_services_and_their_passwords():
    defined, _ = env_example()
    names = set(services())

    db = make_url(defined["ARCHIVE_DATABASE_URL"])
    assert db.drivername == "postgresql+psycopg"
    assert db.host == "postgres" and db.host in names and db.port == 5432
    assert (db.username, db.password, db.database) == (
        defined["POSTGRES_USER"],
        defined["POSTGRES_PASSWORD"],
        defined["POSTGRES_DB"],
    )

    s3_host = defined["ARCHIVE_S3_ENDPOINT"].split(":")[0]
    assert s3_host == "minio" and s3_host in names
    assert defined["ARCHIVE_S3_SECURE"] == "false", "the minio service speaks plain HTTP on the internal network"

    es = urlsplit(defined["ARCHIVE_ES_URL"])
    assert es.scheme == "https" and es.hostname == "elasticsearch" and es.hostname in names and es.port == 9200
    assert (es.username, es.password) == ("archive", defined["ES_ARCHIVE_PASSWORD"])
    assert "_security/user/archive" in (DEPLOY / "scripts" / "es-setup.sh").read_text(encoding="utf-8")

    broker = urlsplit(defined["ARCHIVE_BROKER_URL"])
    assert broker.scheme == "redis" and broker.hostname == "redis" and broker.hostname in names
    assert broker.password == defined["REDIS_PASSWORD"]


def test_app_containers_get_every_setting_of_the_env_example():
    defined, commented = env_example()
    wanted = {n for n in defined if n.startswith("ARCHIVE_")}
    text = COMPOSE.read_text(encoding="utf-8")
    for name, service in app_services().items():
        env = service.get("environment", {})
        assert isinstance(env, dict), f"{name}: use the mapping form of environment"
        given = {k for k in env if k.startswith("ARCHIVE_")}
        assert given == wanted, f"{name}: missing {sorted(wanted - given)}, extra {sorted(given - wanted)}"
        for key in given:
            assert _REF.fullmatch(str(env[key])) and _REF.fullmatch(str(env[key])).group(1) == key, (
                f"{name}: {key} must come from ${{{key}}} in the env file"
            )
    for name in sorted(n for n in commented if n.startswith("ARCHIVE_")):
        assert re.search(rf"#\s*{name}: \$\{{{name}\}}", text), (
            f"{name} is offered (commented) in archive.env.example but not in docker-compose.yml"
        )


def test_mount_points_match_the_settings():
    defined, _ = env_example()
    for name, service in app_services().items():
        targets = {target: source for source, target, _ in mounts(service)}
        assert targets.get(defined["ARCHIVE_HOME"]) == "archive-home", f"{name}: ARCHIVE_HOME is not the volume"
        ca = Path(defined["ARCHIVE_ES_CA_CERTS"])
        assert targets.get(str(ca.parent)) == "es-ca", f"{name}: ARCHIVE_ES_CA_CERTS is not on the es-ca volume"
    assert "install -m 0644" in (DEPLOY / "scripts" / "es-certs.sh").read_text(encoding="utf-8")
    assert Path(defined["ARCHIVE_ES_CA_CERTS"]).name == "ca.crt"


# -- the compose file ------------------------------------------------------------------------------------


def test_every_compose_variable_is_defined_in_the_env_example():
    defined, _ = env_example()
    used = {m.group(1) for s in strings(compose()) for m in _REF.finditer(s)}
    assert used, "the compose file uses no variables?"
    missing = sorted(used - defined.keys())
    assert not missing, f"docker-compose.yml uses variables archive.env.example does not define: {missing}"


def test_container_side_variables_are_in_the_container():
    """``$${VAR}`` (left for the container's shell) must be in that service's environment."""
    for name, service in services().items():
        env = service.get("environment", {})
        for s in strings({k: v for k, v in service.items() if k != "environment"}):
            for ref in _CONTAINER_REF.findall(s):
                assert ref in env, f"{name}: $${ref} is not in the service's environment"


def test_required_services():
    missing = REQUIRED_SERVICES - set(services())
    assert not missing, f"missing services: {sorted(missing)}"
    for name, service in services().items():
        assert "image" in service, f"{name}: no image"
        assert service.get("restart") in ("no", "unless-stopped", "always"), f"{name}: no restart policy"
        assert service.get("network_mode") is None, f"{name}: stays on the compose networks"
        assert "logging" in service, f"{name}: no log limits"


def test_elasticsearch_single_node_secured():
    es = services()["elasticsearch"]
    env = es["environment"]
    assert es["image"].startswith("docker.elastic.co/elasticsearch/elasticsearch:8.")
    assert env["discovery.type"] == "single-node"
    assert env["xpack.security.enabled"] == "true"
    assert env["xpack.security.http.ssl.enabled"] == "true"
    assert _REF.fullmatch(env["ELASTIC_PASSWORD"]), "the elastic password comes from the env file"
    assert es["deploy"]["resources"]["limits"]["memory"]
    heap = re.search(r"-Xmx(\d+)g", env["ES_JAVA_OPTS"])
    limit = re.fullmatch(r"(\d+)g", es["deploy"]["resources"]["limits"]["memory"])
    assert heap and limit and int(heap.group(1)) * 2 <= int(limit.group(1)), "heap at most half the limit"
    assert "healthcheck" in es
    certs = {target for source, target, _ in mounts(es) if source == "es-certs"}
    for key in ("xpack.security.http.ssl.key", "xpack.security.http.ssl.certificate"):
        assert any(f"/usr/share/elasticsearch/config/{env[key]}".startswith(t + "/") for t in certs), key


def minio_policy(script: str, bucket: str) -> dict:
    """The IAM policy minio-init.sh writes (its heredoc), for ``bucket``."""
    m = re.search(r"<<EOF\n(.*?)\nEOF\n", script, re.S)
    assert m, "no policy heredoc in minio-init.sh"
    return json.loads(m.group(1).replace("${ARCHIVE_S3_BUCKET}", bucket))


def test_minio_bucket_created_with_object_lock():
    defined, _ = env_example()
    init = services()["minio-init"]
    script = (DEPLOY / "scripts" / "minio-init.sh").read_text(encoding="utf-8")
    assert any("/scripts/minio-init.sh" in s for s in strings(init.get("entrypoint", [])))
    assert init["depends_on"]["minio"]["condition"] == "service_healthy"
    code = [line.strip() for line in script.splitlines() if not line.lstrip().startswith("#")]
    mb = [line for line in code if line.startswith("mc mb")]
    assert mb and all("--with-lock" in line for line in mb), "the bucket must be created with object lock"
    assert any(line.startswith("mc retention clear --default") for line in code), "no default retention"
    assert not any(re.search(r"\bgrep\b", line) for line in code), "the mc image has no grep"

    bucket = defined["ARCHIVE_S3_BUCKET"]
    policy = minio_policy(script, bucket)
    granted: dict[str, set[str]] = {}
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        for resource in statement["Resource"]:
            assert resource in (f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"), resource
            granted.setdefault(resource, set()).update(statement["Action"])
    on_bucket, on_objects = granted[f"arn:aws:s3:::{bucket}"], granted[f"arn:aws:s3:::{bucket}/*"]
    # What archive/storage/minio_store.py calls: the lock configuration and version listing on the
    # bucket; versioned reads, writes, retention and legal holds, deletion of versions on objects.
    assert {"s3:ListBucket", "s3:ListBucketVersions", "s3:GetBucketObjectLockConfiguration"} <= on_bucket
    assert {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:PutObject",
        "s3:PutObjectRetention",
        "s3:GetObjectRetention",
        "s3:PutObjectLegalHold",
        "s3:GetObjectLegalHold",
        "s3:DeleteObjectVersion",
    } <= on_objects
    everything = on_bucket | on_objects
    assert not any("*" in action for action in everything)
    assert "s3:BypassGovernanceRetention" not in everything
    assert not {"s3:DeleteBucket", "s3:PutBucketObjectLockConfiguration", "s3:PutBucketPolicy"} & everything


def test_postgres_and_redis():
    pg = services()["postgres"]
    assert pg["image"].split(":")[1].split("-")[0].split(".")[0] == "15"
    assert ("pg-data", "/var/lib/postgresql/data") in {(s, t) for s, t, _ in mounts(pg)}
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    redis = services()["redis"]
    command = redis["command"]
    assert command[0] == "redis-server" and "--appendonly" in command
    assert command[command.index("--appendonly") + 1] == "yes"
    assert "--requirepass" in command
    assert ("redis-data", "/data") in {(s, t) for s, t, _ in mounts(redis)}


def test_only_the_api_publishes_a_port():
    published = {name for name, s in services().items() if s.get("ports")}
    assert published == {"api"}
    (port,) = services()["api"]["ports"]
    assert port.endswith(":8000")


def test_volumes_and_networks_are_declared_and_used():
    declared_volumes = set(compose()["volumes"])
    declared_networks = compose()["networks"]
    used_volumes: set[str] = set()
    used_networks: set[str] = set()
    for name, service in services().items():
        for source, target, mode in mounts(service):
            assert target.startswith("/"), f"{name}: {target}"
            assert mode in ("ro", "rw"), f"{name}: {mode}"
            if source.startswith((".", "/")):
                assert source.startswith("./"), f"{name}: bind mounts stay inside deploy/: {source}"
                assert (DEPLOY / source).is_file(), f"{name}: {source} does not exist"
                assert mode == "ro", f"{name}: {source} is mounted writable"
            else:
                assert source in declared_volumes, f"{name}: volume {source} is not declared"
                used_volumes.add(source)
        networks = service.get("networks", [])
        assert networks, f"{name}: no network"
        for network in networks:
            assert network in declared_networks, f"{name}: network {network} is not declared"
            used_networks.add(network)
        if name != "api":
            assert networks == ["backend"], f"{name}: only the internal network"
    assert used_volumes == declared_volumes, f"declared, never used: {sorted(declared_volumes - used_volumes)}"
    assert used_networks == set(declared_networks)
    assert declared_networks["backend"]["internal"] is True
    assert set(services()["api"]["networks"]) == {"backend", "edge"}


def test_forwarded_ips_name_the_edge_gateway():
    defined, _ = env_example()
    (pool,) = compose()["networks"]["edge"]["ipam"]["config"]
    gateway = pool["subnet"].split("/")[0].rsplit(".", 1)[0] + ".1"
    assert defined["ARCHIVE_FORWARDED_ALLOW_IPS"] == gateway


def test_depends_on_targets_and_conditions():
    all_services = services()
    for name, service in all_services.items():
        for target, spec in service.get("depends_on", {}).items():
            assert target in all_services, f"{name} depends on unknown {target}"
            condition = spec["condition"]
            assert condition in CONDITIONS, f"{name} → {target}: {condition}"
            if is_one_shot(all_services[target]):
                assert condition == "service_completed_successfully", f"{name} must wait for one-shot {target}"
            if condition == "service_healthy":
                assert "healthcheck" in all_services[target], f"{name} waits for {target}'s health, it has none"
    api = all_services["api"]["depends_on"]
    for one_shot in ("migrate", "minio-init", "es-setup"):
        assert api[one_shot]["condition"] == "service_completed_successfully"


def test_healthchecks_call_programs_their_images_have():
    for name, service in services().items():
        if is_one_shot(service):
            assert "healthcheck" not in service, f"one-shot {name} needs no healthcheck"
            continue
        assert "healthcheck" in service, f"{name} has no healthcheck"
        kind, *rest = service["healthcheck"]["test"]
        programs = image_programs(service["image"])
        if kind == "CMD":
            called = [rest[0]]
        else:
            assert kind == "CMD-SHELL", f"{name}: {kind}"
            line = " ".join(rest)
            called = [shlex.split(part)[0] for part in re.split(r"\|\||&&|[|;]", line) if part.strip()]
            called += [sub.split()[0] for sub in re.findall(r"\$\$\(([^)]*)\)", line)]  # $(…) in the container
        for program in called:
            assert program in programs, f"{name}: healthcheck calls {program}, not in {service['image']}"


def test_api_healthcheck_probes_a_route_the_app_serves(tmp_path):
    from api.app import create_app

    api = services()["api"]
    probe = " ".join(api["healthcheck"]["test"])
    url = urlsplit(re.search(r"https?://[^'\" ]+", probe).group(0))
    command = api["command"]
    assert url.port == int(command[command.index("--port") + 1])
    app = create_app(Settings(home=tmp_path))
    gets = {path for path, operations in app.openapi()["paths"].items() if "get" in operations}
    assert url.path in gets, f"the healthcheck probes {url.path}, which the app does not serve"
    if "/api/v1/ready" in gets:
        assert url.path == "/api/v1/ready", "the app has a readiness route: probe it"


def test_app_commands_exist():
    app = app_services()
    api = app["api"]["command"]
    assert api[:4] == ["archive", "serve", "--host", "0.0.0.0"]
    serve, _ = cli_command(api[1:])
    assert {a for a in api[2:] if a.startswith("-")} <= option_names(serve)
    worker = app["worker"]["command"]
    assert worker[0] == "archive"
    path, _ = cli_params(worker[1:])
    assert path == ["worker"], f"the worker service runs `archive {' '.join(path)}`"
    build = app["api"]["build"]
    assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    assert all(s["image"] == app["api"]["image"] for s in app.values())


def test_every_service_starts_by_default():
    with_profile = sorted(name for name, service in services().items() if "profiles" in service)
    assert not with_profile, f"services `docker compose up` would not start: {with_profile}"


def test_worker_service():
    defined, _ = env_example()
    worker = services()["worker"]
    _, params = cli_params(worker["command"][1:])
    name = params["name"]
    assert name and "%h" in name, "a node name per container (Celery expands %h), which the healthcheck pings"
    assert worker["deploy"]["replicas"] >= 1

    words = shell_words(worker["healthcheck"]["test"])
    assert words[0] == "archive"
    path, ping = cli_params(words[1:])
    assert path == ["tasks", "ping"], "the worker's healthcheck is `archive tasks ping`"
    assert ping["name"] and ping["name"].replace("$(hostname)", "%h") == name, (
        f"the healthcheck pings {ping['name']!r}, the worker is named {name!r}"
    )
    assert ping["timeout"] < int(worker["healthcheck"]["timeout"].removesuffix("s"))
    assert worker["healthcheck"].get("start_period"), "the worker needs time to start before its first ping"

    concurrency = params["concurrency"] or int(defined["ARCHIVE_WORKER_CONCURRENCY"])
    limit = memory_bytes(worker["deploy"]["resources"]["limits"]["memory"])
    assert limit >= concurrency * TASK_PROCESS_BYTES, (
        f"{concurrency} task processes need about {concurrency * 1.5:g} GB, the limit is {limit / 2**30:g} GB"
    )
    assert worker.get("stop_grace_period"), "a warm shutdown needs time to finish the running tasks"

    for name in ("api", "worker"):  # both talk to the broker
        assert services()[name]["depends_on"]["redis"]["condition"] == "service_healthy", name


def test_migrate_command_migrates(tmp_path):
    """The one-shot's command, run against a scratch SQLite database, creates the schema."""
    command = services()["migrate"]["command"]
    assert command[:2] == ["python", "-c"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    env["ARCHIVE_HOME"] = str(tmp_path)
    subprocess.run([sys.executable, *command[1:]], env=env, cwd=tmp_path, check=True, timeout=120)
    engine = create_engine(f"sqlite:///{tmp_path / 'archive.db'}")
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"alembic_version", "dossiers", "access_log"} <= tables


def test_scripts_parse():
    for script in sorted((DEPLOY / "scripts").glob("*.sh")):
        shell = script.read_text(encoding="utf-8").splitlines()[0].removeprefix("#!")
        program = shutil.which(Path(shell.split()[0]).name)
        if program is None:
            pytest.skip(f"{shell} not available here")
        subprocess.run([program, "-n", str(script)], check=True)


# -- the Dockerfile --------------------------------------------------------------------------------------


def dockerfile_lines() -> list[str]:
    """Instructions with continuation lines joined, comments left out."""
    out: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        out.append(pending + line)
        pending = ""
    return out


def test_dockerfile_base_install_and_user():
    lines = dockerfile_lines()
    froms = [line.split()[1] for line in lines if line.startswith("FROM ")]
    assert froms and all(image.startswith("python:3.11-slim") for image in froms)
    final = lines[max(i for i, line in enumerate(lines) if line.startswith("FROM ")) :]
    pip = [line for line in lines if "pip install" in line and re.search(r"pip install[^&]* \.(\s|$)", line)]
    assert pip, "the project is installed with pip from the repository"
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0", "0:0"), "the image must not run as root"
    cmd = [line for line in final if line.startswith("CMD ")]
    assert cmd and '"archive", "serve"' in cmd[-1]
    es_major = services()["elasticsearch"]["image"].rsplit(":", 1)[1].split(".")[0]
    if es_major == "8":
        assert any('"elasticsearch>=8.13,<9"' in line for line in pip), "an 8.x cluster needs the 8.x client"
    assert any(line.startswith("RUN --network=none") and "image_check.py" in line for line in final)


def test_dockerfile_copies_every_package():
    lines = dockerfile_lines()
    copied = {line.split()[1] for line in lines if line.startswith("COPY ") and "--from" not in line}
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: no such path in the repository"
    found = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"]
    packages = {pattern.rstrip("*") for pattern in found["find"]["include"]}
    missing = packages - copied
    assert not missing, f"pyproject.toml installs packages the Dockerfile does not copy: {sorted(missing)}"
    ignored = {line.strip() for line in (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()}
    assert not (copied & ignored), "the .dockerignore drops what the Dockerfile copies"
    assert "deploy/archive.env" in ignored and ".venv" in ignored


# -- the operations guide and the README ---------------------------------------------------------------


def code_lines(markdown: str) -> list[str]:
    lines, inside = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            inside = not inside
            continue
        if inside:
            lines.append(line)
    return lines


def test_operations_commands_exist():
    text = OPERATIONS.read_text(encoding="utf-8")
    seen = 0
    for line in code_lines(text) + re.findall(r"`([^`]*)`", text):
        for m in re.finditer(r"(?<![\w./:-])archive(?=[ \t])((?:[ \t]+[^\s|;&<>]+)*)", line):
            words = m.group(1).split()
            if not words or not re.fullmatch(r"[a-z][a-z-]*", words[0]):
                continue
            command, path = cli_command(words)
            options = {w.split("=")[0] for w in words[len(path) :] if w.startswith("--")}
            unknown = options - option_names(command)
            assert not unknown, f"`archive {' '.join(path)}` has no option {sorted(unknown)} ({line.strip()})"
            seen += 1
        for m in re.finditer(r"\bdc (?:exec|run)((?: -[-\w]+)*) ([a-z][a-z0-9-]*)", line):
            assert m.group(2) in services(), f"no service {m.group(2)}: {line.strip()}"
    assert seen >= 10


def test_readme_points_at_deploy():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    heading = "## Deployment (`deploy/`)"
    assert heading in readme
    assert readme.index("## Settings") < readme.index(heading)
    section = readme[readme.index(heading) :].split("\n## ", 1)[0]
    for needle in ("deploy/OPERATIONS.md", "tests/test_deploy.py", "Docker"):
        assert needle in section


def test_compose_config_where_docker_compose_runs(tmp_path):
    """``docker compose config`` with the example env file, only where a Compose plugin exists."""
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker client")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip("no docker compose plugin")
    subprocess.run(
        [docker, "compose", "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE), "config", "--quiet"],
        check=True,
        timeout=60,
    )
