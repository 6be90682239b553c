"""``wirewatch run --output``, checked before the pipeline starts: a local folder, or a folder
on any Beam filesystem named by a URL (``gs://``, ``s3://``, ``azfs://``, ``hdfs://`` ...).

A batch run replaces only its own ``*-of-*`` files and a streaming run adds new ones, so without
this check an output folder silently mixes runs (``inspect`` counted them together). The rules,
the same for every filesystem: an empty (or missing) folder is used; a non-empty one is refused
unless ``--append`` (keep what is there) or ``--overwrite`` (remove what an earlier run wrote,
the folders in ``connectors.files.OUTPUT_FOLDERS``, and nothing else). A remote folder is not
checked in a dry run (``--dry_run``): that submits no job, so nothing is written there, and
checking would need the store's credentials (a dry run is how a Dataflow job is built offline).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path
from typing import TypeVar

from apache_beam.io.filesystem import BeamIOError
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, TestOptions

from wirewatch.connectors.files import OUTPUT_FOLDERS
from wirewatch.pipelines.cli import UsageError

__all__ = ["prepare_output"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds a remote --output may take to give its first object (or none), the first time the
#: run reaches the store. Beam's clients retry for minutes when it cannot be reached (GCS:
#: 120 s): a check before the run should say so sooner.
LIST_TIMEOUT_S = 30.0

#: URL scheme -> (the module its Beam filesystem needs, the apache-beam extra installing it).
#: Beam registers these filesystems even without their client library and then fails on first
#: use with an unrelated error (``AssertionError('Missing boto3 requirement')``), or, for gs,
#: with "Unable to get filesystem" whatever the cause: say what to install instead.
_FILESYSTEM_EXTRAS = {
    "gs": ("google.cloud.storage", "gcp"),
    "s3": ("boto3", "aws"),
    "azfs": ("azure.storage.blob", "azure"),
    "hdfs": ("hdfs", "hadoop"),
}


def _is_url(output: str) -> bool:
    """Whether ``output`` names a Beam filesystem by scheme (``gs://b/out``), not a local path."""
    return FileSystems.get_scheme(output) is not None


def prepare_output(output: str, options: PipelineOptions, *, append: bool,
                   overwrite: bool) -> None:
    """Check ``output`` (and create it if local) under the rules in the module docstring;
    :class:`UsageError` saying why and what to do if it cannot be used. ``options``: the run's
    Beam options, which some filesystems (s3, azfs) read their settings from."""
    remote = _is_url(output)
    if remote and options.view_as(TestOptions).dry_run:
        return
    if append and overwrite:
        raise UsageError("--append keeps what is in --output and --overwrite removes it: "
                         "give one of them")
    folder = _RemoteFolder(output, options) if remote else _LocalFolder(Path(output))
    if append:
        return
    present = folder.entries()
    if not present:
        return
    if not overwrite:
        raise UsageError(
            f"--output folder {folder} is not empty ({', '.join(present[:5])}"
            f"{', ...' if len(present) > 5 else ''}): add --overwrite to "
            "remove what an earlier run wrote there, --append to add to it (a restarted "
            "streaming job), or choose an empty folder")
    others = [name for name in present if name not in OUTPUT_FOLDERS]
    if others:  # not ours to delete: the user's files
        raise UsageError(
            f"--overwrite removes only what wirewatch writes ({', '.join(OUTPUT_FOLDERS)}), and "
            f"--output folder {folder} also holds {', '.join(others)}: choose another folder")
    folder.remove(present)
    log.info("--overwrite: removed %s from %s", ", ".join(present), folder)


class _LocalFolder:
    """A local --output folder, created if missing."""

    def __init__(self, path: Path) -> None:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UsageError(f"cannot create --output folder {path}: {e.strerror}") from None
        if not os.access(path, os.W_OK | os.X_OK):
            raise UsageError(f"--output folder {path} is not writable")
        self._path = path

    def __str__(self) -> str:
        return str(self._path)

    def entries(self) -> list[str]:
        """Names of what the folder holds, sorted."""
        return sorted(entry.name for entry in self._path.iterdir())

    def remove(self, names: list[str]) -> None:
        """Delete ``names`` (files or folders) from the folder."""
        for name in names:
            path = self._path / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()


class _RemoteFolder:
    """An --output folder on a Beam filesystem, through ``FileSystems``. Nothing is created: an
    object store has no folders (the first file written makes one), and Beam's writers create
    what a filesystem with folders (hdfs) needs."""

    def __init__(self, url: str, options: PipelineOptions) -> None:
        scheme = FileSystems.get_scheme(url)
        module, extra = _FILESYSTEM_EXTRAS.get(scheme, (None, None))
        if module and not _installed(module):
            raise UsageError(f"--output {url} needs Beam's {scheme}:// filesystem, which is not "
                             f"installed: pip install 'apache-beam[{extra}]'")
        FileSystems.set_options(options)  # as beam.Pipeline does: s3 and azfs read them
        try:
            self._filesystem = FileSystems.get_filesystem(url)
        except (ValueError, BeamIOError):
            raise UsageError(
                f"--output {url}: Beam has no filesystem for {scheme}:// (it has "
                f"{', '.join(f'{s}://' for s in _FILESYSTEM_EXTRAS)} and local paths)") from None
        self._url = url.rstrip("/")
        self._listed: dict[str, list[str]] = {}  # by entries(): top-level name -> paths

    def __str__(self) -> str:
        return self._url

    def entries(self) -> list[str]:
        """Names of what the folder holds, sorted."""
        self._listed = {}
        prefix = f"{self._url}/"
        try:
            # One object first, within a bound: whether the store answers at all (and, mostly,
            # that the folder is empty); a whole listing may take long on a large folder.
            if not _within(LIST_TIMEOUT_S, lambda: self._objects(prefix, limit=1)):
                return []
            found = self._objects(prefix)
        except _NoAnswer:
            raise UsageError(
                f"--output folder {self._url} could not be listed within {LIST_TIMEOUT_S:g} s: "
                "check the network, the credentials (for gs://: gcloud auth "
                "application-default login) and the bucket's name") from None
        except BeamIOError as e:
            raise UsageError(f"cannot list --output folder {self._url}: {e}") from None
        # every object below the folder on an object store, the folder's own entries on hdfs
        for metadata in found:
            name = metadata.path.removeprefix(prefix).split("/", 1)[0]
            self._listed.setdefault(name, []).append(metadata.path)
        return sorted(self._listed)

    def _objects(self, prefix: str, limit: int | None = None) -> list:
        if self._filesystem.has_dirs() and not self._filesystem.exists(self._url):
            return []  # listing a missing folder fails where folders exist (hdfs): empty
        return FileSystems.match([f"{prefix}**"], None if limit is None else [limit])[
            0].metadata_list

    def remove(self, names: list[str]) -> None:
        """Delete what :meth:`entries` found under ``names``."""
        paths = [path for name in names for path in self._listed[name]]
        try:
            FileSystems.delete(paths)
        except BeamIOError as e:
            raise UsageError(f"--overwrite: cannot remove {', '.join(names)} from "
                             f"{self._url}: {e}") from None


class _NoAnswer(Exception):
    """A call given a time bound had not returned by then."""


def _within(seconds: float, call: Callable[[], T]) -> T:
    """``call()``'s result or exception, or :class:`_NoAnswer` after ``seconds``. The call
    runs in a daemon thread, which is left to finish (or not) on its own: the run stops on the
    usage error anyway, and a stuck client must not hold the process at exit."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as e:  # handed to the caller's thread, whatever it is
            outcome.append((False, e))

    thread = threading.Thread(target=run, name="output-folder-check", daemon=True)
    thread.start()
    thread.join(seconds)
    if not outcome:
        raise _NoAnswer
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def _installed(module: str) -> bool:
    try:
        return find_spec(module) is not None
    except ModuleNotFoundError:  # a missing parent package (google, azure)
        return False
