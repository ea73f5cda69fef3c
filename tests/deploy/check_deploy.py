#!/usr/bin/env python3
"""Checks the deployment files under deploy/ against crisisd and against each other.

    python3 tests/deploy/check_deploy.py target/debug/crisisd

No Docker or Kubernetes needed (docs/deploy.md, "What the test checks"):

- every YAML file under deploy/ parses;
- the Dockerfile: two stages, the locked release build, the non-root user (uid 10001),
  ENV, VOLUME, EXPOSE, ENTRYPOINT and CMD in exec form; .dockerignore keeps the sources
  in the build context and build output, data and secrets out;
- compose, the Kubernetes StatefulSet and the systemd unit: every flag and CRISISD_*
  variable they pass is one crisisd knows, and `crisisd config check` accepts the whole
  configuration, run in a scratch directory laid out as the deployment lays out
  crisisd's files (the image's, then the volumes, config files and secrets mounted over
  them), every absolute path moved under it: a file the configuration names but the
  deployment does not provide is missing there, and crisisd says so;
- `crisisd config check --config deploy/crisisd.toml`, with the files it names made;
  its commented-out settings are crisisd's defaults, and accepted too;
- paths and ports agree, read from the settings in force as `config check` prints
  them: the data directory, the HTTP port, NATS, the probes, stop grace periods, the
  Kubernetes objects' references; no secret is committed;
- where this machine has them: `systemd-analyze verify` and `kubectl kustomize`.

It prints a line per check, and exits 1 if any failed, naming the file and what
disagrees.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import yaml

sys.dont_write_bytecode = True  # no __pycache__ beside this script in the work tree
from deployfiles import (  # noqa: E402
    COMPOSE,
    COMPOSE_SECRETS,
    DEPLOY,
    DOCKERFILE,
    DOCKERIGNORE,
    K8S,
    NATS_CONF,
    PLACEHOLDER,
    POLICIES,
    ROOT,
    SECRET_CONTENT,
    TOML,
    UNIT,
    Crisisd,
    Dockerfile,
    Report,
    Scratch,
    as_argv,
    compose_env,
    compose_mounts,
    dockerignored,
    duration_s,
    effective,
    is_named_volume,
    load_yaml,
    nats_conf,
    port_of,
    published_port,
    read_toml,
    rel,
    systemd_unit,
    toml_text,
    unit_argv,
    unit_env,
)

MIN_STOP_GRACE_S = 30
PROBE_PATHS = {"liveness": "/healthz", "readiness": "/readyz", "startup": "/healthz"}
THIS = Path(__file__)


# ---------------------------------------------------------------- a deployment's crisisd


class Deployment:
    """How a deployment starts crisisd: its command line, environment and the file
    system crisisd sees; after run(), the settings in force."""

    def __init__(self, name, source: Path, fs: Scratch, argv: list[str], env: dict, cwd: str):
        self.name, self.source, self.fs = name, source, fs
        self.argv, self.env, self.cwd = argv, env, cwd
        self.settings: dict[str, tuple[str, str]] = {}

    def config_path(self) -> str | None:
        for i, arg in enumerate(self.argv):
            if arg == "--config" and i + 1 < len(self.argv):
                return self.argv[i + 1]
            if arg.startswith("--config="):
                return arg.split("=", 1)[1]
        return self.env.get("CRISISD_CONFIG")

    def run(self, report: Report, crisisd: Crisisd) -> None:
        """Checks each flag and variable, then runs `config check` with them all."""
        src, name = self.source, self.name
        if not self.argv or Path(self.argv[0]).name != "crisisd" or "serve" not in self.argv:
            report.check(False, src, f"{name}: runs `crisisd serve`", f"runs {self.argv}")
            return
        args = self.argv[1:]
        for arg in args:
            if arg.startswith("--"):
                flag = arg[2:].split("=", 1)[0]
                report.check(
                    flag in crisisd.flags,
                    src,
                    f"{name}: crisisd takes --{flag}",
                    "`crisisd config check --help` does not list it",
                )
        for var in self.env:
            if var.startswith("CRISISD_"):
                report.check(
                    var in crisisd.envs,
                    src,
                    f"{name}: crisisd reads {var}",
                    "no setting has this variable: crisisd would ignore it",
                )
        config = self.config_path()
        if config is not None:
            file = self.fs.at(config)
            if not report.check(
                file.is_file(), src, f"{name}: the config file {config} is there", "nothing there"
            ):
                return
            file.write_text(toml_text(self.fs.moved_table(tomllib.loads(file.read_text()))))
        at = args.index("serve")
        check_args = [
            *map(self.fs.moved_arg, args[:at]),
            "config",
            "check",
            *map(self.fs.moved_arg, args[at + 1 :]),
        ]
        env = {k: self.fs.moved(v) for k, v in self.env.items()}
        code, out, err = crisisd.run(check_args, env, self.fs.at(self.cwd))
        self.settings = effective(out, self.fs.root)
        given = [f"{k}={v}" for k, v in self.env.items() if k.startswith("CRISISD_")] + args
        report.check(
            code == 0,
            src,
            f"{name}: `crisisd config check` accepts {' '.join(given)}",
            f"exit {code}: {err.strip().replace(str(self.fs.root), '')}",
        )
        if code == 0:
            report.check(
                bool(self.settings),
                src,
                f"{name}: `config check` printed the settings in force",
                "no `setting  value  (source)` line in its output",
            )

    def value(self, key: str) -> str | None:
        found = self.settings.get(key)
        return None if found is None or found[0] == "-" else found[0]


def compose_deployment(report: Report, docker: Dockerfile, compose: dict, tmp: Path):
    service = (compose.get("services") or {}).get("crisisd")
    if not report.check(service is not None, COMPOSE, "has a service crisisd"):
        return None
    build = service.get("build") or {}
    context = (COMPOSE.parent / build.get("context", ".")).resolve()
    report.equal(COMPOSE, "crisisd's build context", rel(context) if context != ROOT else ".", ".")
    dockerfile = (context / build.get("dockerfile", "Dockerfile")).resolve()
    report.check(
        dockerfile == DOCKERFILE,
        COMPOSE,
        f"crisisd is built with {rel(DOCKERFILE)}",
        f"dockerfile {build.get('dockerfile')!r}",
    )
    fs = Scratch(tmp, "compose")
    docker.lay_out(fs)
    for source, target in compose_mounts(service):
        if is_named_volume(source):
            fs.mount_dir(target)
            continue
        origin = (COMPOSE.parent / source).resolve()
        if not report.check(origin.exists(), COMPOSE, f"the bind mount's source {source} exists"):
            continue
        if origin.is_file():
            fs.write(target, origin.read_text())
        else:
            fs.mount_dir(target)
    secrets = compose.get("secrets") or {}
    for secret in service.get("secrets") or []:
        source = secret if isinstance(secret, str) else secret["source"]
        target = source if isinstance(secret, str) else secret.get("target", source)
        path = target if target.startswith("/") else f"/run/secrets/{target}"
        file = (secrets.get(source) or {}).get("file")
        if report.check(file is not None, COMPOSE, f"the secret {source} is a file"):
            report.check(
                (COMPOSE.parent / file).resolve().parent == COMPOSE_SECRETS,
                COMPOSE,
                f"the secret {source}'s file is in secrets/ (ignored by git)",
                f"file {file}",
            )
        name = Path(path).name
        if report.check(
            name in SECRET_CONTENT,
            COMPOSE,
            f"the test knows what the secret {name} holds",
            f"add {name!r} to SECRET_CONTENT in {rel(THIS.parent / 'deployfiles.py')}",
        ):
            fs.write(path, SECRET_CONTENT[name], 0o600)
    entrypoint = as_argv(service.get("entrypoint", docker.exec_form("ENTRYPOINT")))
    command = as_argv(service.get("command", docker.exec_form("CMD")))
    env = {**docker.env(), **compose_env(service)}
    cwd = service.get("working_dir") or docker.workdir()
    return Deployment("compose service crisisd", COMPOSE, fs, entrypoint + command, env, cwd)


def k8s_objects(report: Report) -> dict[tuple[str, str], dict]:
    """Every object under deploy/k8s by (kind, name), each with its file as `_file`."""
    objects = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        try:
            docs = list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError:
            continue  # check_yaml says so
        for doc in docs:
            if isinstance(doc, dict) and "kind" in doc and "name" in (doc.get("metadata") or {}):
                doc["_file"] = path
                objects[(doc["kind"], doc["metadata"]["name"])] = doc
            elif doc:
                report.check(False, path, "holds Kubernetes objects", f"found {str(doc)[:60]}")
    return objects


def the(objects: dict, kind: str) -> dict | None:
    return next((o for (k, _), o in objects.items() if k == kind), None)


def crisisd_container(sts: dict) -> dict:
    containers = sts["spec"]["template"]["spec"]["containers"]
    return next((c for c in containers if c["name"] == "crisisd"), containers[0])


def k8s_deployment(report: Report, docker: Dockerfile, objects: dict, tmp: Path):
    sts = the(objects, "StatefulSet")
    if not report.check(sts is not None, K8S, "has a StatefulSet"):
        return None
    f = sts["_file"]
    pod = sts["spec"]["template"]["spec"]
    container = crisisd_container(sts)
    fs = Scratch(tmp, "k8s")
    docker.lay_out(fs)
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    claims = {c["metadata"]["name"] for c in sts["spec"].get("volumeClaimTemplates") or []}
    for mount in container.get("volumeMounts") or []:
        name, target = mount["name"], mount["mountPath"]
        volume = volumes.get(name, {})
        if name in claims or "emptyDir" in volume:
            fs.mount_dir(target)
            continue
        if not report.check(
            "configMap" in volume or "secret" in volume,
            f,
            f"the test knows the volume {name} mounted at {target}",
            "neither a claim, an emptyDir, a ConfigMap nor a Secret: extend k8s_deployment()",
        ):
            continue
        kind = "ConfigMap" if "configMap" in volume else "Secret"
        spec = volume.get("configMap") or volume.get("secret")
        ref = spec.get("name") or spec.get("secretName")
        obj = objects.get((kind, ref))
        if not report.check(
            obj is not None, f, f"the {kind} {ref} mounted at {target} is in {rel(K8S)}"
        ):
            continue
        files = volume_files(report, obj)
        if "items" in spec:
            files = {item["path"]: files.get(item["key"], "") for item in spec["items"]}
        mode = spec.get("defaultMode", 0o644)
        if "subPath" in mount:
            fs.write(target, files.get(mount["subPath"], ""), mode)
            continue
        fs.mount_dir(target)
        for key, text in files.items():
            fs.write(f"{target}/{key}", text, mode)
    env = dict(docker.env())
    for item in container.get("env") or []:
        ref = (item.get("valueFrom") or {}).get("configMapKeyRef")
        if "value" in item:
            env[item["name"]] = str(item["value"])
        elif ref:
            data = (objects.get(("ConfigMap", ref["name"])) or {}).get("data") or {}
            env[item["name"]] = data.get(ref["key"], "")
        else:
            report.check(False, f, f"the test can read {item['name']}", "extend k8s_deployment()")
    for item in container.get("envFrom") or []:
        ref = (item.get("configMapRef") or {}).get("name")
        env.update((objects.get(("ConfigMap", ref)) or {}).get("data") or {})
    if "command" in container:
        argv = as_argv(container["command"]) + as_argv(container.get("args"))
    else:
        argv = as_argv(docker.exec_form("ENTRYPOINT")) + as_argv(
            container.get("args", docker.exec_form("CMD"))
        )
    cwd = container.get("workingDir") or docker.workdir()
    return Deployment("StatefulSet crisisd", f, fs, argv, env, cwd)


def volume_files(report: Report, obj: dict) -> dict[str, str]:
    """The files a ConfigMap or Secret volume holds, a Secret's placeholders made valid."""
    if obj["kind"] == "ConfigMap":
        return dict(obj.get("data") or {})
    files = {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}
    for key, value in (obj.get("stringData") or {}).items():
        known = report.check(
            key in SECRET_CONTENT,
            obj["_file"],
            f"the test knows what the secret's {key} holds",
            f"add {key!r} to SECRET_CONTENT in {rel(THIS.parent / 'deployfiles.py')}",
        )
        files[key] = SECRET_CONTENT[key] if known and value.strip() == PLACEHOLDER else value
    return files


def systemd_deployments(tmp: Path) -> list[Deployment]:
    """The unit as shipped, and with its commented-out Environment= lines."""
    settings, commented = systemd_unit(UNIT)
    variants = [("as shipped", settings.get("Environment", []))]
    if commented:
        variants.append(
            (
                "with its commented-out Environment= lines",
                settings.get("Environment", []) + commented,
            )
        )
    out = []
    for i, (variant, env_lines) in enumerate(variants):
        fs = Scratch(tmp, f"systemd-{i}")
        for state in settings.get("StateDirectory", []):
            for name in state.split():
                fs.mkdir(f"/var/lib/{name}")
        env = unit_env(env_lines)
        if env.get("CRISISD_CONFIG"):
            # The operator writes the config file and the files it names.
            fs.write(env["CRISISD_CONFIG"], TOML.read_text())
            fs.make_named_files(read_toml(TOML))
        cwd = settings.get("WorkingDirectory", ["/"])[-1]
        out.append(Deployment(f"systemd unit, {variant}", UNIT, fs, unit_argv(settings), env, cwd))
    return out


# ---------------------------------------------------------------- the checks


def check_yaml(report: Report) -> None:
    for path in sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")]):
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
            report.check(bool(docs), path, "parses as YAML", "empty")
        except yaml.YAMLError as err:
            report.check(False, path, "parses as YAML", " ".join(str(err).split()))


def check_dockerfile(report: Report, docker: Dockerfile) -> None:
    f = docker.path
    report.check(len(docker.stages) >= 2, f, "is a multi-stage build", f"{len(docker.stages)}")
    if not docker.stages:
        return
    builder = docker.stages[0]
    report.equal(f, "the build stage's image", builder["image"], "rust:1-bookworm")
    report.check(
        "cargo build --release --locked" in " ".join(docker.all("RUN", builder)),
        f,
        "the build stage runs `cargo build --release --locked`",
    )
    report.equal(f, "the runtime stage's image", docker.runtime()["image"], "debian:bookworm-slim")
    runs = " ".join(docker.all("RUN"))
    report.check("ca-certificates" in runs, f, "the runtime stage installs ca-certificates")
    report.check(
        any(f"--from={builder['alias']}" in flags for _, _, flags in docker.copies()),
        f,
        f"the runtime stage copies the binary from the stage {builder['alias']!r}",
    )
    user, uid = docker.user_uid()
    report.check(
        user is not None and uid not in (None, 0),
        f,
        "USER is a non-root user with a known uid",
        f"USER {user!r}, uid {uid}",
    )
    report.equal(f, "the user's uid", uid, 10001)
    report.check(
        re.search(r"groupadd\b.*--gid[ =]10001\b.*\bcrisisd\b", runs) is not None
        and re.search(r"useradd\b.*--uid[ =]10001\b.*--gid[ =]10001\b.*\bcrisisd\b", runs)
        is not None,
        f,
        "the user crisisd is made with uid and gid 10001",
    )
    entrypoint, cmd = docker.exec_form("ENTRYPOINT"), docker.exec_form("CMD")
    report.equal(f, "ENTRYPOINT in exec form (SIGTERM reaches crisisd)", entrypoint, ["crisisd"])
    report.equal(f, "CMD in exec form", cmd, ["serve"])
    env = docker.env()
    for name in ("CRISISD_DATA_DIR", "CRISISD_HTTP_ADDR"):
        report.check(name in env, f, f"ENV sets {name}", f"ENV has {sorted(env)}")
    for volume in docker.volumes():
        report.check(
            any(
                volume in run and re.search(r"(-o (crisisd|10001)\b|chown)", run)
                for run in docker.all("RUN")
            ),
            f,
            f"the runtime stage makes {volume} the user's before VOLUME",
            "a volume made from a root-owned directory is not writable by crisisd",
        )
    copied = {
        Path(s).name
        for srcs, dest, _ in docker.copies()
        if dest.rstrip("/") == "/etc/crisisd"
        for s in srcs
    }
    report.check(set(POLICIES) <= copied, f, "copies the policies into /etc/crisisd/", f"{copied}")
    check_dockerignore(report, docker)


def check_dockerignore(report: Report, docker: Dockerfile) -> None:
    if not report.check(DOCKERIGNORE.is_file(), DOCKERIGNORE, "exists"):
        return
    lines = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()]
    patterns = [line for line in lines if line and not line.startswith("#")]
    needed = ["Cargo.toml", "Cargo.lock", ".cargo/config.toml", "src/main.rs", *POLICIES]
    needed = [f"deploy/{p}" if p in POLICIES else p for p in needed]
    for sources, _, flags in docker.copies():
        if not any(flag.startswith("--from") for flag in flags):
            needed += sources
    for path in dict.fromkeys(needed):
        exists = (ROOT / path).exists()
        report.check(
            exists and not dockerignored(patterns, path),
            DOCKERIGNORE,
            f"the build context has {path}",
            "excluded by a pattern" if exists else "missing from the repository",
        )
    for path in ["target", ".git", "data", "deploy/compose/secrets/master-key"]:
        report.check(
            dockerignored(patterns, path), DOCKERIGNORE, f"the build context leaves out {path}"
        )


def check_toml(report: Report, crisisd: Crisisd, tmp: Path) -> dict:
    try:
        table = read_toml(TOML)
    except tomllib.TOMLDecodeError as err:
        report.check(False, TOML, "parses as TOML", str(err))
        return {}
    unknown = sorted(set(table) - crisisd.keys)
    report.check(not unknown, TOML, "every key is a setting of crisisd", f"unknown: {unknown}")

    def config_check(label: str, table: dict) -> tuple[int, dict, str]:
        fs = Scratch(tmp, f"toml-{label}")
        fs.make_named_files(table)
        fs.write("/crisisd.toml", toml_text(fs.moved_table(table)))
        args = ["config", "check", "--config", str(fs.at("/crisisd.toml"))]
        code, out, err = crisisd.run(args, {}, fs.root)
        return code, effective(out, fs.root), err.strip().replace(str(fs.root), "")

    code, settings, err = config_check("as-is", table)
    report.check(
        code == 0,
        TOML,
        "`crisisd config check --config deploy/crisisd.toml` accepts it",
        f"exit {code}: {err}",
    )
    from_file = sorted(k for k, (_, source) in settings.items() if source == "file")
    report.equal(TOML, "the settings config check took from the file", from_file, sorted(table))

    commented = {}
    for line in TOML.read_text().splitlines():
        found = re.match(r"#\s*([a-z][a-z0-9_]*)\s*=\s*(.+?)\s*(#.*)?$", line)
        if found and found.group(1) in crisisd.keys:
            commented[found.group(1)] = tomllib.loads(f"v = {found.group(2)}")["v"]
    for key, value in commented.items():
        default = crisisd.flags[key.replace("_", "-")]["default"]
        if default is not None:
            report.equal(TOML, f"the commented-out {key}, crisisd's default,", str(value), default)
    if commented:
        code, _, err = config_check("uncommented", {**table, **commented})
        report.check(
            code == 0,
            TOML,
            f"accepted with its commented-out settings uncommented ({', '.join(commented)})",
            f"exit {code}: {err}",
        )
    return table


def check_paths_and_ports(report, docker: Dockerfile, toml: dict, compose: dict, runs: dict):
    """The data directory and the HTTP port, across the image and every deployment."""
    f = DOCKERFILE
    volumes, exposed = docker.volumes(), docker.exposed()
    report.check(len(volumes) == 1, f, "declares one VOLUME, the data directory", f"{volumes}")
    report.check(len(exposed) == 1, f, "EXPOSEs one port, the HTTP API's", f"{exposed}")
    data_dir = volumes[0] if volumes else None
    http_port = exposed[0] if exposed else None
    env = docker.env()
    report.equal(f, "ENV CRISISD_DATA_DIR, the VOLUME,", env.get("CRISISD_DATA_DIR"), data_dir)
    report.equal(
        f,
        "the port of ENV CRISISD_HTTP_ADDR, EXPOSE's,",
        port_of(env.get("CRISISD_HTTP_ADDR")),
        http_port,
    )
    report.equal(TOML, "data_dir, the image's VOLUME,", toml.get("data_dir"), data_dir)
    report.equal(
        TOML, "the port of http_addr, EXPOSE's,", port_of(toml.get("http_addr")), http_port
    )

    for key in ("compose", "k8s"):
        run = runs.get(key)
        if run is None or not run.settings:
            continue
        name, src, addr = run.name, run.source, run.value("http_addr") or ""
        report.equal(
            src, f"{name}: the data_dir in force, the VOLUME,", run.value("data_dir"), data_dir
        )
        report.equal(
            src, f"{name}: the port of http_addr in force, EXPOSE's,", port_of(addr), http_port
        )
        report.check(
            addr.startswith(("0.0.0.0:", "[::]:")),
            src,
            f"{name}: crisisd listens on every interface of the container",
            f"http_addr {addr}: the port is unreachable from outside the container",
        )
        volumes_at = data_volumes(key, compose, runs)
        report.check(
            run.value("data_dir") in volumes_at,
            src,
            f"{name}: the data directory in force is a volume",
            f"data_dir {run.value('data_dir')}, volumes at {volumes_at}",
        )
    return data_dir, http_port


def data_volumes(key: str, compose: dict, runs: dict) -> list[str]:
    if key == "compose":
        service = (compose.get("services") or {}).get("crisisd") or {}
        return [t for s, t in compose_mounts(service) if is_named_volume(s)]
    sts = runs["k8s_sts"]
    claims = {c["metadata"]["name"] for c in sts["spec"].get("volumeClaimTemplates") or []}
    mounts = crisisd_container(sts).get("volumeMounts") or []
    return [m["mountPath"] for m in mounts if m["name"] in claims]


def check_compose(report: Report, compose: dict, run: Deployment | None, http_port) -> None:
    service = (compose.get("services") or {}).get("crisisd") or {}
    published = [published_port(p) for p in service.get("ports") or []]
    report.check(
        any(p[2] == http_port for p in published),
        COMPOSE,
        f"crisisd publishes the HTTP port {http_port}",
        f"ports {published}",
    )
    for host_ip, _, container_port in published:
        report.equal(
            COMPOSE,
            f"the address crisisd's port {container_port} is published on",
            host_ip,
            "127.0.0.1",
        )
    grace = service.get("stop_grace_period", "10s")
    report.check(
        duration_s(grace) >= MIN_STOP_GRACE_S,
        COMPOSE,
        f"crisisd's stop_grace_period is at least {MIN_STOP_GRACE_S} s",
        f"{grace}",
    )
    check_nats(report, compose, run)


def check_nats(report: Report, compose: dict, run: Deployment | None) -> None:
    nats_port, users, variables = nats_conf(NATS_CONF)
    nats = (compose.get("services") or {}).get("nats")
    if not report.check(nats is not None, COMPOSE, "has a service nats"):
        return
    command = as_argv(nats.get("command"))
    conf_path = command[command.index("-c") + 1] if "-c" in command[:-1] else None
    mounts = dict((t, s) for s, t in compose_mounts(nats))
    source = mounts.get(conf_path)
    report.check(
        source is not None and (COMPOSE.parent / source).resolve() == NATS_CONF,
        COMPOSE,
        f"nats runs with {rel(NATS_CONF)} (-c {conf_path})",
        f"mounted there: {source}",
    )
    environment = compose_env(nats)
    env_files = nats.get("env_file") or []
    env_files = [env_files] if isinstance(env_files, (str, dict)) else env_files
    env_files = [e if isinstance(e, str) else e["path"] for e in env_files]
    text = COMPOSE.read_text()
    for name in variables:
        report.check(
            name in environment or (bool(env_files) and name in text),
            COMPOSE,
            f"nats gets ${name}, which {rel(NATS_CONF)} reads",
            "neither in its environment nor named for its env_file",
        )
    for env_file in env_files:
        report.check(
            (COMPOSE.parent / env_file).resolve().parent == COMPOSE_SECRETS,
            COMPOSE,
            f"nats' env_file {env_file} is in secrets/ (ignored by git)",
        )
    if "NATS_STORE_DIR" in variables:
        named = [t for t, s in mounts.items() if is_named_volume(s)]
        store = environment.get("NATS_STORE_DIR")
        report.check(
            store in named,
            COMPOSE,
            "JetStream's NATS_STORE_DIR is a named volume",
            f"NATS_STORE_DIR {store}, named volumes at {named}",
        )
    if run is None or not run.settings:
        return
    urls = [u.strip() for u in (run.value("nats_url") or "").split(",") if u.strip()]
    report.check(bool(urls), COMPOSE, "crisisd has a NATS URL in force", "nats_url is unset")
    for url in urls:
        found = re.match(r"^(?:nats|tls)://(?:[^@/]*@)?([^:/]+)(?::(\d+))?", url)
        host, port = (found.group(1), int(found.group(2) or 4222)) if found else (None, None)
        report.equal(
            COMPOSE, f"the port of crisisd's NATS URL {url}, nats-server.conf's,", port, nats_port
        )
        report.equal(COMPOSE, f"the host of crisisd's NATS URL {url}, the service,", host, "nats")
    user = run.value("nats_user")
    report.check(
        user in users, COMPOSE, f"crisisd's NATS user {user!r} is in {rel(NATS_CONF)}", f"{users}"
    )
    report.check(
        bool(run.value("nats_password_file")), COMPOSE, "crisisd has a NATS password file in force"
    )


def check_k8s(report: Report, docker: Dockerfile, objects: dict, http_port, data_dir) -> None:
    check_kustomization(report)
    sts = the(objects, "StatefulSet")
    if sts is None:
        return
    f, spec = sts["_file"], sts["spec"]
    pod = spec["template"]["spec"]
    container = crisisd_container(sts)
    labels = spec["template"]["metadata"].get("labels") or {}
    report.equal(f, "replicas (crisisd is a single writer)", spec.get("replicas"), 1)
    report.check(
        (spec.get("selector", {}).get("matchLabels") or {}).items() <= labels.items(),
        f,
        "the selector matches the pod's labels",
    )
    security = {**(pod.get("securityContext") or {}), **(container.get("securityContext") or {})}
    report.equal(f, "runAsNonRoot", security.get("runAsNonRoot"), True)
    report.equal(f, "runAsUser, the image's uid,", security.get("runAsUser"), docker.user_uid()[1])
    report.equal(f, "readOnlyRootFilesystem", security.get("readOnlyRootFilesystem"), True)
    report.equal(
        f,
        "fsGroup, the user's group (the volume is writable),",
        security.get("fsGroup"),
        security.get("runAsGroup", docker.user_uid()[1]),
    )
    grace = pod.get("terminationGracePeriodSeconds", 30)
    report.check(
        grace >= MIN_STOP_GRACE_S,
        f,
        f"terminationGracePeriodSeconds ≥ {MIN_STOP_GRACE_S}",
        f"{grace}",
    )
    resources = container.get("resources") or {}
    report.check(
        bool(resources.get("requests")) and bool(resources.get("limits")),
        f,
        "the container has resource requests and limits",
    )
    ports = {p.get("name"): p["containerPort"] for p in container.get("ports") or []}
    report.check(
        http_port in ports.values(), f, f"the container port is EXPOSE's {http_port}", f"{ports}"
    )

    def resolve(port):
        return ports.get(port) if isinstance(port, str) else port

    for kind, path in PROBE_PATHS.items():
        probe = container.get(f"{kind}Probe")
        if probe is None and kind == "startup":
            continue
        if not report.check(bool(probe) and "httpGet" in probe, f, f"has an HTTP {kind} probe"):
            continue
        get = probe["httpGet"]
        report.equal(f, f"the {kind} probe's path", get.get("path"), path)
        report.equal(
            f, f"the {kind} probe's port, the HTTP port,", resolve(get.get("port")), http_port
        )
    claims = {c["metadata"]["name"] for c in spec.get("volumeClaimTemplates") or []}
    mounted = {m["mountPath"]: m["name"] for m in container.get("volumeMounts") or []}
    report.check(
        mounted.get(data_dir) in claims,
        f,
        f"the data directory {data_dir} is a volumeClaimTemplate's volume",
        f"mounted there: {mounted.get(data_dir)}, claims {sorted(claims)}",
    )
    services = [o for (kind, _), o in objects.items() if kind == "Service"]
    report.check(
        any(s["metadata"]["name"] == spec.get("serviceName") for s in services),
        f,
        f"its serviceName {spec.get('serviceName')} is a Service in {rel(K8S)}",
    )
    for service in services:
        sf, name = service["_file"], service["metadata"]["name"]
        selector = service["spec"].get("selector") or {}
        report.check(selector.items() <= labels.items(), sf, f"the Service {name} selects the pod")
        for port in service["spec"].get("ports") or []:
            target = resolve(port.get("targetPort", port.get("port")))
            report.equal(sf, f"the Service {name}'s targetPort, the HTTP port,", target, http_port)
    report.check(
        any(
            s["spec"].get("clusterIP") != "None"
            and s["spec"].get("type", "ClusterIP") == "ClusterIP"
            for s in services
        ),
        K8S / "service.yaml",
        "a ClusterIP Service serves the API",
    )
    for (kind, name), obj in objects.items():
        check_k8s_object(report, kind, name, obj, labels)


def check_k8s_object(report: Report, kind: str, name: str, obj: dict, labels: dict) -> None:
    f = obj["_file"]
    if kind == "PodDisruptionBudget":
        selector = obj["spec"].get("selector", {}).get("matchLabels") or {}
        report.check(selector.items() <= labels.items(), f, f"the budget {name} selects the pod")
        report.check(
            obj["spec"].get("maxUnavailable") not in (0, "0%")
            and obj["spec"].get("minAvailable") not in (1, "100%"),
            f,
            "it lets a node drain evict the single pod",
            "a budget of no disruption blocks every drain of the node",
        )
    elif kind == "Secret":
        values = {**(obj.get("stringData") or {}), **(obj.get("data") or {})}
        real = sorted(k for k, v in values.items() if str(v).strip() != PLACEHOLDER)
        report.check(
            not real, f, f"the Secret {name} holds only {PLACEHOLDER} placeholders", f"not: {real}"
        )
    elif kind == "ConfigMap":
        originals = {"crisisd.toml": TOML, **POLICIES}
        for key, text in (obj.get("data") or {}).items():
            original = originals.get(key)
            if original is None:
                continue
            if key.endswith(".json"):
                same = json.loads(text) == json.loads(original.read_text())
            else:
                same = text == original.read_text()
            report.check(
                same,
                f,
                f"the ConfigMap {name}'s {key} is a copy of {rel(original)}",
                f"they differ: copy {rel(original)} into data.{key}",
            )


def check_kustomization(report: Report) -> None:
    kustomization = K8S / "kustomization.yaml"
    listed = load_yaml(kustomization).get("resources") or []
    for resource in listed:
        report.check((K8S / resource).is_file(), kustomization, f"its resource {resource} exists")
    for path in sorted(K8S.glob("*.yaml")):
        if path.name not in ("kustomization.yaml", "secret.example.yaml"):
            report.check(path.name in listed, kustomization, f"lists {path.name}")
    report.check(
        "secret.example.yaml" not in listed,
        kustomization,
        "leaves out secret.example.yaml (applying it would put placeholders in the real secret)",
    )


def check_systemd(report: Report, data_dir) -> None:
    settings, _ = systemd_unit(UNIT)
    env = unit_env(settings.get("Environment", []))
    state = [f"/var/lib/{s}" for v in settings.get("StateDirectory", []) for s in v.split()]
    writable = " ".join(settings.get("ReadWritePaths", [])).split()
    report.equal(
        UNIT, "CRISISD_DATA_DIR, the image's VOLUME,", env.get("CRISISD_DATA_DIR"), data_dir
    )
    report.check(
        env.get("CRISISD_DATA_DIR") in state,
        UNIT,
        "CRISISD_DATA_DIR is the StateDirectory",
        f"{state}",
    )
    report.check(
        env.get("CRISISD_DATA_DIR") in writable or settings.get("ProtectSystem") != ["strict"],
        UNIT,
        "the data directory is writable under ProtectSystem=strict",
        f"ReadWritePaths {writable}",
    )
    stop = duration_s(settings.get("TimeoutStopSec", ["90"])[-1])
    report.check(
        stop >= MIN_STOP_GRACE_S,
        UNIT,
        f"TimeoutStopSec is at least {MIN_STOP_GRACE_S} s",
        f"{stop} s",
    )


def check_with_tools(report: Report, binary: Path, objects: dict, tmp: Path) -> None:
    """What systemd-analyze and kubectl (kustomize) say, where this machine has them."""
    if shutil.which("systemd-analyze"):
        unit = tmp / "systemd-analyze" / UNIT.name
        unit.parent.mkdir()
        program = (unit_argv(systemd_unit(UNIT)[0]) or ["/nonexistent"])[0]
        unit.write_text(UNIT.read_text().replace(program, str(binary)))
        done = subprocess.run(
            ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
        )
        said = [line for line in (done.stdout + done.stderr).splitlines() if UNIT.name in line]
        report.check(
            done.returncode == 0 and not said,
            UNIT,
            "`systemd-analyze verify` finds nothing wrong",
            f"exit {done.returncode}: {' | '.join(said).replace(str(unit.parent) + '/', '')}",
        )
    else:
        report.skip(UNIT, "`systemd-analyze verify` (not on this machine)")
    kustomization = K8S / "kustomization.yaml"
    if not shutil.which("kubectl"):
        report.skip(kustomization, "`kubectl kustomize` (not on this machine)")
        return
    done = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, check=False
    )
    if not report.check(
        done.returncode == 0, kustomization, "`kubectl kustomize` builds it", done.stderr.strip()
    ):
        return
    built = [d for d in yaml.safe_load_all(done.stdout) if d]
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in built)
    want = sorted(k for k, o in objects.items() if o["_file"].name != "secret.example.yaml")
    report.equal(kustomization, "the objects it builds", kinds, want)
    stray = [
        d["metadata"]["name"]
        for d in built
        if d["kind"] != "Namespace" and d["metadata"].get("namespace") != "crisisd"
    ]
    report.check(
        not stray, kustomization, "it puts every object in the namespace crisisd", f"not: {stray}"
    )


def check_gitignored(report: Report) -> None:
    ignore = COMPOSE_SECRETS / ".gitignore"
    for name in ("master-key", "crisisd-nats-password", "nats.env", ".gitignore"):
        path = rel(COMPOSE_SECRETS / name)
        done = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", path], check=False)
        if done.returncode == 128:  # not a git work tree: read the file
            text = ignore.read_text().split() if ignore.is_file() else []
            ignored = "*" in text and (name != ".gitignore" or "!.gitignore" not in text)
        else:
            ignored = done.returncode == 0
        if name == ".gitignore":
            report.check(not ignored, ignore, "git keeps secrets/.gitignore itself")
        else:
            report.check(ignored, ignore, f"git ignores secrets/{name}")


def main() -> int:
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} path/to/crisisd", file=sys.stderr)
        return 2
    binary = Path(sys.argv[1]).resolve()
    if not binary.is_file():
        print(f"{binary}: no such file (build crisisd first: cargo build)", file=sys.stderr)
        return 2
    crisisd = Crisisd(binary)
    report = Report()
    check_yaml(report)
    docker = Dockerfile(DOCKERFILE)
    check_dockerfile(report, docker)
    compose = load_yaml(COMPOSE)
    objects = k8s_objects(report)
    with tempfile.TemporaryDirectory(prefix="check-deploy-") as scratch:
        tmp = Path(scratch)
        toml = check_toml(report, crisisd, tmp)
        runs: dict = {
            "compose": compose_deployment(report, docker, compose, tmp),
            "k8s": k8s_deployment(report, docker, objects, tmp),
            "k8s_sts": the(objects, "StatefulSet"),
        }
        for run in [runs["compose"], runs["k8s"], *systemd_deployments(tmp)]:
            if run is not None:
                run.run(report, crisisd)
        data_dir, http_port = check_paths_and_ports(report, docker, toml, compose, runs)
        check_compose(report, compose, runs["compose"], http_port)
        check_k8s(report, docker, objects, http_port, data_dir)
        check_systemd(report, data_dir)
        check_with_tools(report, binary, objects, tmp)
    check_gitignored(report)
    if report.failed:
        print("\nfailed:", file=sys.stderr)
        for line in report.failed:
            print(f"  {line}", file=sys.stderr)
    print(f"\n{report.summary()}")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
