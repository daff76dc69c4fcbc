"""The documentation stays true: every setting is documented, the README's commands exist."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from chatforge.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _settings(model: type[BaseModel], prefix: str = "CHATFORGE_") -> Iterator[tuple[str, str]]:
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from _settings(annotation, f"{prefix}{name.upper()}__")
        else:
            yield f"{prefix}{name.upper()}", field.description or ""


def test_every_setting_is_described_and_documented() -> None:
    docs = (ROOT / "docs" / "configuration.md").read_text()
    settings = list(_settings(Settings))

    assert len(settings) >= 8
    undescribed = [name for name, description in settings if not description]
    undocumented = [name for name, _ in settings if f"`{name}`" not in docs]
    assert not undescribed, f"settings without a description: {undescribed}"
    assert not undocumented, f"settings missing from docs/configuration.md: {undocumented}"


def test_readme_quick_start_is_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()

    test_command = next(
        line.strip()
        for line in ci.splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith("set ")
    )
    assert test_command in readme
    assert "chatforge serve" in readme
