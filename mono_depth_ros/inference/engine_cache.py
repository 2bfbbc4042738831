# Copyright 2026 The mono_depth_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""The TensorRT engine cache: keys, locked atomic writes and JSON sidecars checked before use.

An engine is only valid for the ONNX bytes, TensorRT version, GPU model and build settings it
was made with, so the cache key is the sha256 of all of them (:class:`EngineKey`). Each cached
``NAME-PRECISION-KEY16.engine`` has a ``.json`` sidecar with the key fields, written after the
engine, so a sidecar means a complete engine. Writers hold ``fcntl.flock`` on a ``.lock`` file
and write through a temporary file in the same directory and ``os.replace``: two processes
building the same engine never corrupt it; the second waits and reuses the first one's.
Nothing here imports TensorRT; the stdlib does all of it.
"""

from contextlib import contextmanager
from dataclasses import dataclass, field
import datetime
import fcntl
import hashlib
import json
import logging
import os
import pathlib
import re
import tempfile
from typing import Callable, Iterator

from mono_depth_ros.inference.base import ModelLoadError

_LOGGER = logging.getLogger('mono_depth_ros.inference.engine_cache')
SIDECAR_VERSION = 2
# What the engine must match on the machine that runs it (the module's identity: every Orin
# module has the same name and compute capability; SM count, memory and model differ).
RUNTIME_FIELDS = ('tensorrt_version', 'gpu_name', 'compute_capability', 'sm_count',
                  'total_memory_mb', 'module_model')


def default_cache_dir() -> pathlib.Path:
    """Return ``$XDG_CACHE_HOME/mono_depth_ros/engines`` (``~/.cache/...`` without it)."""
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return pathlib.Path(base) / 'mono_depth_ros' / 'engines'


def ensure_cache_dir(cache_dir: str | os.PathLike | None) -> pathlib.Path:
    """Create the cache directory (mode 0700) if needed and return it."""
    path = pathlib.Path(os.path.expanduser(str(cache_dir))) if cache_dir else default_cache_dir()
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)
    elif path.stat().st_mode & 0o022:
        _LOGGER.warning('engine cache %s is writable by other users; engines are loaded as '
                        'code, keep it private (chmod 700)', path)
    return path


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Return the hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as stream:
        for chunk in iter(lambda: stream.read(chunk_size), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _jsonable(value):
    """Return ``value`` with tuples as lists and mappings key-sorted (canonical JSON input)."""
    if isinstance(value, dict):
        return {str(key): _jsonable(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value


@dataclass(frozen=True)
class EngineKey:
    """Everything an engine depends on. ``digest`` is the cache key.

    ``profile`` is (min, opt, max), each a (1, 3, h, w) shape; ``builder_options`` holds the
    other settings that change the engine (workspace, TF32, ...), any JSON-able values;
    ``onnx_sha256`` covers the ONNX file and its external data; ``sm_count``,
    ``total_memory_mb`` and ``module_model`` (Jetson device tree) tell modules with the same
    GPU name apart.
    """

    onnx_sha256: str
    tensorrt_version: str
    gpu_name: str
    compute_capability: str
    precision: str
    profile: tuple
    builder_options: dict = field(default_factory=dict)
    sm_count: int = 0
    total_memory_mb: int = 0
    module_model: str = ''

    def fields(self) -> dict:
        """Return the key fields as plain JSON-able values (the sidecar's ``key_fields``)."""
        return _jsonable({
            'onnx_sha256': self.onnx_sha256, 'tensorrt_version': self.tensorrt_version,
            'gpu_name': self.gpu_name, 'compute_capability': self.compute_capability,
            'sm_count': self.sm_count, 'total_memory_mb': self.total_memory_mb,
            'module_model': self.module_model,
            'precision': self.precision, 'profile': self.profile,
            'builder_options': self.builder_options})

    def digest(self) -> str:
        """Return the hex sha256 of the canonical JSON of :meth:`fields`."""
        return engine_cache_key(self.fields())


def engine_cache_key(key_fields: dict) -> str:
    """Return the hex sha256 of ``key_fields`` as canonical JSON (sorted keys, tuples as lists)."""
    text = json.dumps(_jsonable(key_fields), sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def engine_file_name(name: str, key: EngineKey) -> str:
    """Return ``NAME-PRECISION-KEY16.engine``; the name part is for people, the key decides."""
    readable = re.sub(r'[^A-Za-z0-9_.-]+', '_', str(name)).strip('._')[:48] or 'model'
    return f'{readable}-{key.precision}-{key.digest()[:16]}.engine'


def sidecar_path(engine_path: str | os.PathLike) -> pathlib.Path:
    """Return the JSON sidecar path of an engine: the same name with ``.json``."""
    return pathlib.Path(engine_path).with_suffix('.json')


def calibration_cache_path(engine_path: str | os.PathLike) -> pathlib.Path:
    """Return where the INT8 calibration cache of an engine is kept: beside it, ``.calib``."""
    return pathlib.Path(engine_path).with_suffix('.calib')


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory and os.replace."""
    path = pathlib.Path(path)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.',
                                             suffix='.tmp')
    try:
        with os.fdopen(descriptor, 'wb') as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
        _fsync_directory(path.parent)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


def _fsync_directory(directory: pathlib.Path) -> None:
    """Make a rename in ``directory`` durable (where the platform allows it)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def engine_data_problem(data: bytes, sidecar: dict | None) -> str | None:
    """Return why engine bytes do not match the sha256 their sidecar recorded, else None."""
    recorded = (sidecar or {}).get('engine_sha256')
    if recorded and hashlib.sha256(data).hexdigest() != recorded:
        return ('the file does not match the sha256 its sidecar recorded (damaged, truncated '
                'or replaced)')
    return None


@contextmanager
def file_lock(path: str | os.PathLike, waiting_message: str = '') -> Iterator[None]:
    """Hold an exclusive ``fcntl.flock`` on ``path`` (created if needed) for the block."""
    with open(path, 'a+b') as stream:
        try:
            fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting_message:
                _LOGGER.info('%s', waiting_message)
            fcntl.flock(stream.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(stream.fileno(), fcntl.LOCK_UN)


def read_sidecar(engine_path: str | os.PathLike) -> dict | None:
    """Return an engine's sidecar as a dict, or None when absent or unreadable."""
    try:
        data = json.loads(sidecar_path(engine_path).read_text(encoding='utf-8'))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def sidecar_problem(sidecar: dict, runtime: dict) -> str | None:
    """Return why an engine described by ``sidecar`` cannot run here, or None if it can.

    ``runtime`` has this machine's :data:`RUNTIME_FIELDS` (TensorRT version and the module's
    identity). The sidecar's key must also match its own fields (an edited or torn sidecar is
    refused).
    """
    fields = sidecar.get('key_fields')
    if not isinstance(fields, dict) or sidecar.get('key') != engine_cache_key(fields):
        return 'its sidecar is damaged (the key does not match the recorded fields)'
    built = {name: str(fields.get(name, '')) for name in RUNTIME_FIELDS}
    here = {name: str(runtime.get(name, '')) for name in RUNTIME_FIELDS}
    if built == here:
        return None
    return (f'it was built with TensorRT {built["tensorrt_version"]} for {describe_device(built)}'
            f', and this machine has TensorRT {here["tensorrt_version"]} on '
            f'{describe_device(here)}')


def describe_device(identity: dict) -> str:
    """Return "'NAME' (compute capability X.Y, N SMs, M MiB[, MODULE])" for messages."""
    parts = [f"compute capability {identity.get('compute_capability')}",
             f"{identity.get('sm_count') or '?'} SMs",
             f"{identity.get('total_memory_mb') or '?'} MiB"]
    if identity.get('module_model'):
        parts.append(str(identity['module_model']))
    return f"'{identity.get('gpu_name')}' ({', '.join(parts)})"


def check_engine_sidecar(engine_path: str | os.PathLike, runtime: dict) -> dict | None:
    """Return the engine's sidecar if it fits ``runtime``, None if there is none; else raise.

    Raises ModelLoadError naming the engine and what differs, before anything is deserialised.
    """
    if not sidecar_path(engine_path).exists():
        return None
    sidecar = read_sidecar(engine_path)
    problem = ('its sidecar is not readable JSON' if sidecar is None
               else sidecar_problem(sidecar, runtime))
    if problem:
        raise ModelLoadError(str(engine_path), f'{problem}; rebuild it with mono-depth-ros '
                                               'build-engine --onnx MODEL.onnx --force')
    return sidecar


@dataclass(frozen=True)
class CachedEngine:
    """An engine file in the cache, its sidecar, and whether this call built it."""

    path: pathlib.Path
    sidecar: dict
    built: bool


def _cached(engine_path: pathlib.Path, key: EngineKey) -> dict | None:
    """Return the sidecar when ``engine_path`` holds a complete engine for exactly ``key``."""
    sidecar = read_sidecar(engine_path)
    if (sidecar is None or not engine_path.is_file() or sidecar.get('key') != key.digest()
            or sidecar.get('key_fields') != key.fields()):
        return None
    problem = engine_data_problem(engine_path.read_bytes(), sidecar)
    if problem:
        _LOGGER.warning('cached engine %s: %s; building it again', engine_path, problem)
        return None
    return sidecar


def cached_engine(cache_dir: str | os.PathLike | None, key: EngineKey,
                  name: str = 'model') -> CachedEngine | None:
    """Return the complete cached engine for ``key``, or None; never builds."""
    engine_path = ensure_cache_dir(cache_dir) / engine_file_name(name, key)
    sidecar = _cached(engine_path, key)
    return None if sidecar is None else CachedEngine(engine_path, sidecar, built=False)


def cached_engine_any_profile(cache_dir: str | os.PathLike | None, key: EngineKey,
                              name: str = 'model') -> CachedEngine | None:
    """Return the newest cached engine that matches ``key`` in all but the camera's shapes.

    A node starts before it has seen a frame: the engine it built for its camera last time
    (a profile made for that camera's aspect, or for its frames: ``frame_io`` in the builder
    options) is the one to start with.
    """
    exact = cached_engine(cache_dir, key, name)
    if exact is not None:
        return exact

    def camera_free(fields: dict) -> dict:
        fields = {field: value for field, value in fields.items() if field != 'profile'}
        options = dict(fields.get('builder_options') or {})
        options.pop('frame_io', None)
        return {**fields, 'builder_options': options}

    wanted = camera_free(key.fields())
    directory = ensure_cache_dir(cache_dir)
    prefix = engine_file_name(name, key).rsplit('-', 1)[0] + '-'
    candidates = sorted(directory.glob(f'{glob_escape(prefix)}*.engine'),
                        key=lambda path: path.stat().st_mtime, reverse=True)
    for engine_path in candidates:
        sidecar = read_sidecar(engine_path) or {}
        fields = dict(sidecar.get('key_fields') or {})
        if 'profile' not in fields or camera_free(fields) != wanted:
            continue
        try:
            other = EngineKey(**fields)
        except TypeError:  # a sidecar of another version
            continue
        found = _cached(engine_path, other)
        if found is not None:
            return CachedEngine(engine_path, found, built=False)
    return None


def glob_escape(text: str) -> str:
    """Return ``text`` with glob's special characters escaped."""
    return re.sub(r'([*?\[])', r'[\1]', text)


def update_sidecar(engine_path: str | os.PathLike, changes: dict) -> dict:
    """Merge ``changes`` into an engine's sidecar (under its lock, atomically); return it.

    The key fields are never changed here; an engine without a sidecar gets none.
    """
    path = pathlib.Path(engine_path)
    with file_lock(path.with_suffix('.lock')):
        sidecar = read_sidecar(path)
        if sidecar is None:
            return {}
        sidecar.update(_jsonable({name: value for name, value in changes.items()
                                  if name not in ('key', 'key_fields', 'engine_sha256')}))
        write_atomic(sidecar_path(path),
                     (json.dumps(sidecar, indent=2, sort_keys=True) + '\n').encode('utf-8'))
    return sidecar


def get_or_build(cache_dir: str | os.PathLike | None, key: EngineKey,
                 build: Callable[[pathlib.Path], bytes], name: str = 'model',
                 extra: dict | None = None, force: bool = False,
                 logger: logging.Logger | None = None) -> CachedEngine:
    """Return the cached engine for ``key``, calling ``build(engine_path)`` only when needed.

    ``build`` returns the serialised engine; it is given the final path so it can keep files
    beside it (the INT8 calibration cache). ``extra`` goes into the sidecar (source, metadata).
    Concurrent callers for one key serialise on a lock file: one builds, the others reuse.
    """
    logger = logger or _LOGGER
    directory = ensure_cache_dir(cache_dir)
    engine_path = directory / engine_file_name(name, key)
    if not force:
        sidecar = _cached(engine_path, key)
        if sidecar is not None:
            return CachedEngine(engine_path, sidecar, built=False)
    lock_path = engine_path.with_suffix('.lock')
    with file_lock(lock_path, f'waiting for another process building {engine_path.name}'):
        if not force:
            sidecar = _cached(engine_path, key)
            if sidecar is not None:
                return CachedEngine(engine_path, sidecar, built=False)
        logger.info(f'building TensorRT engine {engine_path.name} in {directory} (this takes '
                    'minutes)')
        data = build(engine_path)
        if not data:
            raise RuntimeError(f'the engine build for {engine_path.name} returned no data')
        sidecar = {
            **_jsonable(extra or {}),
            'sidecar_version': SIDECAR_VERSION, 'key': key.digest(), 'key_fields': key.fields(),
            'engine_file': engine_path.name, 'engine_sha256': hashlib.sha256(data).hexdigest(),
            'created': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}
        write_atomic(engine_path, bytes(data))
        write_atomic(sidecar_path(engine_path),
                     (json.dumps(sidecar, indent=2, sort_keys=True) + '\n').encode('utf-8'))
    return CachedEngine(engine_path, sidecar, built=True)
