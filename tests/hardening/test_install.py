"""Finding 10: a fresh install is exactly what CI tested, and it reads HTML.

lxml 6.2 stopped pulling in ``lxml_html_clean``, which trafilatura's boilerplate remover imports:
on a fresh machine every HTML file, URL and sitemap failed while a warm machine passed. So the
project declares what its code (and its parsers' code paths) import, and installs pinned
versions from ``constraints.txt``, with the README's install and CI alike.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from chatforge.rag.parsers import parse_html

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def declared(extra: str | None = None) -> set[str]:
    requirements = PYPROJECT["project"]["dependencies"]
    if extra:
        requirements = requirements + PYPROJECT["project"]["optional-dependencies"][extra]
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def imported_top_modules(folder: Path, *, leave_out: Path | None = None) -> set[str]:
    names: set[str] = set()
    for path in folder.rglob("*.py"):
        if leave_out is not None and path.is_relative_to(leave_out):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"chatforge", "__future__"}


SOURCE = ROOT / "src" / "chatforge"
#: The offline speech models, installed with the ``voice`` extra (docs/voice.md).
SPEECH = SOURCE / "providers" / "speech"


def undeclared_imports(modules: set[str], packages: set[str]) -> dict[str, list[str]]:
    owners = metadata.packages_distributions()
    return {
        module: owners.get(module, ["?"])
        for module in modules
        if not {canonicalize_name(d) for d in owners.get(module, [])} & packages
    }


def test_every_package_the_code_imports_is_declared() -> None:
    core = undeclared_imports(imported_top_modules(SOURCE, leave_out=SPEECH), declared())
    speech = undeclared_imports(imported_top_modules(SPEECH), declared("voice"))
    assert not core, f"imported but not declared in pyproject.toml: {core}"
    assert not speech, f"imported by the speech models but not in the voice extra: {speech}"


def test_an_html_page_with_boilerplate_is_parsed() -> None:
    page = (
        "<html><head><title>Returns</title></head><body><nav><a href='/'>Home</a></nav>"
        "<main><h1>Returns policy</h1><p>You can return any product within 30 days of "
        "purchase for a full refund, as long as it is unused and in its original box. "
        "Refunds reach your card within five business days.</p></main>"
        "<footer>Copyright Example Shop</footer></body></html>"
    )
    document = parse_html(page, "https://shop.example/returns")
    text = " ".join(section.text for section in document.sections)
    assert "within 30 days of purchase" in text
    assert "Copyright" not in text


def pins() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            found[canonicalize_name(name)] = version
    return found


def requirement_closure(extra: str) -> set[str]:
    """Every distribution that ``chatforge[extra]`` needs, as installed here."""
    seen: set[str] = set()
    todo = [(canonicalize_name(n), extra if n == "chatforge" else None) for n in ["chatforge"]]
    while todo:
        name, wanted_extra = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for raw in metadata.requires(name) or []:
            requirement = Requirement(raw)
            environment = {"extra": wanted_extra or ""}
            if requirement.marker and not requirement.marker.evaluate(environment):
                continue
            for sub_extra in requirement.extras or {None}:
                todo.append((canonicalize_name(requirement.name), sub_extra))
    return seen - {"chatforge"}


def test_constraints_pin_every_installed_dependency_at_its_installed_version() -> None:
    pinned = pins()
    needed = requirement_closure("dev")
    unpinned = sorted(needed - set(pinned))
    assert not unpinned, f"add these to constraints.txt (scripts/lock): {unpinned}"
    drifted = {
        name: (metadata.version(name), pinned[name])
        for name in needed
        if metadata.version(name) != pinned[name]
    }
    assert not drifted, f"installed versions differ from constraints.txt: {drifted}"


def test_the_readme_and_ci_install_with_the_constraints() -> None:
    readme = (ROOT / "README.md").read_text()
    script = (ROOT / "scripts" / "test").read_text()
    assert re.search(r"pip install -c constraints\.txt -e \.", readme)
    assert re.search(r"pip install [^\n]*-c constraints\.txt[^\n]*-e '\.\[dev\]'", script)
