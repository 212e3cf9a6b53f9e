"""Build the source folder that every deployed function is created from.

Cloud Functions builds each function from one folder and installs only what
its ``requirements.txt`` lists, so the ``acehooks`` package has to be copied
into that folder: it is not on PyPI. The staged folder looks like this::

    main.py, actions.py (and any other top-level .py file of functions/)
    endpoints/*.json
    acehooks/...            copied from shared/acehooks, without caches
    requirements.txt        the runtime dependencies from the repository's requirements.txt

Relative to that folder, the configs are ``endpoints`` and the custom actions
``actions.py``. ``STAGED_ENVIRONMENT`` contains the variables that tell acehooks so.
"""

import shutil
from pathlib import Path

from .errors import AcehooksError

DEFAULT_OUT_DIR = Path("build/functions-source")
# Written into every staged folder, so stage() only ever deletes a folder it made itself.
MARKER_FILE = ".acehooks-staged"
# Settings that point acehooks at the configs and custom actions, relative to the staged folder. The
# deployed functions run with the source folder as their working directory, so relative paths resolve there.
STAGED_ENVIRONMENT = {"ACEHOOKS_CONFIG_DIR": "endpoints", "ACEHOOKS_ACTIONS_MODULE": "actions.py"}
REQUIRED_FILES = ("main.py", "actions.py")
SKIPPED_NAMES = ("__pycache__", "*.pyc", "*.pyo", ".DS_Store")


class StagingError(AcehooksError):
    """The repository lacks a file the staged source needs, or the output folder is unsafe to replace."""


def runtime_requirements(path: Path) -> list[str]:
    """Return the requirement lines of ``path``, without comments or blank lines.

    Raises StagingError on ``-r``, ``-e`` or path lines, because the build
    of a deployed function cannot follow them.
    """
    if not path.is_file():
        raise StagingError(f"{path}: runtime requirements file not found; the staged source needs it")
    requirements = []
    for number, raw_line in enumerate(path.read_text().splitlines(), start=1):
        line = raw_line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(("-", ".", "/")) or "file:" in line:
            raise StagingError(
                f"{path}: line {number}: {line!r} is an option or a local path; list only PyPI requirements "
                "there, because the staged source copies the acehooks package itself"
            )
        requirements.append(line)
    return requirements


def stage(root: Path, out_dir: Path = DEFAULT_OUT_DIR) -> Path:
    """Build the deployable source folder from the repository at ``root``; return its path.

    ``out_dir`` is replaced when it contains an earlier staged source, and is
    taken relative to ``root`` unless absolute. Raises StagingError when a
    required file is missing, or when ``out_dir`` exists and is not a
    staged folder (nothing is deleted then).
    """
    root = Path(root).resolve()
    out_dir = (root / out_dir).resolve()
    functions_dir = root / "functions"
    package_dir = root / "shared" / "acehooks"

    for name in REQUIRED_FILES:
        if not (functions_dir / name).is_file():
            raise StagingError(f"{functions_dir / name}: not found; every deployed function starts from it")
    if not (package_dir / "__init__.py").is_file():
        raise StagingError(f"{package_dir}: the acehooks package is not there; run deploy from the repository root")
    configs = sorted((functions_dir / "endpoints").glob("*.json"))
    if not configs:
        raise StagingError(f"{functions_dir / 'endpoints'}: no endpoint config (*.json) to deploy")
    requirements = runtime_requirements(root / "requirements.txt")

    _clear(out_dir)
    out_dir.mkdir(parents=True)
    (out_dir / MARKER_FILE).write_text("Built by acehooks deploy from the repository; edits here are overwritten.\n")

    for source in sorted(functions_dir.glob("*.py")):
        shutil.copy2(source, out_dir / source.name)
    (out_dir / "endpoints").mkdir()
    for config in configs:
        shutil.copy2(config, out_dir / "endpoints" / config.name)
    shutil.copytree(package_dir, out_dir / "acehooks", ignore=shutil.ignore_patterns(*SKIPPED_NAMES))
    (out_dir / "requirements.txt").write_text(
        "# Runtime dependencies, copied from the repository's requirements.txt by acehooks deploy.\n"
        + "\n".join(requirements) + "\n"
    )
    return out_dir


def _clear(out_dir: Path) -> None:
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise StagingError(f"{out_dir}: exists and is not a folder; choose another output folder")
    if any(out_dir.iterdir()) and not (out_dir / MARKER_FILE).is_file():
        raise StagingError(
            f"{out_dir}: exists and was not made by acehooks deploy (no {MARKER_FILE}); "
            "empty it or choose another output folder"
        )
    shutil.rmtree(out_dir)
