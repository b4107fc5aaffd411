"""Each distribution installs alone, from its wheel, with only what it declares.

remofile-client and remofile-server are each built as a wheel and installed into a fresh
virtual environment (no system site-packages, no editable installs, no PYTHONPATH). The
environment must then import remofile.core and the generated messages, and must not hold
the sibling distributions or the CLI's dependencies. ``remofile`` is remofile-core's
package, which spans the folders of every distribution (pkgutil style); ``from remofile
import X`` works for the names of what is installed and names the distribution to install
for the others.

The wheels are built with build isolation (setuptools is fetched from the index), from a
copy of each source folder, so the working tree is never written to.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
DISTRIBUTIONS = ("remofile-core", "remofile-client", "remofile-server")
PACKAGE_OF = {"remofile-client": "remofile.client", "remofile-server": "remofile.server"}
#: What each installed distribution must not bring along.
ABSENT = {
    "remofile-client": {"remofile-server", "remofile-cli", "click", "python-daemon"},
    "remofile-server": {"remofile-client", "remofile-cli", "click", "python-daemon"},
}


def run(*command: str | Path, cwd: Path | None = None) -> str:
    """Run a command with a clean environment; fail the test with its output if it fails."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")
        and not key.startswith("PYTHONUSER")
    }
    environment["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    environment["PIP_NO_INPUT"] = "1"
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"command failed ({result.returncode}): {' '.join(map(str, command))}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result.stdout


@dataclass(frozen=True)
class Wheelhouse:
    #: The built remofile wheels.
    wheels: Path
    #: Wheels of the third-party dependencies of remofile-core (protobuf, pyzmq).
    dependencies: Path
    #: The copied source folders the wheels were built from.
    sources: Path

    def version_of(self, distribution: str) -> str:
        prefix = distribution.replace("-", "_") + "-"
        [wheel] = [w for w in self.wheels.glob("*.whl") if w.name.startswith(prefix)]
        return wheel.name[len(prefix) :].split("-")[0]

    def wheel_of(self, distribution: str) -> Path:
        prefix = distribution.replace("-", "_") + "-"
        [wheel] = [w for w in self.wheels.glob("*.whl") if w.name.startswith(prefix)]
        return wheel


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Wheelhouse:
    root = tmp_path_factory.mktemp("wheelhouse")
    sources = root / "sources"
    for distribution in DISTRIBUTIONS:
        shutil.copytree(
            REPOSITORY / distribution,
            sources / distribution,
            ignore=shutil.ignore_patterns(
                "*.egg-info", "__pycache__", "build", "dist", ".hypothesis", "tests"
            ),
        )
    wheels = root / "wheels"
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--wheel-dir",
        wheels,
        *(sources / distribution for distribution in DISTRIBUTIONS),
    )
    dependencies = root / "dependencies"
    house = Wheelhouse(wheels, dependencies, sources)
    # Fetch remofile-core's own dependencies once, as its wheel declares them; the
    # environments then install offline, so no remofile-* name is looked up on an index.
    run(
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--dest",
        dependencies,
        house.wheel_of("remofile-core"),
    )
    return house


@dataclass(frozen=True)
class Environment:
    distribution: str
    python: Path
    #: The answers of PROBE, run inside the environment.
    probe: dict[str, object]
    #: `pip list`, lower-cased distribution names.
    installed: set[str]
    #: Whether the distribution's own package has an __init__.py yet.
    has_package: bool


PROBE = textwrap.dedent(
    """
    import importlib.util, json, os, sys, sysconfig

    def spec(name):
        try:
            found = importlib.util.find_spec(name)
        except ModuleNotFoundError:
            return None
        if found is None:
            return None
        return {"origin": found.origin, "locations": list(found.submodule_search_locations or [])}

    purelib = sysconfig.get_paths()["purelib"]
    print(json.dumps({
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "purelib": purelib,
        "sys_path": sys.path,
        "remofile_init": os.path.exists(os.path.join(purelib, "remofile", "__init__.py")),
        "specs": {name: spec(name) for name in (
            "remofile", "remofile.core", "remofile.v1", "remofile.v1.remofile_pb2",
            "remofile.client", "remofile.server", "remofile.cli", "remofile.conformance",
            "click", "daemon",
        )},
    }))
    """
)


@pytest.fixture(scope="module", params=["remofile-client", "remofile-server"])
def environment(
    request: pytest.FixtureRequest,
    wheelhouse: Wheelhouse,
    tmp_path_factory: pytest.TempPathFactory,
) -> Environment:
    distribution: str = request.param
    root = tmp_path_factory.mktemp(distribution)
    venv = root / "venv"
    run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    run(
        python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-index",
        "--find-links",
        wheelhouse.wheels,
        "--find-links",
        wheelhouse.dependencies,
        f"{distribution}=={wheelhouse.version_of(distribution)}",
        cwd=root,
    )
    probe = json.loads(run(python, "-I", "-c", PROBE, cwd=root))
    listed = json.loads(run(python, "-m", "pip", "list", "--format=json", cwd=root))
    package_folder = (
        wheelhouse.sources / distribution / "src" / "remofile" / distribution.split("-")[1]
    )
    return Environment(
        distribution=distribution,
        python=python,
        probe=probe,
        installed={entry["name"].lower().replace("_", "-") for entry in listed},
        has_package=(package_folder / "__init__.py").exists(),
    )


def specs(environment: Environment) -> dict[str, dict[str, object] | None]:
    return environment.probe["specs"]  # type: ignore[return-value]


def test_environment_is_fresh_and_isolated(environment: Environment) -> None:
    probe = environment.probe
    assert probe["prefix"] != probe["base_prefix"]
    assert Path(str(probe["prefix"])) == environment.python.parent.parent
    for entry in probe["sys_path"]:  # type: ignore[attr-defined]
        assert not str(entry).startswith(str(REPOSITORY)), entry


def test_installs_itself_and_remofile_core(environment: Environment) -> None:
    assert environment.distribution in environment.installed
    assert "remofile-core" in environment.installed
    assert {"protobuf", "pyzmq"} <= environment.installed


def test_installs_nothing_it_does_not_need(environment: Environment) -> None:
    assert not (environment.installed & ABSENT[environment.distribution])
    allowed = {
        environment.distribution,
        "remofile-core",
        "protobuf",
        "pyzmq",
        "blake3",  # the fast digest (SPEC.md 7.2)
        "typing-extensions",  # blake3's, on Pythons before 3.12
        "backports.zstd",  # COMPRESSION_ZSTD (SPEC 7.3), on Pythons before 3.14
        "pip",
        "setuptools",
        "wheel",
    }
    assert environment.installed <= allowed


def test_dependencies_are_consistent(environment: Environment) -> None:
    output = run(environment.python, "-m", "pip", "check")
    assert "No broken requirements" in output


def test_core_and_generated_code_import_from_the_wheel(environment: Environment) -> None:
    purelib = str(environment.probe["purelib"])
    for name in ("remofile.core", "remofile.v1", "remofile.v1.remofile_pb2"):
        spec = specs(environment)[name]
        assert spec is not None, name
        assert str(spec["origin"]).startswith(purelib), spec
    script = textwrap.dedent(
        """
        import remofile.core, remofile.v1.remofile_pb2 as pb
        from remofile.core import generate_keys, generate_token, is_file_name_valid
        from remofile.core.transitions import ProtocolMachine
        request = pb.Request(token=generate_token(), hello=pb.Hello(protocol_version=1))
        assert pb.Request.FromString(request.SerializeToString()) == request
        assert len(generate_keys()[0]) == 40
        assert is_file_name_valid("naïve") and not is_file_name_valid("..")
        ProtocolMachine()
        print("ok")
        """
    )
    assert run(environment.python, "-I", "-c", script).strip() == "ok"


def test_siblings_and_cli_are_absent(environment: Environment) -> None:
    found = specs(environment)
    own = PACKAGE_OF[environment.distribution]
    for name in ("remofile.client", "remofile.server", "remofile.cli", "remofile.conformance"):
        if name != own:
            assert found[name] is None, name
    assert found["click"] is None
    assert found["daemon"] is None


def test_remofile_is_core_package_spanning_every_distribution(environment: Environment) -> None:
    # remofile-core ships remofile/__init__.py (pkgutil style: it extends __path__ over
    # every installed remofile folder), so that the top level can re-export names.
    assert environment.probe["remofile_init"] is True
    remofile = specs(environment)["remofile"]
    assert remofile is not None
    assert str(remofile["origin"]).endswith("remofile/__init__.py")
    assert remofile["locations"]


#: What ``from remofile import NAME`` gives with only the distribution installed: a name
#: of its own or of remofile-core works, one of the sibling fails naming what to install.
TOP_LEVEL = textwrap.dedent(
    """
    import json
    result = {}
    for name in ("Client", "synchronize_upload", "Server", "LocalStorage",
                 "generate_token", "RemofileException", "RemofileFileSystem"):
        try:
            exec(f"from remofile import {name}")
        except ImportError as error:
            result[name] = "ImportError: " + str(error)
        else:
            result[name] = "ok"
    namespace = {}
    exec("from remofile import *", namespace)
    result["*"] = sorted(key for key in namespace if not key.startswith("__"))
    print(json.dumps(result))
    """
)


def test_top_level_import_names_the_distribution_to_install(environment: Environment) -> None:
    result = json.loads(run(environment.python, "-I", "-c", TOP_LEVEL))
    own, sibling = (
        (("Client", "synchronize_upload"), ("Server", "LocalStorage"))
        if environment.distribution == "remofile-client"
        else (("Server", "LocalStorage"), ("Client", "synchronize_upload"))
    )
    missing = (
        "remofile-server" if environment.distribution == "remofile-client" else "remofile-client"
    )
    for name in (*own, "generate_token", "RemofileException"):
        assert result[name] == "ok", (name, result[name])
        assert name in result["*"]
    for name in sibling:
        assert result[name].startswith("ImportError: "), result[name]
        assert f"pip install {missing}" in result[name]
        assert name not in result["*"]
    # Without fsspec (neither installs it), the filesystem names the extra to install.
    assert "pip install 'remofile-client[fsspec]'" in result["RemofileFileSystem"]
    assert "RemofileFileSystem" not in result["*"]


def test_own_package_imports(environment: Environment) -> None:
    own = PACKAGE_OF[environment.distribution]
    if not environment.has_package:
        pytest.skip(f"{own} has no __init__.py yet: nothing to import beyond its py.typed")
    spec = specs(environment)[own]
    assert spec is not None
    assert str(spec["origin"]).startswith(str(environment.probe["purelib"]))
    run(environment.python, "-I", "-c", f"import {own}, remofile.core, remofile.v1.remofile_pb2")
