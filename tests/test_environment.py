"""The Binder/conda environment and pyproject.toml must name the same packages and pins."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
REQ = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(?:\[[^\]]*\])?\s*(.*)$")


def _split(spec: str):
    name, pin = REQ.match(spec).groups()
    return name.lower().replace("_", "-"), pin.replace(" ", "")


def _pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return dict(_split(s) for s in project["dependencies"])


def _environment():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    specs = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for s in dep["pip"]:
                if not s.startswith("-"):
                    name, pin = _split(s.replace("=", "==", 1) if re.match(r"^[\w\-]+=[^=]", s) else s)
                    specs[name] = pin
        else:
            name, pin = _split(re.sub(r"^([\w\-]+)=(?!=)", r"\1==", dep))
            specs[name] = pin
    return env, specs


def test_environment_parses_and_is_cpu_python311():
    env, specs = _environment()
    assert specs["python"] == "==3.11"
    pip = next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]
    assert any("download.pytorch.org/whl/cpu" in s for s in pip), "Binder must get the CPU-only torch build"
    assert "-e ." in pip, "environment.yml must install nblib from the repository"


def test_environment_names_the_same_packages_and_pins_as_pyproject():
    _, env = _environment()
    py = _pyproject()
    assert set(py) <= set(env), f"missing from environment.yml: {sorted(set(py) - set(env))}"
    extra = set(env) - set(py) - {"python", "pip"}
    assert not extra, f"environment.yml has packages pyproject.toml lacks: {sorted(extra)}"
    for name, pin in py.items():
        assert env[name] == pin, f"{name}: pyproject pins {pin!r}, environment.yml {env[name]!r}"


def test_pyproject_lists_every_package_and_ships_the_data_folder():
    """pyproject names nblib's packages one by one (data/ is mapped in as nblib._data), so a package
    added on disk must be added there too, or a regular install (Colab) would lack it."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "nblib").rglob("__init__.py")}
    assert set(cfg["packages"]) == on_disk | {"nblib._data", "nblib._data.results"}
    assert cfg["package-dir"] == {"nblib._data": "data"}
    shipped = cfg["package-data"]
    for needed in ("paper_results.md", "cifar-n/cifar10n.json"):
        assert any(Path(needed).match(pattern) for pattern in shipped["nblib._data"]), needed
    assert "*.json.gz" in shipped["nblib._data.results"]


def test_data_files_are_found_through_the_package():
    from nblib._paths import find_data, package_data

    assert package_data() == ROOT / "data"          # the editable install maps nblib._data to data/
    assert find_data("paper_results.md") == ROOT / "data" / "paper_results.md"
