"""Ship the repository's catalogue/ and profiles/ inside the wheel as fhir_resist/data/."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithData(build_py):
    def run(self) -> None:
        super().run()
        root = Path(__file__).parent
        for name in ("catalogue", "profiles"):
            source = root / name
            if source.is_dir():
                shutil.copytree(source, Path(self.build_lib) / "fhir_resist" / "data" / name,
                                dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildWithData})
