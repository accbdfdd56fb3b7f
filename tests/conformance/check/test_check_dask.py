"""An archive checked on a Dask cluster (a local one here): each task checks a part of the files
and returns its mergeable JSON report; ``runmodel check --merge`` joins them into the report of
the whole archive, the same as one process over every file (docs/large-archives.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.merge import merge_reports, render, shard_report
from runmodel.cli import main
from tests.helpers.paths import REAL, needs_real

distributed = pytest.importorskip(
    "distributed", reason="Dask is not installed (pip install 'runmodel[dask]')"
)


@needs_real
def test_an_archive_checked_on_a_local_dask_cluster_merges_into_the_one_process_report(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    files = sorted(str(p) for p in REAL.iterdir() if p.name != "SOURCES.md")
    # consecutive parts, in order, that share no thread: one a source project (its recordings
    # of one session may share a thread; the merge would refuse to join them apart)
    parts: dict[str, list[str]] = {}
    for f in files:
        parts.setdefault(Path(f).name.split("__")[0], []).append(f)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        reports = client.gather(client.map(shard_report, list(parts.values()), pure=False))
    shards = []
    for n, text in enumerate(reports):
        path = tmp_path / f"shard{n}.json"
        path.write_text(text, encoding="utf-8")
        shards.append(str(path))
    for fmt in ("text", "json", "junit"):
        assert main(["check", "--format", fmt, *files]) in (0, 1)
        whole = capsys.readouterr().out
        code = main(["check", "--merge", "--format", fmt, *shards])
        out, err = capsys.readouterr()
        assert (code, err) in ((0, ""), (1, ""))
        assert out == whole
        assert render(merge_reports(reports), fmt) == whole
