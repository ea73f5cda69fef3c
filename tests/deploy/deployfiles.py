"""Readers for the deployment files, and the scratch file systems crisisd is checked in.

check_deploy.py holds the checks; this module knows the formats: a Dockerfile, a systemd
unit, nats-server.conf, a flat TOML file, and what `crisisd config check` prints. It also
runs crisisd and lays out the files a deployment gives it (Scratch).
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
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "container" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = DEPLOY / "compose" / "compose.yaml"
COMPOSE_SECRETS = COMPOSE.parent / "secrets"
K8S = DEPLOY / "k8s"
UNIT = DEPLOY / "crisisd.service"
TOML = DEPLOY / "crisisd.toml"
NATS_CONF = DEPLOY / "nats" / "nats-server.conf"
POLICIES = {
    "crisis-policy.json": DEPLOY / "crisis-policy.json",
    "compensation-policy.json": DEPLOY / "compensation-policy.json",
}

# What a secret file holds, by its name inside the container: the operator makes these
# (compose) or fills in the placeholders (Kubernetes); the test makes valid ones.
MASTER_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
SECRET_CONTENT = {
    "master-key": MASTER_KEY,
    "nats-password": "a-test-password\n",
    "tokens.json": '{"tokens": []}\n',
}
PLACEHOLDER = "REPLACE_ME"


def rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


class Report:
    """Prints one line per check and remembers the failures."""

    def __init__(self) -> None:
        self.passed = 0
        self.skipped = 0
        self.failed: list[str] = []

    def check(self, ok: bool, file: Path | str, what: str, why: str = "") -> bool:
        name = rel(file) if isinstance(file, Path) else file
        if ok:
            self.passed += 1
            print(f"ok    {name}: {what}")
        else:
            line = f"{name}: {what}" + (f" — {why}" if why else "")
            self.failed.append(line)
            print(f"FAIL  {line}")
        return ok

    def equal(self, file: Path | str, what: str, got, want) -> bool:
        return self.check(got == want, file, f"{what} = {want!r}", f"found {got!r}")

    def skip(self, file: Path, what: str) -> None:
        self.skipped += 1
        print(f"skip  {rel(file)}: {what}")

    def summary(self) -> str:
        """The closing line, in the form CI counts: `deploy: N passed, N failed`."""
        skipped = f", {self.skipped} skipped" if self.skipped else ""
        return f"deploy: {self.passed} passed, {len(self.failed)} failed{skipped}"


def load_yaml(path: Path) -> dict:
    """A YAML file's (first) mapping; {} when it does not parse (check_yaml says so)."""
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return doc if isinstance(doc, dict) else {}


# ---------------------------------------------------------------- crisisd


class Crisisd:
    """The binary under test, and the settings its `config check --help` lists."""

    def __init__(self, binary: Path) -> None:
        self.binary = binary
        done = subprocess.run(
            [str(binary), "config", "check", "--help"], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            sys.exit(
                f"{binary} config check --help failed ({done.returncode}): {done.stderr.strip()}\n"
                "this test needs a crisisd with `config check`"
            )
        # flag -> {"env": its variable, "default": its default}, from the help's blocks.
        self.flags: dict[str, dict] = {}
        for block in re.split(r"\n(?=\s+(?:-\w, )?--[a-z])", done.stdout):
            found = re.match(r"\s+(?:-\w, )?--([a-z][a-z0-9-]*)", block)
            if not found:
                continue
            text = " ".join(block.split())
            env = re.search(r"\[env: ([A-Z0-9_]+)=", text)
            default = re.search(r"\[default: ([^\]]*)\]", text)
            self.flags[found.group(1)] = {
                "env": env.group(1) if env else None,
                "default": default.group(1) if default else None,
            }
        self.envs = {f["env"] for f in self.flags.values() if f["env"]}
        self.keys = {flag.replace("-", "_") for flag in self.flags} - {"help", "config"}

    def run(self, args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
        """`crisisd ARGS` under exactly ENV (and PATH, HOME); (exit code, stdout, stderr)."""
        base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
        done = subprocess.run(
            [str(self.binary), *args],
            env={**base, **env},
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        return done.returncode, done.stdout, done.stderr


def effective(stdout: str, root: Path) -> dict[str, tuple[str, str]]:
    """`config check`'s printout, `setting  value  (source)` a line: setting -> (value,
    source), with paths moved back out of root."""
    settings = {}
    for line in stdout.splitlines():
        found = re.match(r"^([a-z][a-z0-9_]*)\s+(.*?)\s+\(([^()]*)\)\s*$", line)
        if found:
            settings[found.group(1)] = (found.group(2).replace(str(root), ""), found.group(3))
    return settings


# ---------------------------------------------------------------- scratch file systems


class Scratch:
    """A directory standing for a container's (or a machine's) root file system."""

    def __init__(self, parent: Path, name: str) -> None:
        self.root = parent / name
        self.root.mkdir()

    def at(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def write(self, path: str, text: str, mode: int = 0o644) -> None:
        target = self.at(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(mode)

    def mkdir(self, path: str) -> None:
        self.at(path).mkdir(parents=True, exist_ok=True)

    def mount_dir(self, path: str) -> None:
        """An empty directory mounted at path, hiding what the image had there."""
        target = self.at(path)
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        target.mkdir(parents=True)

    def moved(self, value: str) -> str:
        """An absolute path moved under the root; anything else as it is."""
        return str(self.at(value)) if value.startswith("/") else value

    def moved_arg(self, arg: str) -> str:
        if arg.startswith("--") and "=" in arg:
            flag, value = arg.split("=", 1)
            return f"{flag}={self.moved(value)}"
        return self.moved(arg)

    def moved_table(self, table: dict) -> dict:
        return {k: self.moved(v) if isinstance(v, str) else v for k, v in table.items()}

    def make_named_files(self, table: dict) -> None:
        """The files a configuration names, as an operator would provide them."""
        compensation = json.loads(POLICIES["compensation-policy.json"].read_text())
        content = {
            "master_key_file": (MASTER_KEY, 0o600),
            "nats_password_file": (SECRET_CONTENT["nats-password"], 0o600),
            "tokens_file": (SECRET_CONTENT["tokens.json"], 0o600),
            "policy": (POLICIES["crisis-policy.json"].read_text(), 0o644),
            "compensation_policy": (POLICIES["compensation-policy.json"].read_text(), 0o644),
            "goodwill_policy": (json.dumps(compensation.get("goodwill", {})), 0o644),
        }
        for key, value in table.items():
            if not (isinstance(value, str) and value.startswith("/")):
                continue
            if key == "data_dir":
                self.mkdir(value)
            elif key in content:
                self.write(value, *content[key])


def toml_text(table: dict) -> str:
    """A flat table as TOML (json.dumps writes a valid TOML basic string)."""
    lines = []
    for key, value in table.items():
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, (int, float)):
            lines.append(f"{key} = {value}")
        else:
            lines.append(f"{key} = {json.dumps(value, default=str)}")
    return "\n".join(lines) + "\n"


def read_toml(path: Path) -> dict:
    return tomllib.loads(path.read_text())


# ---------------------------------------------------------------- Dockerfile


class Dockerfile:
    """A Dockerfile's stages and instructions (no heredocs, no ARG substitution)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stages: list[dict] = []
        logical, buffer = [], ""
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if line.startswith("#") or (not line and not buffer):
                continue
            if line.endswith("\\"):
                buffer += line[:-1] + " "
                continue
            logical.append(buffer + line)
            buffer = ""
        for line in logical:
            word, _, rest = line.partition(" ")
            word, rest = word.upper(), rest.strip()
            if word == "FROM":
                parts = [p for p in rest.split() if not p.startswith("--")]
                alias = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
                self.stages.append({"image": parts[0], "alias": alias, "lines": []})
            elif self.stages:
                self.stages[-1]["lines"].append((word, rest))

    def runtime(self) -> dict:
        return self.stages[-1]

    def all(self, word: str, stage: dict | None = None) -> list[str]:
        return [rest for w, rest in (stage or self.runtime())["lines"] if w == word]

    def last(self, word: str) -> str | None:
        found = self.all(word)
        return found[-1] if found else None

    def env(self) -> dict[str, str]:
        env = {}
        for rest in self.all("ENV"):
            parts = shlex.split(rest)
            if parts and "=" not in parts[0]:
                env[parts[0]] = " ".join(parts[1:])
            else:
                env.update(p.split("=", 1) for p in parts)
        return env

    def exec_form(self, word: str) -> list[str] | None:
        """ENTRYPOINT or CMD as a JSON list; None when absent or in shell form."""
        rest = self.last(word)
        try:
            value = json.loads(rest) if rest is not None else None
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, list) else None

    def volumes(self) -> list[str]:
        out = []
        for rest in self.all("VOLUME"):
            out += json.loads(rest) if rest.startswith("[") else rest.split()
        return out

    def exposed(self) -> list[int]:
        return [int(p.split("/")[0]) for rest in self.all("EXPOSE") for p in rest.split()]

    def workdir(self) -> str:
        return (self.all("WORKDIR") or ["/"])[-1]

    def copies(self) -> list[tuple[list[str], str, list[str]]]:
        """The runtime stage's COPY instructions: (sources, destination, flags)."""
        out = []
        for rest in self.all("COPY"):
            parts = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
            flags = [p for p in parts if p.startswith("--")]
            paths = [p for p in parts if not p.startswith("--")]
            out.append((paths[:-1], paths[-1], flags))
        return out

    def user_uid(self) -> tuple[str | None, int | None]:
        """USER, and its uid: the number itself, or the --uid its useradd gives it."""
        user = self.last("USER")
        if user is None:
            return None, None
        name = user.split(":")[0]
        if name.isdigit():
            return user, int(name)
        for run in self.all("RUN"):
            pattern = r"useradd\b[^&;|]*?--uid[ =](\d+)[^&;|]*?\s" + re.escape(name) + r"\b"
            found = re.search(pattern, run)
            if found:
                return user, int(found.group(1))
        return user, None

    def lay_out(self, fs: Scratch) -> None:
        """The image's files a deployment can name: what COPY puts there from the
        context, the WORKDIR and the VOLUME directories."""
        for sources, dest, flags in self.copies():
            if any(f.startswith("--from") for f in flags):
                continue
            for source in sources:
                origin = ROOT / source
                into_dir = dest.endswith("/") or len(sources) > 1
                if origin.is_file():
                    fs.write(dest + origin.name if into_dir else dest, origin.read_text())
        for directory in [*self.all("WORKDIR"), *self.volumes()]:
            fs.mkdir(directory)


def dockerignored(patterns: list[str], path: str) -> bool:
    """Whether .dockerignore's patterns leave path out of the build context: a pattern
    matches the path or a directory above it; `**` any number of directories, `*` and
    `?` within one; `!` re-includes; the last matching pattern wins."""
    excluded = False
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        regex = ""
        for token in re.split(r"(\*\*/|\*\*|\*|\?)", body.strip("/")):
            regex += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(
                token, re.escape(token)
            )
        if any(re.fullmatch(regex, prefix) for prefix in prefixes):
            excluded = not negate
    return excluded


# ---------------------------------------------------------------- systemd, NATS


def systemd_unit(path: Path) -> tuple[dict[str, list[str]], list[str]]:
    """The [Service] section's settings (each a list: keys repeat), and its
    commented-out Environment= values."""
    section, settings, commented = None, {}, []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line.strip("[]")
        elif section != "Service":
            continue
        elif re.match(r"#\s*Environment=", line):
            commented.append(line.lstrip("#").strip().split("=", 1)[1])
        elif line and not line.startswith(("#", ";")) and "=" in line:
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings, commented


def unit_env(values: list[str]) -> dict[str, str]:
    """Environment= values (each one or more quoted assignments) as one mapping."""
    return dict(item.split("=", 1) for value in values for item in shlex.split(value))


def unit_argv(settings: dict[str, list[str]]) -> list[str]:
    """ExecStart's command line, without systemd's prefixes (-, @, +, !, :)."""
    return shlex.split(settings.get("ExecStart", [""])[-1].lstrip("-@+!:"))


def nats_conf(path: Path) -> tuple[int, set[str], list[str]]:
    """nats-server.conf's client port, its users, and the environment variables it
    reads (bare $NAME values; "$JS.API.>" in quotes is a subject, not a variable)."""
    body = "\n".join(line.split("#", 1)[0] for line in path.read_text().splitlines())
    port = re.search(r"^\s*port\s*[:=]\s*(\d+)", body, re.M)
    listen = re.search(r"^\s*listen\s*[:=]\s*\S*?:(\d+)", body, re.M)
    client_port = int(port.group(1)) if port else int(listen.group(1)) if listen else 4222
    users = set(re.findall(r"\buser\s*:\s*([A-Za-z0-9_]+)", body))
    unquoted = re.sub(r'"[^"\n]*"', '""', body)
    variables = sorted(set(re.findall(r"\$([A-Z][A-Z0-9_]*)", unquoted)))
    return client_port, users, variables


# ---------------------------------------------------------------- small parsers


def port_of(address: str | None) -> int | None:
    found = re.search(r":(\d+)$", address or "")
    return int(found.group(1)) if found else None


def published_port(spec) -> tuple[str | None, int | None, int | None]:
    """A compose ports entry: (host address, host port, container port)."""
    if isinstance(spec, dict):
        published = spec.get("published")
        return spec.get("host_ip"), int(published) if published else None, int(spec["target"])
    parts = str(spec).split("/")[0].split(":")
    if len(parts) == 3:
        return parts[0], int(parts[1]), int(parts[2])
    if len(parts) == 2:
        return None, int(parts[0]), int(parts[1])
    return None, None, int(parts[0])


def duration_s(text) -> float:
    """A compose or systemd duration ("30s", "1m30s", "30") in seconds."""
    if isinstance(text, (int, float)):
        return float(text)
    units = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "": 1}
    return sum(
        float(number) * units[unit]
        for number, unit in re.findall(r"([\d.]+)\s*(ms|min|h|m|s|)", str(text))
    )


def compose_mounts(service: dict) -> list[tuple[str | None, str]]:
    """A compose service's volumes: (source, target); a source that is not a path is a
    named volume."""
    out = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume.get("source"), volume["target"]
        out.append((source, target))
    return out


def is_named_volume(source: str | None) -> bool:
    return bool(source) and not source.startswith((".", "/", "~"))


def compose_env(service: dict) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {k: str(v) for k, v in environment.items()}


def as_argv(value) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else list(value or [])
