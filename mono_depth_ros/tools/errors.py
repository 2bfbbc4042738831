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

"""One error style for every tool: ``mono-depth-ros SUB: what (expected)``, one line, one code.

Exit codes: 0 done, 1 a runtime failure (the arguments were right, the work failed), 2 a usage
or input error (a bad option, a missing or unreadable input, an output that is in the way), 130
interrupted. A user error never shows a traceback; an unexpected exception (a bug) still does.
Tools raise :class:`UsageError` or :class:`RunFailure`, or let the library's own input errors
through; :func:`run_tool` turns them into the line and the code.
"""

import argparse
import logging
import os
import pathlib
import sys
from typing import Callable, NoReturn

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
PROG = 'mono-depth-ros'


class ToolError(Exception):
    """A failure a tool reports as one line and an exit code, never as a traceback."""

    exit_code = EXIT_FAILED

    def __init__(self, what: str, expected: str | None = None):
        self.what = what
        self.expected = expected
        super().__init__(f'{what} ({expected})' if expected else what)


class UsageError(ToolError):
    """A bad argument or input that the user must fix (exit code 2)."""

    exit_code = EXIT_USAGE


class RunFailure(ToolError):
    """Work that failed although the arguments were fine (exit code 1)."""

    exit_code = EXIT_FAILED


class Interrupted(ToolError):
    """Work stopped by Ctrl-C that still has something to say (exit code 130)."""

    exit_code = EXIT_INTERRUPTED


class ToolArgumentParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line in the tools' style (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        """Print ``PROG: message (see PROG --help)`` on stderr and exit 2."""
        self.exit(EXIT_USAGE, f'{self.prog}: {one_line(message)} (see {self.prog} --help)\n')


def one_line(text: str) -> str:
    """Return ``text`` on one line: line breaks become '; ', runs of spaces one space."""
    parts = [' '.join(line.split()) for line in str(text).splitlines()]
    return '; '.join(part for part in parts if part)


def exit_code_of(error: BaseException) -> int | None:
    """Return the exit code of an error the user should see as one line, None for a bug."""
    from mono_depth_ros.bags import BagReadError
    from mono_depth_ros.core.errors import BadMessageError
    from mono_depth_ros.evaluation import EvalError, NothingScoredError
    from mono_depth_ros.inference.errors import BackendUnavailableError, ModelLoadError
    from mono_depth_ros.offline import InputError

    if isinstance(error, ToolError):
        return error.exit_code
    if isinstance(error, (InputError, EvalError, BadMessageError, BagReadError, ModelLoadError,
                          FileExistsError, FileNotFoundError, NotADirectoryError)):
        return EXIT_USAGE
    if isinstance(error, (NothingScoredError, BackendUnavailableError, OSError)):
        return EXIT_FAILED
    return None


def error_text(error: BaseException) -> str:
    """Return what the line says about ``error``: its own text, or the OS's for a file."""
    from mono_depth_ros.inference.errors import DownloadDisabledError

    if isinstance(error, DownloadDisabledError):
        return (f"cannot load model '{error.model}': not a local path and not in the Hugging "
                'Face cache (--allow-download to fetch it, or a local path)')
    if isinstance(error, OSError) and error.strerror and not str(error).startswith(
            error.strerror):
        where = f'{error.filename}: ' if error.filename else ''
        return f'{where}{error.strerror}'
    return str(error) or type(error).__name__


def run_tool(prog: str, run: Callable[[argparse.Namespace], int | None],
             args: argparse.Namespace) -> int:
    """Run a tool's ``run(args)``; a user error becomes one line on stderr and its exit code."""
    try:
        return int(run(args) or EXIT_OK)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as error:
        code = exit_code_of(error)
        if code is None:
            raise
        print(f'{prog}: {one_line(error_text(error))}', file=sys.stderr, flush=True)
        return code


def check_output_dir(path: os.PathLike | str, overwrite: bool) -> pathlib.Path:
    """Return ``path`` if a tool may write its output there; create nothing.

    The one rule of synth and process-bag: a new or empty directory is fine; an existing
    directory that holds anything is refused unless ``overwrite``, and then each tool replaces
    only what it writes itself.
    """
    path = pathlib.Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise UsageError(f'--out {path} exists and is not a directory', 'a new or empty directory')
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise UsageError(f'--out {path} exists and is not empty',
                         'a new or empty directory, or --overwrite to replace it')
    parent = path
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f'--out {path} cannot be written: {parent} is not a writable directory',
                         'a directory that can be written')
    return path


def prepare_output_dir(path: os.PathLike | str, overwrite: bool) -> pathlib.Path:
    """Return ``path`` created as a directory, after :func:`check_output_dir`."""
    path = check_output_dir(path, overwrite)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f'--out {path} cannot be created: {error.strerror or error}',
                         'a directory that can be written') from None
    return path


class _StderrHandler(logging.Handler):
    """Prints records to whatever sys.stderr is at the time (so tests can capture them)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(self.format(record), file=sys.stderr)
        except Exception:  # a log line must never stop the tool
            self.handleError(record)


def log_to_stderr(level: int = logging.INFO) -> logging.Logger:
    """Send the package's log to stderr once, as bare messages; return the package logger.

    Only the ``mono_depth_ros`` logger gets a handler, never the root logger: libraries with
    a stderr handler of their own (huggingface_hub's retry warnings) then print each line once
    rather than once per handler.
    """
    logger = logging.getLogger('mono_depth_ros')
    logger.setLevel(level)
    if not any(isinstance(handler, _StderrHandler) for handler in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter('%(message)s'))
        logger.addHandler(handler)
    return logger
