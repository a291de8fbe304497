"""The production stack (docker-compose.yml + docker/) checked without Docker.

There is no Docker engine where the tests run, so the compose file cannot be started
here: it has to be right by construction. These tests parse it and check what a
`docker compose up` would trip over first (structure, references to files, service
dependencies), what would break the pipeline at run time (Airflow 3 commands, paths,
shared secrets, the warehouse URL), and the security contract (secrets only from the
environment; the BI tools read the warehouse as the read-only `bi_reader`, never as the
owner). The PostgreSQL init script is run for real against the PostgreSQL 16 of the
`pgserver` wheel (a project dependency) and the resulting privileges are probed.

`docker compose config` is not part of this file: the `docker` CLI here has no compose
plugin, so that check cannot run on this machine (see docker/README.md for running it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from clientbase.warehouse.schema import WAREHOUSE_SCHEMAS, dbt_schemas

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKER_DIR = REPO / "docker"
INITDB_DIR = DOCKER_DIR / "postgres" / "initdb"
INIT_SCRIPT = INITDB_DIR / "10-clientbase.sh"
ENV_EXAMPLE = DOCKER_DIR / ".env.example"

AIRFLOW_SERVICES = {
    # service -> the Airflow CLI command it runs (argv after `airflow`)
    "airflow-apiserver": ["api-server"],
    "airflow-scheduler": ["scheduler"],
    "airflow-dag-processor": ["dag-processor"],
    "airflow-triggerer": ["triggerer"],
    "airflow-worker": ["celery", "worker"],
}
REQUIRED_SERVICES = {"postgres", "redis", "airflow-init", *AIRFLOW_SERVICES,
                     "metabase", "metabase-init", "superset-init", "superset"}
BI_SERVICES = ("metabase", "metabase-init", "superset-init", "superset")
DAG_IDS = ("extract_shipments", "extract_visits", "monthly_kpi")
LOADER, TRANSFORMER = "clientbase_loader", "clientbase_transformer"
TRANSFORMER_SCHEMAS = dbt_schemas()  # dbt's, from dbt_project.yml

# The compose specification's top-level and service-level properties (compose-spec,
# schema/compose-spec.json), for a cheap structural check in place of `docker compose config`.
TOP_LEVEL_KEYS = {"version", "name", "include", "services", "networks", "volumes",
                  "secrets", "configs", "models"}
SERVICE_KEYS = {
    "annotations", "attach", "build", "blkio_config", "cap_add", "cap_drop", "cgroup",
    "cgroup_parent", "command", "configs", "container_name", "cpu_count", "cpu_percent",
    "cpu_shares", "cpu_quota", "cpu_period", "cpu_rt_period", "cpu_rt_runtime", "cpus",
    "cpuset", "credential_spec", "depends_on", "deploy", "develop", "device_cgroup_rules",
    "devices", "dns", "dns_opt", "dns_search", "domainname", "entrypoint", "env_file",
    "label_file", "environment", "expose", "extends", "external_links", "extra_hosts",
    "gpus", "group_add", "healthcheck", "hostname", "image", "init", "ipc", "isolation",
    "labels", "links", "logging", "mac_address", "mem_limit", "mem_reservation",
    "mem_swappiness", "memswap_limit", "network_mode", "networks", "oom_kill_disable",
    "oom_score_adj", "pid", "pids_limit", "platform", "ports", "post_start", "pre_stop",
    "privileged", "profiles", "provider", "pull_policy", "read_only", "restart", "runtime",
    "scale", "secrets", "security_opt", "shm_size", "stdin_open", "stop_grace_period",
    "stop_signal", "storage_opt", "sysctls", "tmpfs", "tty", "ulimits", "use_api_socket",
    "user", "userns_mode", "uts", "volumes", "volumes_from", "working_dir", "models",
}
DEPENDS_ON_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
RESTART_VALUES = {"no", "always", "on-failure", "unless-stopped"}

SECRET_ENV_NAME = re.compile(r"(PASSWORD|_PASS$|SECRET|FERNET|_KEY$|AUTH$|TOKEN)")
# Secrets of optional features: empty by default (`${NAME:-}`, the feature is off), never a value.
OPTIONAL_SECRETS = {"CLIENTBASE_NOTIFY_SMTP_PASSWORD"}
OPTIONAL_INTERPOLATION = re.compile(r"^\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*):-\}$")
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}")
REQUIRED_INTERPOLATION = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]*\}$")
URL_USERINFO = re.compile(r"://(?P<user>[^:/@\s]*):(?P<password>\$\{[^}]*\}|[^@\s]*)@")


# --- helpers -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose interpolation of one string: ${VAR}, ${VAR:-default}, ${VAR:?err}, $$."""
    env = env or {}

    def repl(match: re.Match) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        current = env.get(name)
        if op in (":-", "-"):
            if current is None or (op == ":-" and current == ""):
                return arg
            return current
        if op in (":?", "?"):
            if current is None or (op == ":?" and current == ""):
                raise KeyError(f"required variable {name} is not set: {arg}")
            return current
        return current or ""

    placeholder = "\0"
    return INTERPOLATION.sub(repl, value.replace("$$", placeholder)).replace(placeholder, "$")


def interpolations(value: str):
    """The ${...} that compose itself resolves in a string ($$ escapes are the container's)."""
    return INTERPOLATION.finditer(value.replace("$$", "\0\0"))


def walk_strings(node, path=()):
    """Every string in a parsed YAML tree, with its path."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk_strings(value, path + (str(key),))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk_strings(value, path + (str(index),))
    elif isinstance(node, str):
        yield path, node


def env_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def argv(value) -> list[str]:
    if value is None:
        return []
    return value.split() if isinstance(value, str) else [str(v) for v in value]


def split_outside_braces(text: str) -> list[str]:
    """`a:${B:-c}:ro` -> ['a', '${B:-c}', 'ro'] (compose's short syntax, with interpolations)."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char == "{"
        depth -= char == "}"
        if char == ":" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return parts + [current]


def volume_entries(service: dict) -> list[tuple[str, str, str]]:
    """(kind, source, target) of each volume, kind 'bind' or 'volume'."""
    entries = []
    for item in service.get("volumes", []):
        if isinstance(item, dict):
            kind, source, target = item.get("type", "volume"), item.get("source", ""), item["target"]
        else:
            parts = split_outside_braces(item)
            source, target = (parts[0], parts[1]) if len(parts) > 1 else ("", parts[0])
            kind = "bind" if source.startswith((".", "/", "~", "$")) else "volume"
        entries.append((kind, source, target))
    return entries


def bind_source(source: str) -> Path:
    """A bind mount's host path as compose resolves it with the documented defaults."""
    resolved = interpolate(source)
    path = Path(resolved)
    return path if path.is_absolute() else (COMPOSE_FILE.parent / path).resolve()


def uses_airflow_image(service: dict, compose: dict) -> bool:
    airflow_image = compose["x-airflow-common"]["image"]
    return service.get("image") == airflow_image


def dockerfile_copies(dockerfile: Path) -> list[str]:
    """Source paths of the COPY/ADD instructions that read the build context."""
    sources = []
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    for line in text.splitlines():
        words = line.strip().split()
        if not words or words[0].upper() not in ("COPY", "ADD"):
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        if any(w.startswith("--from") for w in words[1:]):
            continue
        sources.extend(args[:-1])
    return sources


def parse_pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name, _, version = line.partition("==")
        pins[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    return pins


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match and not line.startswith("#   "):
            values[match[1]] = match[2]
    return values


# --- structure (what `docker compose config` would reject) ----------------------------------


def test_top_level_keys_follow_the_compose_spec(compose):
    unknown = {k for k in compose if k not in TOP_LEVEL_KEYS and not k.startswith("x-")}
    assert not unknown, f"not compose-spec top-level keys: {unknown}"
    assert "version" not in compose, "the `version` key is obsolete in the compose spec"


def test_required_services_exist(services):
    assert REQUIRED_SERVICES <= set(services), REQUIRED_SERVICES - set(services)


def test_every_service_is_well_formed(services):
    for name, service in services.items():
        unknown = set(service) - SERVICE_KEYS
        assert not unknown, f"{name}: not compose-spec service keys: {unknown}"
        assert "image" in service or "build" in service, f"{name} has neither image nor build"
        restart = str(service.get("restart", "no"))
        assert restart in RESTART_VALUES or restart.startswith("on-failure:"), (name, restart)
        for port in service.get("ports", []):
            assert re.fullmatch(r"(\$\{[^}]+\}|[\d.]+):(\$\{[^}]+\}|\d+):\d+", str(port)), (name, port)


def test_depends_on_targets_exist_and_conditions_hold(services):
    for name, service in services.items():
        depends = service.get("depends_on", {})
        if isinstance(depends, list):
            depends = {target: {"condition": "service_started"} for target in depends}
        for target, spec in depends.items():
            assert target in services, f"{name} depends on unknown service {target}"
            assert target != name
            condition = spec.get("condition", "service_started")
            assert condition in DEPENDS_ON_CONDITIONS, (name, target, condition)
            if condition == "service_healthy":
                assert "healthcheck" in services[target], (
                    f"{name} waits for {target} to be healthy but it has no healthcheck")
            if condition == "service_completed_successfully":
                assert str(services[target].get("restart", "no")) == "no", (
                    f"{target} is a one-shot: restart must be 'no'")


def test_dependency_graph_has_no_cycle(services):
    def deps(name):
        return list(services[name].get("depends_on", {}))

    state: dict[str, str] = {}

    def visit(name, trail):
        if state.get(name) == "done":
            return
        assert state.get(name) != "visiting", f"dependency cycle: {' -> '.join(trail + [name])}"
        state[name] = "visiting"
        for target in deps(name):
            visit(target, trail + [name])
        state[name] = "done"

    for name in services:
        visit(name, [])


def test_named_volumes_are_declared_and_mount_targets_absolute(compose, services):
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for kind, source, target in volume_entries(service):
            assert target.startswith("/"), (name, target)
            if kind == "volume" and source:
                assert source in declared, f"{name} uses undeclared volume {source}"


def test_postgres_has_a_healthcheck_that_waits_for_the_init_scripts(services):
    postgres = services["postgres"]
    assert postgres["image"].startswith("${POSTGRES_IMAGE:-postgres:16")
    test = " ".join(argv(postgres["healthcheck"]["test"]))
    assert "pg_isready" in test
    # TCP, not the socket: the image's init-time server does not listen on TCP.
    assert "-h 127.0.0.1" in test
    targets = {target for _, _, target in volume_entries(postgres)}
    assert "/var/lib/postgresql/data" in targets
    assert "/docker-entrypoint-initdb.d" in targets


def test_every_long_running_service_has_a_healthcheck(services):
    for name, service in services.items():
        if str(service.get("restart", "no")) != "no":
            assert "healthcheck" in service, f"{name} has no healthcheck"


# --- files the compose file refers to -------------------------------------------------------


def test_build_contexts_and_dockerfiles_exist(services):
    for name, service in services.items():
        build = service.get("build")
        if build is None:
            continue
        if isinstance(build, str):
            build = {"context": build}
        context = (COMPOSE_FILE.parent / build.get("context", ".")).resolve()
        assert context.is_dir(), f"{name}: build context {context} missing"
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        assert dockerfile.is_file(), f"{name}: {dockerfile} missing"
        for source in dockerfile_copies(dockerfile):
            assert (context / source).exists(), f"{dockerfile.relative_to(REPO)} copies {source}, missing in {context}"


def test_bind_mount_sources_exist(services):
    for name, service in services.items():
        for kind, source, _target in volume_entries(service):
            if kind == "bind":
                path = bind_source(source)
                assert path.exists(), f"{name}: bind source {source} -> {path} missing"


def test_env_files_exist_and_are_not_the_example(services):
    for name, service in services.items():
        env_files = service.get("env_file", [])
        for item in [env_files] if isinstance(env_files, (str, dict)) else env_files:
            path = item["path"] if isinstance(item, dict) else item
            required = item.get("required", True) if isinstance(item, dict) else True
            assert ".env.example" not in path, f"{name} reads the example env file"
            if required:
                assert (COMPOSE_FILE.parent / path).is_file(), f"{name}: env_file {path} missing"


def test_airflow_build_context_sends_only_what_the_dockerfile_copies(services):
    build = services["airflow-scheduler"]["build"]
    dockerfile = COMPOSE_FILE.parent / build["context"] / build["dockerfile"]
    ignore = dockerfile.with_name(dockerfile.name + ".dockerignore")
    assert ignore.is_file(), "docker/Dockerfile.dockerignore keeps .git/.venv/.env out of the build"
    lines = [line.strip() for line in ignore.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert lines[0] == "**", "allow-list: exclude everything first"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    for source in dockerfile_copies(dockerfile):
        source = source.rstrip("/")
        assert any(source == a or source.startswith(a + "/") for a in allowed), (
            f"{source} is excluded from the build context")
    assert not any(a.startswith((".venv", ".git", ".clientbase", "docker/.env")) for a in allowed)


def test_init_and_bootstrap_scripts_are_executable_and_valid_bash():
    for script in (INIT_SCRIPT, DOCKER_DIR / "superset" / "bootstrap.sh"):
        assert os.access(script, os.X_OK), f"{script} must be executable"
        assert script.read_text().startswith("#!/usr/bin/env bash")
        subprocess.run(["bash", "-n", str(script)], check=True)


# --- Airflow ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def airflow_cli(tmp_path_factory) -> dict:
    """Airflow's own core CLI table (the installed apache-airflow 3.x), read in a subprocess
    so that importing airflow configures nothing in this test process."""
    home = tmp_path_factory.mktemp("airflow-home")
    code = (
        "import json\n"
        "from airflow.cli import cli_config as c\n"
        "out = {x.name: [s.name for s in getattr(x, 'subcommands', None) or []] for x in c.core_commands}\n"
        "jobs = next(x for x in c.core_commands if x.name == 'jobs')\n"
        "check = next(s for s in jobs.subcommands if s.name == 'check')\n"
        "out['__job_types__'] = next(a.kwargs['choices'] for a in check.args if '--job-type' in a.flags)\n"
        "print(json.dumps(out))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


# Commands that providers add to the CLI (not in core_commands); the image installs both
# providers: apache-airflow-providers-celery and -fab (docker/airflow-image-constraints.txt).
PROVIDER_COMMANDS = {"celery": {"worker", "flower", "stop"}, "users": {"create", "list", "reset-password"}}
AIRFLOW2_ONLY = {"webserver", "db init", "db upgrade", "initdb", "resetdb"}


def check_airflow_argv(words: list[str], airflow_cli: dict) -> None:
    group, sub = words[0], words[1] if len(words) > 1 else None
    if group in PROVIDER_COMMANDS:
        assert sub in PROVIDER_COMMANDS[group], words
        return
    assert group in airflow_cli, f"`airflow {' '.join(words)}`: no such Airflow 3 command"
    if airflow_cli[group]:
        assert sub in airflow_cli[group], f"`airflow {' '.join(words)}`: no such Airflow 3 subcommand"


def test_airflow_services_run_real_airflow3_commands(services, compose, airflow_cli):
    for name, expected in AIRFLOW_SERVICES.items():
        service = services[name]
        assert uses_airflow_image(service, compose), f"{name} must run the clientbase Airflow image"
        assert "entrypoint" not in service, f"{name} must keep the image's entrypoint (/entrypoint)"
        command = argv(service["command"])
        assert command == expected, (name, command)
        check_airflow_argv(command, airflow_cli)


def test_airflow_init_migrates_and_creates_the_admin(services, compose, airflow_cli):
    init = services["airflow-init"]
    assert uses_airflow_image(init, compose)
    script = "\n".join(argv(init.get("command")))
    for line in re.findall(r"\bairflow\s+([a-z][a-z-]*(?:\s+[a-z][a-z-]*)?)", script):
        check_airflow_argv(line.split(), airflow_cli)
    assert re.search(r"\bairflow db migrate\b", script)
    assert re.search(r"\bairflow users create\b", script)
    assert "/entrypoint" in script, "the image entrypoint waits for the metadata DB"
    assert ("AIRFLOW_ADMIN_PASSWORD" in script
            and "${AIRFLOW_ADMIN_PASSWORD:?" in init["environment"]["AIRFLOW_ADMIN_PASSWORD"])
    for everything in (script, json.dumps(services)):
        for legacy in AIRFLOW2_ONLY:
            assert f"airflow {legacy}" not in everything


def test_airflow_healthchecks_use_real_commands(services, airflow_cli):
    job_types = set(airflow_cli["__job_types__"])
    for name in ("airflow-dag-processor", "airflow-triggerer"):
        test = " ".join(argv(services[name]["healthcheck"]["test"]))
        match = re.search(r"airflow jobs check --job-type (\w+)", test)
        assert match and match[1] in job_types, (name, test)
    worker = " ".join(argv(services["airflow-worker"]["healthcheck"]["test"]))
    assert "airflow.providers.celery.executors.celery_executor.app" in worker
    scheduler_env = env_of(services["airflow-scheduler"])
    assert scheduler_env["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"
    assert "8974/health" in " ".join(argv(services["airflow-scheduler"]["healthcheck"]["test"]))


def test_airflow_env_points_at_the_mounted_project(services, compose):
    for name, service in services.items():
        if not uses_airflow_image(service, compose) or name in BI_SERVICES:  # metabase-init: the package only
            continue
        env = env_of(service)
        mounts = {Path(interpolate(s)).name if k == "bind" else s: t for k, s, t in volume_entries(service)}
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == mounts["dags"], name
        assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == mounts["plugins"], name
        assert bind_source("./dags") == REPO / "dags"
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"].lower() == "false"
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert env["CLIENTBASE_LANDING_DIR"] == (
            mounts[Path(interpolate("${CLIENTBASE_LANDING_HOST_DIR:-./docker/landing}")).name])
        assert env["CLIENTBASE_HOME"] == mounts["clientbase-state"]
        assert env["CLIENTBASE_PROJECT_DIR"] == str(Path(mounts["dags"]).parent)
        assert Path(mounts["dbt_project"]).parent == Path(mounts["dags"]).parent
        assert Path(mounts["expectations"]).parent == Path(mounts["dags"]).parent
        # A warehouse URL is set, so the code never starts its embedded development server.
        assert env["CLIENTBASE_WAREHOUSE_URL"].startswith("postgresql://clientbase:")
        assert env["CLIENTBASE_WAREHOUSE_URL"].endswith("@postgres:5432/clientbase")
        # ... and the tasks connect as the least-privilege roles the init script creates
        for key, user, secret in (("CLIENTBASE_LOADER_URL", LOADER, "CLIENTBASE_LOADER_PASSWORD"),
                                  ("CLIENTBASE_TRANSFORMER_URL", TRANSFORMER, "CLIENTBASE_TRANSFORMER_PASSWORD")):
            assert env[key] == (f"postgresql://{user}:${{{secret}:?set {secret} in docker/.env}}"
                                "@postgres:5432/clientbase")
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@postgres:5432/airflow")
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql")
        assert (env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
                and "@redis:6379/0" in env["AIRFLOW__CELERY__BROKER_URL"])
        assert re.fullmatch(env["AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP"], "clientbase.contract.Dataset")


def test_mounted_dags_folder_holds_the_project_dags():
    text = "\n".join(p.read_text() for p in (REPO / "dags").glob("*.py"))
    for dag_id in DAG_IDS:
        assert f'dag_id="{dag_id}"' in text or f"dag_id='{dag_id}'" in text, dag_id


def test_airflow_components_share_their_secrets(services, compose):
    shared = ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY",
              "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__BROKER_URL")
    envs = [env_of(s) for n, s in services.items() if uses_airflow_image(s, compose) and n not in BI_SERVICES]
    assert len(envs) == len(AIRFLOW_SERVICES) + 1
    for key in shared:
        values = {env.get(key) for env in envs}
        assert len(values) == 1 and None not in values, f"{key} differs between Airflow services"


def test_airflow_image_matches_the_project_pins(services):
    build = services["airflow-scheduler"]["build"]
    dockerfile = (COMPOSE_FILE.parent / build["context"] / build["dockerfile"]).read_text()
    pins = parse_pins(REPO / "constraints.txt")
    default_version = re.search(r"^ARG AIRFLOW_VERSION=(\S+)$", dockerfile, re.M)[1]
    assert default_version == pins["apache-airflow"] == build["args"]["AIRFLOW_VERSION"]
    assert re.search(r"^ARG PYTHON_VERSION=3\.11$", dockerfile, re.M) and build["args"]["PYTHON_VERSION"] == "3.11"
    assert "FROM apache/airflow:slim-${AIRFLOW_VERSION}-python${PYTHON_VERSION}" in dockerfile
    install = re.search(r"RUN pip install (.*?)(?:\n\n|\Z)", dockerfile.replace("\\\n", " "), re.S)[1]
    assert "-c constraints.txt" in install and "-e ." in install
    assert '"apache-airflow[celery,fab,postgres,redis]==${AIRFLOW_VERSION}"' in install
    assert "pip check" in install
    extra = parse_pins(DOCKER_DIR / "airflow-image-constraints.txt")
    for provider in ("celery", "fab", "postgres", "redis"):
        assert f"apache-airflow-providers-{provider}" in extra
    overlap = set(extra) & set(pins)
    assert not overlap, f"pinned in both constraints files (constraints.txt must win): {overlap}"
    # celery 5.7 dropped celery.backends.database.retry, which the Celery provider imports:
    # the worker and the scheduler would die at start although `pip check` passes.
    from packaging.version import Version

    assert Version(extra["celery"]) < Version("5.7"), extra["celery"]


# --- BI tools: bi_reader only -------------------------------------------------------------------


def test_bi_tools_never_get_the_warehouse_owner(services):
    for name in BI_SERVICES:
        text = json.dumps(services[name])
        assert "CLIENTBASE_OWNER_PASSWORD" not in text, f"{name} must not see the owner's password"
        assert "clientbase:${" not in text, f"{name} must not connect as the owner"


def test_superset_registers_the_warehouse_as_bi_reader(services):
    env = env_of(services["superset-init"])
    assert env["SUPERSET_WAREHOUSE_USER"] == "bi_reader"
    assert env["SUPERSET_WAREHOUSE_DB"] == "clientbase"
    assert env["SUPERSET_WAREHOUSE_HOST"] == "postgres"
    assert env["SUPERSET_WAREHOUSE_PASSWORD"].startswith("${BI_READER_PASSWORD:?")
    assert env["SUPERSET_SECRET_KEY"].startswith("${SUPERSET_SECRET_KEY:?")
    assert env["SUPERSET_DB_USER"] == "superset" and env["SUPERSET_DB_NAME"] == "superset"
    bootstrap = (DOCKER_DIR / "superset" / "bootstrap.sh").read_text()
    for step in ("superset db upgrade", "superset fab create-admin", "superset init", "superset set_database_uri"):
        assert step in bootstrap, step
    assert "SUPERSET_WAREHOUSE_USER" in bootstrap and "SUPERSET_WAREHOUSE_PASSWORD" in bootstrap
    assert argv(services["superset-init"]["command"]) == ["/app/clientbase/bootstrap.sh"]
    # the web service does not need the BI password nor the admin password
    web = env_of(services["superset"])
    assert "SUPERSET_WAREHOUSE_PASSWORD" not in web and "SUPERSET_ADMIN_PASSWORD" not in web
    config = (DOCKER_DIR / "superset" / "superset_config.py").read_text()
    assert 'SECRET_KEY = _env("SUPERSET_SECRET_KEY")' in config
    assert "SQLALCHEMY_DATABASE_URI" in config


def test_superset_image_has_the_postgres_driver():
    dockerfile = (DOCKER_DIR / "superset" / "Dockerfile").read_text()
    assert re.search(r"^FROM apache/superset:\$\{SUPERSET_VERSION\}$", dockerfile, re.M)
    version = re.search(r"^ARG PSYCOPG2_VERSION=(\S+)$", dockerfile, re.M)[1]
    assert version == parse_pins(REPO / "constraints.txt")["psycopg2-binary"]
    assert '"$py" -c "import psycopg2, superset"' in dockerfile
    assert "SUPERSET_CONFIG_PATH=/app/pythonpath/superset_config.py" in dockerfile


def test_metabase_uses_its_own_app_db_and_documents_bi_reader(services):
    env = env_of(services["metabase"])
    assert env["MB_DB_TYPE"] == "postgres" and env["MB_DB_HOST"] == "postgres"
    assert env["MB_DB_DBNAME"] == "metabase" and env["MB_DB_USER"] == "metabase"
    assert env["MB_DB_PASS"].startswith("${METABASE_DB_PASSWORD:?")
    assert env["MB_ENCRYPTION_SECRET_KEY"].startswith("${METABASE_ENCRYPTION_SECRET_KEY:?")
    # The warehouse connection is made in Metabase's UI; the compose file documents it.
    text = COMPOSE_FILE.read_text()
    block = text[text.index("  metabase:"):text.index("  superset-init:")]
    for fact in ("Username        bi_reader", "Database name   clientbase", "Host            postgres",
                 "Only these... -> reporting", "BI_READER_PASSWORD"):
        assert fact in block, fact


def test_metabase_is_optional_and_provisioned_as_bi_reader(services, compose):
    from clientbase.bi import metabase

    # profile `metabase`: both or neither, and nothing outside the profile needs them
    for name in ("metabase", "metabase-init"):
        assert services[name]["profiles"] == ["metabase"], name
    for name, service in services.items():
        if "profiles" not in service:
            assert not {"metabase", "metabase-init"} & set(service.get("depends_on", {})), name
    init = services["metabase-init"]
    command = argv(init["command"])
    assert command[:3] == ["python", "-m", "clientbase.bi.metabase"]
    assert command[command.index("--url") + 1] == "http://metabase:3000"
    assert init["depends_on"] == {"metabase": {"condition": "service_healthy"}}
    assert str(init["restart"]) == "no" and "healthcheck" in services["metabase"]
    # the clientbase package of the Airflow image, the checkout's code mounted over it
    assert uses_airflow_image(init, compose) and init["build"] == compose["x-airflow-common"]["build"]
    assert ("bind", "./plugins", "/opt/clientbase/plugins") in volume_entries(init)
    env = env_of(init)
    assert env["CONNECTION_CHECK_MAX_COUNT"] == "0"
    # the variables metabase.py reads: login from the environment, the warehouse as bi_reader
    assert env[metabase.USER_ENV] == "${METABASE_ADMIN_EMAIL:-admin@example.com}"
    assert env[metabase.PASSWORD_ENV].startswith("${METABASE_ADMIN_PASSWORD:?")
    uri = env[metabase.WAREHOUSE_ENV]
    assert uri == ("postgresql://bi_reader:${BI_READER_PASSWORD:?set BI_READER_PASSWORD in docker/.env}"
                   "@postgres:5432/clientbase")
    details = metabase.database_details(interpolate(uri, {"BI_READER_PASSWORD": "pw"}))
    assert (details["user"], details["host"], details["dbname"], details["schema-filters-patterns"]) == (
        "bi_reader", "postgres", "clientbase", "reporting")
    assert env[metabase.LANGUAGE_ENV] == "${CLIENTBASE_BI_LANGUAGE:-ru}"
    # none of Airflow's settings or secrets
    assert not [k for k in env if k.startswith(("AIRFLOW__", "CLIENTBASE_WAREHOUSE", "CLIENTBASE_LOADER"))]


# --- secrets ------------------------------------------------------------------------------------


def test_secrets_come_only_from_required_environment_variables(services):
    for name, service in services.items():
        for key, value in env_of(service).items():
            optional = OPTIONAL_INTERPOLATION.match(value)
            if optional and optional["name"] in OPTIONAL_SECRETS:
                continue
            if SECRET_ENV_NAME.search(key):
                assert REQUIRED_INTERPOLATION.match(value), f"{name}.{key} must be ${{VAR:?...}}, got {value!r}"
        for path, value in walk_strings(service):
            for match in URL_USERINFO.finditer(value):
                password = match["password"]
                assert REQUIRED_INTERPOLATION.match(password), f"{name} {'.'.join(path)}: literal password in URL"
            for match in re.finditer(r"--(?:requirepass|password)[= ]+\"?([^\s\"]+)", value):
                assert match[1].startswith("$"), f"{name} {'.'.join(path)}: literal password argument"
        command = argv(service.get("command"))
        for flag, value in zip(command, command[1:], strict=False):  # pairs of neighbours: one shorter
            if flag in ("--requirepass", "--password"):
                assert REQUIRED_INTERPOLATION.match(value) or value.startswith("$"), (name, flag)


def test_only_non_secret_values_have_defaults(compose):
    for path, value in walk_strings(compose):
        for match in interpolations(value):
            if match["name"] in OPTIONAL_SECRETS:
                assert match["op"] == ":-" and match["arg"] == "", f"{'.'.join(path)}: {match['name']} has a default"
            elif SECRET_ENV_NAME.search(match["name"]):
                assert match["op"] in (":?", "?"), f"{'.'.join(path)}: secret {match['name']} has a default"


def test_env_example_lists_every_variable_and_no_secret_value(compose):
    example = env_example()
    used = {m["name"] for _, value in walk_strings(compose) for m in interpolations(value)}
    missing = used - set(example)
    assert not missing, f"variables of docker-compose.yml missing from docker/.env.example: {missing}"
    stale = set(example) - used
    assert not stale, f"docker/.env.example lists variables compose does not read: {stale}"
    for name, value in example.items():
        if SECRET_ENV_NAME.search(name):
            assert value == "", f"docker/.env.example must not carry a value for {name}"
    ignored = (DOCKER_DIR / ".gitignore").read_text().split()
    assert ".env" in ignored and "!.env.example" in ignored


def test_compose_resolves_with_the_secrets_set_and_refuses_without_them(compose):
    secrets = {name: "x" for name in env_example() if SECRET_ENV_NAME.search(name) and name not in OPTIONAL_SECRETS}
    for _, value in walk_strings(compose):
        interpolate(value, secrets)  # every required variable is among the documented secrets
    for name in secrets:
        without = {k: v for k, v in secrets.items() if k != name}
        with pytest.raises(KeyError, match=name):
            for _, value in walk_strings(compose):
                interpolate(value, without)


# --- PostgreSQL init: roles, databases, grants ---------------------------------------------------


def init_sql() -> str:
    return "\n".join(p.read_text() for p in sorted((INITDB_DIR / "sql").glob("*.sql")))


def test_init_sql_creates_every_role_and_database_the_stack_connects_with(services):
    sql = init_sql()
    # login roles get their password from the (role, :'<role>_password') rows fed to ALTER ROLE … LOGIN
    assert "ALTER ROLE %I LOGIN" in sql
    created_roles = set(re.findall(r"\('(\w+)',\s*:'\w+_password'\)", sql))
    created_dbs = set(re.findall(r"ALTER DATABASE (\w+)\s+OWNER TO (\w+)", sql))
    for _, value in walk_strings(services):
        for match in re.finditer(r"://(\w+):[^@]*@postgres:5432/(\w+)", value):
            user, db = match.groups()
            assert user in created_roles, f"role {user} is never created"
            assert db in {d for d, _ in created_dbs}, f"database {db} is never created"
    assert {"clientbase", "clientbase_loader", "clientbase_transformer", "bi_reader", "airflow", "metabase",
            "superset"} <= created_roles
    assert ("clientbase", "clientbase") in created_dbs and ("metabase", "metabase") in created_dbs
    env = env_of(services["postgres"])
    for var in ("CLIENTBASE_OWNER_PASSWORD", "CLIENTBASE_LOADER_PASSWORD", "CLIENTBASE_TRANSFORMER_PASSWORD",
                "BI_READER_PASSWORD", "AIRFLOW_DB_PASSWORD", "METABASE_DB_PASSWORD", "SUPERSET_DB_PASSWORD"):
        assert env[var] == f"${{{var}:?set {var} in docker/.env}}"
        assert var in INIT_SCRIPT.read_text()


def test_init_sql_grants_bi_reader_reporting_only():
    sql = re.sub(r"--[^\n]*", "", init_sql())
    assert re.search(r"GRANT USAGE ON SCHEMA reporting TO bi_reader;", sql)
    assert re.search(r"GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO bi_reader;", sql)
    assert re.search(r"ALTER DEFAULT PRIVILEGES FOR ROLE clientbase IN SCHEMA reporting\s+"
                     r"GRANT SELECT ON TABLES TO bi_reader;", sql)
    usage = re.findall(r"GRANT\s+USAGE\s+ON\s+SCHEMA\s+([\w, ]+?)\s+TO\s+bi_reader", sql)
    assert usage == ["reporting"], usage
    assert not re.search(r"GRANT\s+(INSERT|UPDATE|DELETE|TRUNCATE|ALL|CREATE)\b[^;]*bi_reader", sql)
    assert "default_transaction_read_only = on" in sql


def run_init_script(socket_dir: str) -> None:
    """docker/postgres/initdb/10-clientbase.sh as the image runs it (superuser, Unix socket)."""
    from pgserver._commands import POSTGRES_BIN_PATH

    env = {**os.environ, "PATH": f"{POSTGRES_BIN_PATH}:{os.environ['PATH']}", "PGHOST": socket_dir,
           "POSTGRES_USER": "postgres", "CLIENTBASE_OWNER_PASSWORD": "owner-pw",
           "CLIENTBASE_LOADER_PASSWORD": "loader-pw", "CLIENTBASE_TRANSFORMER_PASSWORD": "transformer-pw",
           "BI_READER_PASSWORD": "bi-pw", "AIRFLOW_DB_PASSWORD": "af-pw",
           "METABASE_DB_PASSWORD": "mb-pw", "SUPERSET_DB_PASSWORD": "it's a 'quoted' pw"}
    result = subprocess.run(["bash", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def initialised_server():
    """A PostgreSQL 16 (pgserver wheel) after docker/postgres/initdb/10-clientbase.sh ran twice."""
    import pgserver  # a project dependency: the embedded development server uses it too

    root = Path(tempfile.mkdtemp(prefix="cb-initdb-", dir="/tmp"))
    server = pgserver.get_server(root / "pgdata", cleanup_mode="stop")
    try:
        socket_dir = re.search(r"host=([^&]+)", server.get_uri())[1]
        for _ in range(2):  # the second run proves it idempotent
            run_init_script(socket_dir)
        yield socket_dir
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def _connect(socket_dir: str, user: str, dbname: str = "clientbase"):
    import psycopg

    return psycopg.connect(host=socket_dir, user=user, dbname=dbname, autocommit=True)


def test_init_script_refuses_to_run_without_passwords(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.endswith("_PASSWORD")}
    result = subprocess.run(["bash", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "CLIENTBASE_OWNER_PASSWORD is empty" in result.stderr


def test_init_creates_the_warehouse_owned_by_clientbase(initialised_server):
    with _connect(initialised_server, "postgres", "postgres") as conn:
        dbs = dict(conn.execute(
            "select datname, pg_get_userbyid(datdba) from pg_database where not datistemplate").fetchall())
        assert {k: dbs[k] for k in ("clientbase", "airflow", "metabase", "superset")} == {
            "clientbase": "clientbase", "airflow": "airflow", "metabase": "metabase", "superset": "superset"}
        supers = {r[0] for r in conn.execute("select rolname from pg_roles where rolsuper")}
        assert supers == {"postgres"}
    with _connect(initialised_server, "postgres") as conn:
        owners = dict(conn.execute(
            "select nspname, pg_get_userbyid(nspowner) from pg_namespace where nspname = any(%s)",
            (list(WAREHOUSE_SCHEMAS),)).fetchall())
        assert owners == {schema: TRANSFORMER if schema in TRANSFORMER_SCHEMAS else "clientbase"
                          for schema in WAREHOUSE_SCHEMAS}


def test_bi_reader_reads_reporting_tables_the_pipeline_creates_later(initialised_server):
    from clientbase.warehouse import schema

    with _connect(initialised_server, "clientbase") as owner:
        schema.ensure_schema(owner)  # the pipeline's own DDL, as the warehouse owner
        owner.execute("create table if not exists reporting_stage.kpi_probe (month date, value int)")
        owner.execute("create table if not exists reporting.kpi_probe (like reporting_stage.kpi_probe)")
        owner.execute("insert into reporting.kpi_probe values ('2024-01-01', 1)")
        owner.execute("create table if not exists marts.private_probe (x int)")
    import psycopg

    with _connect(initialised_server, "bi_reader") as bi:
        assert bi.execute("select count(*) from kpi_probe").fetchone() == (1,)  # search_path
        bi.execute("select count(*) from reporting.publications")
        for forbidden in ("select * from marts.private_probe", "select * from raw.shipments",
                          "select * from reporting_stage.kpi_probe"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                bi.execute(forbidden)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            bi.execute("insert into reporting.kpi_probe values ('2024-02-01', 2)")
        with pytest.raises((psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.InsufficientPrivilege)):
            bi.execute("create table reporting.sneaky (x int)")


@pytest.mark.parametrize("user, dbname", [("bi_reader", "airflow"), ("metabase", "clientbase"),
                                          ("superset", "clientbase"), ("airflow", "clientbase"),
                                          ("clientbase", "superset")])
def test_roles_cannot_connect_outside_their_database(initialised_server, user, dbname):
    import psycopg

    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        _connect(initialised_server, user, dbname)


def test_application_roles_own_their_database(initialised_server):
    for user in ("airflow", "metabase", "superset"):
        with _connect(initialised_server, user, user) as conn:
            conn.execute("create table if not exists probe (x int)")
            conn.execute("drop table probe")


def test_airflow_init_applies_the_schema_and_grants_as_the_owner(services):
    """The tasks' roles cannot apply DDL: the owner does it once per deployment, before them."""
    script = "\n".join(argv(services["airflow-init"].get("command")))
    assert re.search(r"^\s*clientbase roles'?$", script, re.M), script
    assert script.index("clientbase roles") > script.index("airflow db migrate")


@pytest.fixture(scope="module")
def pipeline_roles_granted(initialised_server):
    """What airflow-init's `clientbase roles` does, as the owner (no CREATEROLE): DDL, grants."""
    from clientbase.settings import Roles
    from clientbase.warehouse import roles, schema

    with _connect(initialised_server, "clientbase") as owner:
        schema.ensure_schema(owner)
        report = roles.ensure_roles(owner, Roles())
    assert not report.creates_roles and not report.refused, report.refused
    return initialised_server


def test_loader_writes_raw_and_audit_but_cannot_read_reporting(pipeline_roles_granted):
    import psycopg

    with _connect(pipeline_roles_granted, LOADER) as loader:
        loader.execute("select ddl_md5 from audit.schema_state")  # ensure_schema's read path
        batch = loader.execute(
            "insert into audit.batches (dataset, source_kind, source_name, content_sha256, status) "
            "values ('managers', 'file', 'probe.csv', 'probe', 'loaded') returning batch_id").fetchone()[0]
        loader.execute("insert into raw.managers (manager_id, _batch_id, _line_no) values ('M', %s, 1)", (batch,))
        for forbidden in ("select * from reporting.publications", "create table raw.sneaky (x int)",
                          "create table reporting.sneaky (x int)", "select * from marts.anything",
                          "insert into audit.gate_decisions (run_id, months, passed, checks_run, blocking_failed, "
                          "warnings, message) values ('r', '{}', true, 0, 0, 0, 'probe')"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                loader.execute(forbidden)


def test_transformer_builds_and_publishes_but_cannot_write_raw(pipeline_roles_granted):
    import psycopg

    with _connect(pipeline_roles_granted, TRANSFORMER) as transformer:
        transformer.execute("select ddl_md5 from audit.schema_state")
        transformer.execute("select count(*) from raw.managers, audit.batches")
        transformer.execute("create table if not exists marts.dbt_probe as select 1 as x")
        transformer.execute("create table if not exists reporting_stage.pub_probe (month date, value int)")
        # the publisher: create like the candidate, ALTER, index, history table, publication row
        transformer.execute("create table if not exists reporting.pub_probe (like reporting_stage.pub_probe)")
        transformer.execute("alter table reporting.pub_probe add column if not exists extra int")
        transformer.execute("create index if not exists pub_probe_month_idx on reporting.pub_probe (month)")
        transformer.execute("create table if not exists reporting_history.pub_probe (like reporting.pub_probe)")
        transformer.execute("insert into audit.gate_decisions (run_id, months, passed, checks_run, blocking_failed, "
                            "warnings, message) values ('r', '{}', true, 0, 0, 0, 'probe')")
        transformer.execute("insert into reporting.publications (month, version, row_counts, content_md5, "
                            "checks_passed, checks_warned) values ('2024-01-01', 1, '{}', 'probe', 0, 0)")
        for forbidden in ("insert into raw.managers (manager_id, _batch_id, _line_no) values ('X', 1, 1)",
                          "update raw.managers set manager_id = 'X'", "delete from audit.batches",
                          "create table raw.sneaky (x int)"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                transformer.execute(forbidden)
    with _connect(pipeline_roles_granted, "bi_reader") as bi:
        bi.execute("select * from reporting.pub_probe")  # tables the transformer creates are readable


def test_rerunning_the_init_script_hands_what_the_owner_built_to_the_transformer(pipeline_roles_granted):
    """A volume whose pipeline ran as the owner: the re-applied init script fixes ownership."""
    with _connect(pipeline_roles_granted, "clientbase") as owner:
        owner.execute("create table if not exists marts.owner_built (x int)")
        owner.execute("create table if not exists reporting.owner_published (month date)")
    run_init_script(pipeline_roles_granted)
    with _connect(pipeline_roles_granted, "postgres") as conn:
        owners = dict(conn.execute(
            "select relnamespace::regnamespace::text || '.' || relname, pg_get_userbyid(relowner) from pg_class "
            "where oid = any(array['marts.owner_built', 'reporting.owner_published', "
            "'reporting.publications']::regclass[])").fetchall())
    assert owners == {"marts.owner_built": TRANSFORMER, "reporting.owner_published": TRANSFORMER,
                      "reporting.publications": "clientbase"}
    with _connect(pipeline_roles_granted, TRANSFORMER) as transformer:
        transformer.execute("alter table reporting.owner_published add column if not exists extra int")
