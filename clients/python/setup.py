"""Builds sla-evaluator-client, generating the `sla.v1` stubs from the proto as the wheel is built.

Generated at build time rather than checked in: the proto is the only source, so an installed
client always matches the proto of the checkout it was built from, and no second copy of the API
can go stale. In a checkout the proto and the service config are read from the repository
(../../proto, ../service-config.json); an sdist carries copies of both.
"""

import importlib.resources
import pathlib
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = pathlib.Path(__file__).parent.resolve()
PROTO = "sla/v1/sla.proto"
SOURCES = {
    "proto": [HERE / "proto", HERE.parent.parent / "proto"],
    "service-config.json": [HERE / "service-config.json", HERE.parent / "service-config.json"],
}


def source(name):
    for path in SOURCES[name]:
        if path.exists():
            return path
    raise SystemExit(f"cannot find {name} (looked in {', '.join(map(str, SOURCES[name]))})")


def generate(out):
    from grpc_tools import protoc

    include = importlib.resources.files("grpc_tools") / "_proto"
    status = protoc.main([
        "grpc_tools.protoc",
        f"-I{source('proto')}",
        f"-I{include}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        PROTO,
    ])
    if status != 0:
        raise SystemExit(f"protoc failed ({status}) on {source('proto') / PROTO}")


class BuildPy(build_py):
    """Builds the helper, then writes the generated package `sla.v1` and the service config."""

    def run(self):
        super().run()
        out = pathlib.Path(self.build_lib)
        generate(out)
        shutil.copyfile(source("service-config.json"), out / "sla_client" / "service_config.json")


class Sdist(sdist):
    """Carries the proto and the service config, which live outside this directory."""

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        base = pathlib.Path(base_dir)
        (base / "proto" / PROTO).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source("proto") / PROTO, base / "proto" / PROTO)
        shutil.copyfile(source("service-config.json"), base / "service-config.json")


setup(cmdclass={"build_py": BuildPy, "sdist": Sdist})
