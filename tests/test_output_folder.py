"""``wirewatch run --output`` on a Beam filesystem URL (gs://, s3:// ...): the same rules as a
local folder (empty, or --append, or --overwrite removing only wirewatch's folders), checked
through Beam's ``FileSystems``, and nothing created on the local disk.

No cloud store is reachable from the tests, so ``_TempDirStore`` stands in for one: a test double,
a Beam ``FileSystem`` registered under its own scheme (``wwtest://``) that keeps objects as files
under a temporary folder and, like GCS or S3, has no folders, only object names with slashes.
The local-folder rules are tested in ``test_cli.py``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import pytest
from apache_beam.io.filesystem import FileMetadata, FileSystem
from apache_beam.options.pipeline_options import PipelineOptions

from tests.conftest import SAMPLES
from wirewatch.pipelines import output_folder
from wirewatch.pipelines.cli import UsageError, main
from wirewatch.pipelines.output_folder import prepare_output

SCHEME = "wwtest"


class _TempDirStore(FileSystem):
    """Test double of an object store: ``wwtest://<bucket>/<name>`` is the file
    ``<root>/<bucket>/<name>``; only what output preparation uses (list, delete) is there."""

    root: Path  # set by the ``store`` fixture
    #: a listing under ``wwtest://unreachable/`` waits for this, as a client retrying a store
    #: it cannot reach does
    reachable = threading.Event()

    @classmethod
    def scheme(cls) -> str:
        return SCHEME

    def has_dirs(self) -> bool:
        return False

    def _file(self, url: str) -> Path:
        return self.root / url.removeprefix(f"{SCHEME}://")

    def _list(self, prefix: str) -> Iterator[FileMetadata]:
        if prefix.startswith(f"{SCHEME}://unreachable/"):
            self.reachable.wait(60)
        for file in sorted(self.root.rglob("*")):
            url = f"{SCHEME}://{file.relative_to(self.root).as_posix()}"
            if file.is_file() and url.startswith(prefix):
                yield FileMetadata(url, file.stat().st_size, file.stat().st_mtime)

    def exists(self, url: str) -> bool:
        return self._file(url).is_file()

    def metadata(self, url: str) -> FileMetadata:
        stat = self._file(url).stat()
        return FileMetadata(url, stat.st_size, stat.st_mtime)

    def delete(self, urls: list[str]) -> None:
        for url in urls:
            self._file(url).unlink()

    def _unused(self, *args, **kwargs):
        raise NotImplementedError("not used by output preparation")

    join = split = mkdirs = create = open = copy = rename = size = last_updated = _unused


@pytest.fixture
def store(tmp_path, monkeypatch) -> Path:
    """The double's objects' folder; the test runs in an empty working folder of its own, so
    that a local folder made from a URL (``wwtest:/bucket/out``) would be seen."""
    root = tmp_path / "store"
    root.mkdir()
    monkeypatch.setattr(_TempDirStore, "root", root, raising=False)
    monkeypatch.chdir(tmp_path)
    return root


def _put(store: Path, *names: str) -> None:
    for name in names:
        (store / name).parent.mkdir(parents=True, exist_ok=True)
        (store / name).write_bytes(b"avro")


def _objects(store: Path) -> set[str]:
    return {p.relative_to(store).as_posix() for p in store.rglob("*") if p.is_file()}


EARLIER_RUN = ("bucket/out/article_events/article_events-00000-of-00001.avro",
               "bucket/out/article_events/.article_events-x.inprogress",
               "bucket/out/dead_letters/dead_letters-00000-of-00001.avro")
NEIGHBOURS = ("bucket/out-2/article_events/a.avro", "bucket/notes.txt")


def _prepare(**flags: bool) -> None:
    prepare_output(f"{SCHEME}://bucket/out", PipelineOptions([]),
                   append=flags.get("append", False), overwrite=flags.get("overwrite", False))


def test_a_non_empty_remote_output_is_refused_without_overwrite(store, capsys):
    _put(store, *EARLIER_RUN)
    assert main(["run", "--feeds", str(SAMPLES / "feeds.yaml"),
                 "--output", f"{SCHEME}://bucket/out"]) == 2
    err = capsys.readouterr().err
    assert f"--output folder {SCHEME}://bucket/out is not empty (article_events, dead_letters)" \
        in err
    assert "--overwrite" in err and "--append" in err
    assert _objects(store) == set(EARLIER_RUN)
    assert sorted(p.name for p in store.parent.iterdir()) == ["store"]  # no local "wwtest:"


def test_overwrite_removes_only_wirewatch_folders(store):
    _put(store, *EARLIER_RUN, *NEIGHBOURS)
    _prepare(overwrite=True)
    assert _objects(store) == set(NEIGHBOURS)


def test_overwrite_never_removes_objects_wirewatch_did_not_write(store):
    _put(store, *EARLIER_RUN, "bucket/out/notes.txt")
    with pytest.raises(UsageError, match=r"also holds notes\.txt: choose another folder"):
        _prepare(overwrite=True)
    assert _objects(store) == {*EARLIER_RUN, "bucket/out/notes.txt"}


@pytest.mark.parametrize("flags", [{}, {"append": True}, {"overwrite": True}])
def test_an_empty_remote_output_or_append_is_used_as_it_is(store, flags):
    _prepare(**flags)  # nothing under bucket/out: an object store needs no folder made
    assert _objects(store) == set()
    _put(store, *EARLIER_RUN)
    _prepare(append=True)
    assert _objects(store) == set(EARLIER_RUN)
    assert sorted(p.name for p in store.parent.iterdir()) == ["store"]


@pytest.mark.skipif(find_spec("hdfs") is not None, reason="Beam's hdfs filesystem is installed")
def test_a_store_that_does_not_answer_is_a_usage_error_within_the_bound(store, monkeypatch,
                                                                        capsys):
    """Beam's clients retry an unreachable store for minutes (GCS: 120 s); the check says so
    after ``LIST_TIMEOUT_S`` instead, and does not wait for the stuck listing to exit."""
    monkeypatch.setattr(output_folder, "LIST_TIMEOUT_S", 0.5)
    started = time.monotonic()
    try:
        assert main(["run", "--feeds", str(SAMPLES / "feeds.yaml"),
                     "--output", f"{SCHEME}://unreachable/out"]) == 2
        took = time.monotonic() - started
    finally:
        _TempDirStore.reachable.set()  # the listing left behind ends
    assert ("--output folder wwtest://unreachable/out could not be listed within 0.5 s: check the "
            "network, the credentials") in capsys.readouterr().err
    assert took < 10


def test_a_filesystem_that_is_not_installed_says_what_to_install(capsys):
    assert main(["run", "--feeds", str(SAMPLES / "feeds.yaml"),
                 "--output", "hdfs://namenode/out"]) == 2
    assert ("--output hdfs://namenode/out needs Beam's hdfs:// filesystem, which is not "
            "installed: pip install 'apache-beam[hadoop]'") in capsys.readouterr().err


def test_an_unknown_scheme_is_a_clear_error(capsys):
    assert main(["run", "--feeds", str(SAMPLES / "feeds.yaml"),
                 "--output", "nosuch://bucket/out"]) == 2
    assert "Beam has no filesystem for nosuch://" in capsys.readouterr().err
