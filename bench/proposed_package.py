"""Build a copy of the acehooks package with the proposed import changes, to measure them before anyone edits it.

The copy goes to .acehooks/bench-proposed/acehooks; putting that folder
first on PYTHONPATH makes Python import it instead of the editable install.
Each change is a text replacement that must match the current source
exactly, so a proposal that no longer applies fails loudly instead of
measuring the unchanged code.

The change: settings.py reads ACEHOOKS_* variables into a plain pydantic
model, so pydantic-settings (and the asyncio it imports) is not loaded.
The package already imports cryptography only inside the SendGrid preset's
functions, which the earlier proposal measured.
"""

import shutil
from pathlib import Path

from common import ROOT

SOURCE = ROOT / "shared" / "acehooks"
DESTINATION = ROOT / ".acehooks" / "bench-proposed"

SETTINGS_CHANGES = [
    (
        "from functools import lru_cache\nfrom pathlib import Path\n\nfrom pydantic import Field\n"
        "from pydantic_settings import BaseSettings, SettingsConfigDict\n",
        "import os\nfrom functools import lru_cache\nfrom pathlib import Path\n\n"
        "from pydantic import BaseModel, ConfigDict, Field\n",
    ),
    (
        "class Settings(BaseSettings):",
        "ENV_PREFIX = \"ACEHOOKS_\"\n\n\nclass Settings(BaseModel):",
    ),
    (
        "    model_config = SettingsConfigDict(env_prefix=\"ACEHOOKS_\", extra=\"ignore\")",
        "    model_config = ConfigDict(extra=\"ignore\")",
    ),
    (
        "def get_settings() -> Settings:\n    return Settings()",
        "def get_settings() -> Settings:\n"
        "    values = {name[len(ENV_PREFIX):].lower(): value for name, value in os.environ.items()\n"
        "              if name.upper().startswith(ENV_PREFIX)}\n"
        "    return Settings(**values)",
    ),
]

CHANGES = {"settings.py": SETTINGS_CHANGES}


class ProposalOutdated(RuntimeError):
    """A proposed replacement no longer matches the package source."""


def build() -> Path:
    """Copy the package to DESTINATION, apply every change, and return the folder to put on PYTHONPATH."""
    target = DESTINATION / "acehooks"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(SOURCE, target, ignore=shutil.ignore_patterns("__pycache__"))
    for relative, replacements in CHANGES.items():
        path = target / relative
        text = path.read_text()
        for old, new in replacements:
            if text.count(old) != 1:
                raise ProposalOutdated(f"{relative}: expected text found {text.count(old)} times: {old[:60]!r}")
            text = text.replace(old, new)
        path.write_text(text)
    return DESTINATION


if __name__ == "__main__":
    print(build())
