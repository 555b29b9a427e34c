"""Real JavaScript Salesforce clients (jsforce, salesforce-pubsub-api-client) driven against the sandbox.

The clients are pinned in ``package.json`` / ``package-lock.json`` next to this file. When ``node_modules`` is not
there (a fresh clone, CI), ``npm ci`` installs them once into a cache directory keyed by the lock file
(``$LEDGERLINK_JS_CACHE``, else ``~/.cache/ledgerlink/js-clients``), and the scripts run from a scratch directory
whose ``node_modules`` links to it.

Each test starts a sandbox over real HTTPS (and gRPC for Pub/Sub), runs one node script with the sandbox's
address and credentials in ``LEDGERLINK_SANDBOX`` (JSON), reads the script's JSON report, and asserts on it and on
the org's own records. Node trusts the sandbox's generated CA through ``NODE_EXTRA_CA_CERTS``.

Without node or npm the tests skip, or fail when ``LEDGERLINK_REQUIRE_NODE=1`` (set by ``.ci/run``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ledgerlink.sandbox.runner import Sandbox, start_pubsub, start_sandbox
from ledgerlink.sandbox.salesforce import SalesforceOrg

JS_DIR = Path(__file__).resolve().parent
REQUIRE_ENV = "LEDGERLINK_REQUIRE_NODE"
CACHE_ENV = "LEDGERLINK_JS_CACHE"
MIN_NODE = (20, 18)  # package.json "engines": undici 7 (under salesforce-pubsub-api-client) needs >= 20.18.1
INSTALL_TIMEOUT_SECONDS = 600
SCRIPT_TIMEOUT_SECONDS = 120


def _unavailable(message: str) -> NoReturn:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{message} ({REQUIRE_ENV}=1: the JavaScript client tests must run here)", pytrace=False)
    pytest.skip(message)


def _node_version(node: str) -> tuple[int, int]:
    out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    major, minor, *_ = out.strip().lstrip("v").split(".")
    return int(major), int(minor)


def _cache_root() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ledgerlink" / "js-clients"


def _matches_lock(modules: Path) -> bool:
    """True when ``modules`` holds the locked versions of the direct dependencies (a stale install is not used)."""
    locked = json.loads((JS_DIR / "package-lock.json").read_text())["packages"]
    for name in json.loads((JS_DIR / "package.json").read_text())["dependencies"]:
        manifest = modules / name / "package.json"
        if (
            not manifest.is_file()
            or json.loads(manifest.read_text())["version"] != locked[f"node_modules/{name}"]["version"]
        ):
            return False
    return True


def _installed(npm: str) -> Path:
    """A directory holding the locked ``node_modules``: this one if a developer installed here, else the cache."""
    if (JS_DIR / "node_modules").is_dir() and _matches_lock(JS_DIR / "node_modules"):
        return JS_DIR
    manifest = [JS_DIR / "package.json", JS_DIR / "package-lock.json"]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in manifest)).hexdigest()[:16]
    root = _cache_root()
    target = root / digest
    if (target / "node_modules" / ".package-lock.json").is_file():
        return target
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:  # no writable home (some CI users): a shared temporary directory will do
        root = Path(tempfile.gettempdir()) / "ledgerlink-js-clients"
        root.mkdir(parents=True, exist_ok=True)
        target = root / digest
        if (target / "node_modules" / ".package-lock.json").is_file():
            return target
    with open(root / f"{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs at once install once
        if (target / "node_modules" / ".package-lock.json").is_file():
            return target
        staging = root / f"{digest}.staging-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        for path in manifest:
            shutil.copy2(path, staging / path.name)
        # --ignore-scripts: nothing here needs an install script, and npm versions differ on running them.
        command = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
        try:
            done = subprocess.run(
                command, cwd=staging, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_SECONDS, env=_env()
            )
        except subprocess.TimeoutExpired:
            shutil.rmtree(staging, ignore_errors=True)
            _unavailable(f"`npm ci` took more than {INSTALL_TIMEOUT_SECONDS} s in {staging}")
        if done.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            _unavailable(f"`npm ci` failed for tests/js_clients ({done.returncode}): {done.stderr.strip()[-2000:]}")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return target


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A small, predictable environment: no proxies for loopback, no inherited CA overrides."""
    keep = ("PATH", "HOME", "TMPDIR", "LANG", "npm_config_cache", "NPM_CONFIG_CACHE", "NPM_CONFIG_REGISTRY")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra or {})
    return env


@dataclass
class NodeRunner:
    node: str
    run_dir: Path
    report_dir: Path

    def run(self, script: str, sandbox: dict[str, Any], ca_file: Path, timeout: float = SCRIPT_TIMEOUT_SECONDS) -> Any:
        """Run ``script`` against ``sandbox`` and return its JSON report; a failing script fails the test."""
        report = self.report_dir / f"{script}.{os.getpid()}.{id(sandbox)}.json"
        report.unlink(missing_ok=True)
        env = _env({"LEDGERLINK_SANDBOX": json.dumps(sandbox), "LEDGERLINK_REPORT": str(report)})
        env["NODE_EXTRA_CA_CERTS"] = str(ca_file)
        # --no-deprecation: the Pub/Sub client names the TLS server by IP (127.0.0.1), which Node warns about.
        done = subprocess.run(
            [self.node, "--no-deprecation", str(self.run_dir / script)],
            cwd=self.run_dir,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
        if done.returncode != 0 or not report.is_file():
            detail = report.read_text() if report.is_file() else "(no report)"
            pytest.fail(
                f"{script} exited {done.returncode}\nreport: {detail}\nstdout:\n{done.stdout[-4000:]}\n"
                f"stderr:\n{done.stderr[-4000:]}",
                pytrace=False,
            )
        result = json.loads(report.read_text())
        report.unlink()
        return result


@pytest.fixture(scope="session")
def node_runner(tmp_path_factory: pytest.TempPathFactory) -> NodeRunner:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _unavailable("node and npm are not on PATH: the jsforce and Pub/Sub client tests need Node.js 20.18+")
    if _node_version(node) < MIN_NODE:
        _unavailable(f"Node.js {'.'.join(map(str, _node_version(node)))} is too old: the pinned clients need 20.18+")
    installed = _installed(npm)
    reports = tmp_path_factory.mktemp("js-reports")
    if installed == JS_DIR:
        return NodeRunner(node, JS_DIR, reports)
    run_dir = tmp_path_factory.mktemp("js-clients")
    for script in JS_DIR.glob("*.mjs"):
        shutil.copy2(script, run_dir / script.name)
    (run_dir / "node_modules").symlink_to(installed / "node_modules", target_is_directory=True)
    return NodeRunner(node, run_dir, reports)


@dataclass
class JsSandbox:
    """A Salesforce sandbox over TLS (REST on https, Pub/Sub on gRPC with TLS) and what a script needs to reach it."""

    box: Sandbox
    runner: NodeRunner

    @property
    def org(self) -> SalesforceOrg:
        org: SalesforceOrg = self.box.server.server.config.app.app.state.org  # the FaultInjector wraps the app
        return org

    def settings(self, **extra: Any) -> dict[str, Any]:
        info = self.box.describe()
        return {
            "baseUrl": info["base_url"],
            "pubsub": info.get("pubsub"),
            "clientId": self.box.config.client_id,
            "clientSecret": self.box.config.client_secret,
            "username": self.box.config.username,
            "password": self.box.config.password,
            "orgId": self.box.config.org_id,
            "userId": self.box.config.user_id,
            **extra,
        }

    def run(self, script: str, **extra: Any) -> Any:
        assert self.box.server.tls is not None
        return self.runner.run(script, self.settings(**extra), self.box.server.tls.ca_file)

    def records(self, sobject: str, **where: Any) -> list[dict[str, Any]]:
        """The org's live records of ``sobject`` whose fields equal ``where``."""
        obj = self.org.schema.get(sobject)
        assert obj is not None
        rows = self.org.records.load_all(obj)
        return [dict(r) for r in rows if all(r.get(k) == v for k, v in where.items())]


@pytest.fixture
def make_js_sandbox(node_runner: NodeRunner, tmp_path: Path) -> Iterator[Any]:
    """Start a sandbox (with ``pubsub=True``, its Pub/Sub API too; other keywords are sandbox config)."""
    started: list[Sandbox] = []

    def make(
        *,
        pubsub: bool = False,
        keepalive_seconds: float | None = None,
        idle_close_seconds: float | None = None,
        **overrides: Any,
    ) -> JsSandbox:
        box = start_sandbox("salesforce", tmp_path / f"org{len(started)}", tls=True, **overrides)
        started.append(box)
        if pubsub:
            start_pubsub(box, keepalive_seconds=keepalive_seconds, idle_close_seconds=idle_close_seconds)
        return JsSandbox(box, node_runner)

    yield make
    for box in started:
        box.server.server.force_exit = True  # don't wait for keep-alive connections to close
        with contextlib.suppress(Exception):
            box.stop()


def key_pair() -> tuple[str, str]:
    """A fresh RSA key: (private key PEM for the script, public key PEM for the org's JWT bearer setting)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture
def js_sandbox(make_js_sandbox: Any) -> JsSandbox:
    sandbox: JsSandbox = make_js_sandbox()
    return sandbox
