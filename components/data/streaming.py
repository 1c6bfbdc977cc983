"""Data larger than memory: a partitioned Parquet dataset directory as `ingest.source` (tabular data).

Nothing here holds the whole dataset. pyarrow datasets stream record batches:
  ingest     source dir (any layout, hive partitions too) -> data/raw/parts/part-NNNNN.parquet (PART_ROWS each)
  validate   the GX suite on one part at a time; the per-part results are merged into one report
  features   one pass: each row draws its split from a generator seeded by (features.seed, part), rows are
             written to <split>/part-NNNNN.parquet, and the train rows update running statistics
             (Chan's parallel mean/variance), which become the TabularTransform
  train      `ParquetStream`: an IterableDataset over the split's parts, shuffled per epoch by file and
             within file; on CUDA read by DataLoader workers into pinned memory, copied non-blocking
Splits are random per row, not stratified (stratifying needs the label counts first: a second pass).
Peak memory: about one part (PART_ROWS rows, in validate) or one source row group, plus the libraries.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from components.core import paths
from components.core.columns import LABEL
from components.core.errors import IngestError, StageInputError
from components.core.io import atomic_dir, dictionary_columns, fold_sha256, sha256_file, write_json
from components.data.cluster import map_parts, session, sha256_tree
from components.data.failures import Failure, ValidationReport
from components.data.sources import dataset_name
from components.data.transforms.tabular import TabularTransform
from components.data.validator import kept_validator

log = logging.getLogger(__name__)

PARTS_DIR = "parts"
PART_ROWS = 100_000  # rows per raw part: what validate holds in memory at once
BATCH_ROWS = 65_536  # rows per record batch and per row group written


def is_parquet_dataset(source: str | Path) -> bool:
    """A directory holding Parquet files (a partitioned dataset) rather than an image folder."""
    path = Path(source)
    return path.is_dir() and next(path.rglob("*.parquet"), None) is not None


def part_files(folder: Path) -> list[Path]:
    """The Parquet parts of a folder, in order."""
    return sorted(Path(folder).glob("*.parquet"))


def ingest(source: Path, out_dir: Path, label_column: str, kind: str, part_rows: int | None = None) -> dict[str, Any]:
    """Copy `source` into `<out_dir>/parts/` (parts of `part_rows` rows, written in parallel on Dask) and write
    the manifest; returns the manifest."""
    try:
        ds = pads.dataset(source, format="parquet", partitioning="hive")
    except (pa.ArrowInvalid, OSError) as e:
        raise IngestError(f"{source}: not a readable Parquet dataset: {e}") from e
    names = [LABEL if n == label_column else n for n in ds.schema.names]
    plan = plan_parts(ds, part_rows or PART_ROWS)
    if not plan:
        raise IngestError(f"{source}: the Parquet dataset has no rows")
    with atomic_dir(out_dir) as tmp, session():
        (tmp / PARTS_DIR).mkdir()
        parts = [f"part-{i:05d}.parquet" for i in range(len(plan))]
        written = map_parts(write_part, [(ranges, ds.schema, names, tmp / PARTS_DIR / part)
                                         for part, ranges in zip(parts, plan, strict=True)])  # (rows, sha256) per part
        manifest = {"source": str(source), "dataset": dataset_name(str(source)), "kind": kind,
                    "rows": sum(r for r, _ in written), "columns": names,
                    "dtypes": {n: str(t) for n, t in zip(names, ds.schema.types, strict=True)},
                    "image_shape": None, "layout": "partitioned", "parts": parts,
                    "source_sha256": sha256_tree(Path(source)),  # = sha256_paths, the files hashed in parallel
                    "sha256": fold_sha256((f"{PARTS_DIR}/{p}", d) for p, (_, d) in zip(parts, written, strict=True))}
        write_json(tmp / paths.MANIFEST_FILE, manifest)
    log.info("ingest: %d rows from %s -> %d parts in %s", manifest["rows"], source, len(plan), out_dir)
    return manifest


def plan_parts(ds: pads.FileSystemDataset, part_rows: int) -> list[list[tuple[str, dict, int, int]]]:
    """The source's rows, file after file, cut into parts of `part_rows`: per part, its (file, hive partition
    keys, first row, end row) ranges. Only footers are read."""
    plan: list[list[tuple[str, dict, int, int]]] = [[]]
    room = part_rows
    for frag in ds.get_fragments():
        keys = pads.get_partition_keys(frag.partition_expression)
        n, start = pq.ParquetFile(frag.path, filesystem=ds.filesystem).metadata.num_rows, 0
        while start < n:
            if room == 0:
                plan, room = [*plan, []], part_rows
            take = min(room, n - start)
            plan[-1].append((frag.path, keys, start, start + take))
            start, room = start + take, room - take
    return [p for p in plan if p]


def write_part(ranges: list[tuple[str, dict, int, int]], schema: pa.Schema, names: list[str],
               out: Path) -> tuple[int, str]:
    """Write one planned part to `out` (a source row group decoded at a time, hive partition keys added as
    constant columns, columns renamed to `names`); returns its rows and the file's sha256."""
    rows, renamed = 0, pa.schema([f.with_name(n) for f, n in zip(schema, names, strict=True)])
    with pq.ParquetWriter(out, renamed, use_dictionary=dictionary_columns(renamed)) as writer:
        for path, keys, start, end in ranges:
            source, first = pq.ParquetFile(path), 0
            for g in range(source.metadata.num_row_groups):
                last = first + source.metadata.row_group(g).num_rows
                if last > start and first < end:
                    t = source.read_row_group(g).slice(max(start - first, 0), min(end, last) - max(start, first))
                    cols = {n: t.column(n) for n in t.schema.names}
                    cols |= {k: pa.array([v] * t.num_rows).cast(schema.field(k).type) for k, v in keys.items()}
                    writer.write_table(pa.Table.from_arrays([cols[n] for n in schema.names], schema=renamed))
                    rows += t.num_rows
                first = last
    return rows, sha256_file(out)


def validate_parts(cfg, raw_dir: Path, manifest: dict[str, Any]):
    """The GX suite on each part (in parallel on Dask: components/data/cluster.py); one merged ValidationReport
    (failures prefixed with their part)."""
    files = part_files(Path(raw_dir) / PARTS_DIR)
    reports = dict(zip([f.name for f in files], map_parts(validate_part, [(cfg, manifest, f) for f in files]),
                       strict=True))
    failures = [fl.model_copy(update={"expectation": f"{part}: {fl.expectation}"})
                for part, r in reports.items() for fl in r.failures]
    # Row-count bounds apply to the whole dataset, not to each part.
    failures = [f for f in failures if "expect_table_row_count" not in f.expectation]
    total = sum(r.rows for r in reports.values())
    if total < cfg.min_rows or (cfg.max_rows is not None and total > cfg.max_rows):
        failures.append(Failure(expectation="expect_table_row_count_to_be_between", examples=[total]))
    evaluated = sum(r.evaluated for r in reports.values())
    return ValidationReport(success=not failures, evaluated=evaluated, successful=evaluated - len(failures),
                            failures=failures, rows=total), {p: r.success for p, r in reports.items()}


def validate_part(cfg, manifest: dict[str, Any], f: Path) -> ValidationReport:
    """The GX suite on one part, with this worker's Validator for (cfg, manifest) (`kept`: one GX context and
    suite for every part the worker checks)."""
    return kept_validator(cfg, manifest, "part")(pq.read_table(f).to_pandas())


class _Moments:
    """Count/mean/M2 per column, merged chunk by chunk and part by part (Chan et al.), in float64."""

    def __init__(self, width: int):
        self.n, self.mean, self.m2 = 0, np.zeros(width), np.zeros(width)

    def update(self, table: pa.Table | pa.RecordBatch, columns: list[str]) -> None:
        """Merge the moments of `columns` of `table` (as float64; a null makes them NaN, as numpy's would), computed
        column by column by Arrow, without the temporary copies of a numpy matrix."""
        n = table.num_rows
        if n:
            cols = [table.column(c).cast(pa.float64()) for c in columns]
            mean = [pc.mean(c, skip_nulls=False).as_py() for c in cols]
            var = [pc.variance(c, ddof=0, skip_nulls=False).as_py() for c in cols]
            self.merge(n, np.array(mean, dtype=np.float64), np.array(var, dtype=np.float64) * n)  # None -> NaN

    def merge(self, n_b: int, mean_b: np.ndarray, m2_b: np.ndarray) -> _Moments:
        if n_b:
            n = self.n + n_b
            delta = mean_b - self.mean
            self.mean = self.mean + delta * n_b / n
            self.m2 = self.m2 + m2_b + delta ** 2 * self.n * n_b / n
            self.n = n
        return self

    @property
    def std(self) -> np.ndarray:
        std = np.sqrt(self.m2 / max(self.n, 1))
        std[std == 0] = 1.0
        return std


def features(cfg, raw_dir: Path, out_dir: Path, manifest: dict[str, Any], task: str) -> tuple[dict, dict]:
    """Split every part into train/val/test parts and fit the transform out of core (parts in parallel on
    Dask: components/data/cluster.py); returns (sizes, sha256)."""
    columns = [c for c in manifest["columns"] if c != LABEL]
    x_stats, y_stats, classes = _Moments(len(columns)), _Moments(1), set()
    sizes = dict.fromkeys(paths.SPLITS, 0)
    with atomic_dir(out_dir) as tmp:
        for name in paths.SPLITS:
            (tmp / name).mkdir()
        files = part_files(Path(raw_dir) / PARTS_DIR)
        done = map_parts(split_part, [(cfg, i, f, tmp, columns, task) for i, f in enumerate(files)])
        for part in done:
            x_stats.merge(*part["x"])
            y_stats.merge(*part["y"])
            classes.update(part["classes"])
            sizes = {k: sizes[k] + part["sizes"][k] for k in sizes}
        if sizes["train"] == 0:
            raise StageInputError(f"{raw_dir}: no rows drawn into the train split")
        extra = ({"target_mean": float(y_stats.mean[0]), "target_std": float(y_stats.std[0])}
                 if task == "regression" else {"classes": sorted(classes)})
        transform = TabularTransform(columns=columns, mean=x_stats.mean.tolist(), std=x_stats.std.tolist(), **extra)
        write_json(tmp / paths.TRANSFORM_FILE, transform.model_dump(mode="json"))
        # = sha256_paths([tmp / name]), from the digests the parts' tasks took of the files they wrote
        hashes = {name: fold_sha256((f"{name}/{f.name}", part["sha256"][name]) for f, part in zip(files, done,
                                                                                                  strict=True))
                  for name in paths.SPLITS}
        write_json(tmp / paths.SPLIT_FILE, {"seed": cfg.seed, "dataset": manifest["dataset"], "layout": "partitioned",
                                            "raw_sha256": manifest["sha256"], "sizes": sizes, "sha256": hashes})
    return sizes, hashes


def split_part(cfg, i: int, f: Path, out: Path, columns: list[str], task: str) -> dict[str, Any]:
    """Part `i` (`f`) into `<out>/<split>/<f.name>`: each row's split drawn from a generator seeded by
    (features.seed, i), so it is the same wherever the part runs; returns its sizes, train statistics and the
    sha256 of the three files it wrote."""
    x_stats, y_stats, classes = _Moments(len(columns)), _Moments(1), set()
    sizes = dict.fromkeys(paths.SPLITS, 0)
    source = pq.ParquetFile(f)
    schema = source.schema_arrow
    writers = {name: pq.ParquetWriter(out / name / f.name, schema, use_dictionary=dictionary_columns(schema))
               for name in paths.SPLITS}
    rng = np.random.default_rng([cfg.seed, i])  # the split of a row depends on (seed, part, position)
    for batch in source.iter_batches(batch_size=BATCH_ROWS):  # a row group at a time, at most
        u = rng.random(batch.num_rows)  # test: u < test_size; val: then u < test_size + val_size; train: the rest
        test = u < cfg.test_size
        val = (u < cfg.test_size + cfg.val_size) & ~test
        masks = {"train": ~(test | val), "val": val, "test": test}  # bytes per row: no large temporaries
        parts = {name: batch.filter(pa.array(masks[name])) for name in paths.SPLITS}
        for name, part in parts.items():
            writers[name].write_batch(part)
            sizes[name] += part.num_rows
        train = parts["train"]
        x_stats.update(train, columns)
        if task == "regression":
            y_stats.update(train, [LABEL])
        else:
            classes.update(np.unique(train.column(LABEL).to_numpy()).tolist())
    for w in writers.values():
        w.close()
    return {"sizes": sizes, "classes": classes, "x": (x_stats.n, x_stats.mean, x_stats.m2),
            "y": (y_stats.n, y_stats.mean, y_stats.m2),
            "sha256": {name: sha256_file(out / name / f.name) for name in paths.SPLITS}}  # hashed here, in parallel


class ParquetStream(IterableDataset):
    """Batches of model-ready tensors read from a split's Parquet parts, never the whole split at once."""

    def __init__(self, folder: Path, transform, batch_size: int = 1024, seed: int | None = None,
                 rank: int = 0, world_size: int = 1):
        self.folder, self.transform, self.batch_size = Path(folder), transform, batch_size
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.files = part_files(self.folder)
        self.rows = sum(pq.ParquetFile(f).metadata.num_rows for f in self.files)
        self.device = torch.device("cpu")

    def __len__(self) -> int:
        return self.rows

    def to(self, device: torch.device) -> ParquetStream:
        """Batches will be moved to `device` (non-blocking from pinned memory on CUDA)."""
        self.device = torch.device(device)
        return self

    def __iter__(self):
        rng = np.random.default_rng(self.seed) if self.seed is not None else None
        files = [self.files[i] for i in rng.permutation(len(self.files))] if rng is not None else self.files
        files = files[self.rank::self.world_size]  # DDP: each rank its own parts
        info = get_worker_info()
        if info is not None:  # DataLoader workers: each its own parts
            files = files[info.id::info.num_workers]
        for f in files:
            df = pq.read_table(f).to_pandas()
            if rng is not None:
                df = df.iloc[np.random.default_rng([self.seed, int(f.stem.split("-")[-1])]).permutation(len(df))]
            x, y = self.transform.features(df), self.transform.targets(df)
            for i in range(0, len(df), self.batch_size):
                yield torch.from_numpy(x[i:i + self.batch_size]), torch.from_numpy(y[i:i + self.batch_size])

    def iter_batches(self, batch_size: int, generator: torch.Generator | None = None, rank: int = 0,
                     world_size: int = 1, workers: int = 2):
        """One epoch of (x, y) batches on `self.device`; shuffled with a seed drawn from `generator`."""
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator)) if generator is not None else None
        epoch = ParquetStream.__new__(ParquetStream)
        epoch.__dict__.update(self.__dict__, batch_size=batch_size, seed=seed, rank=rank, world_size=world_size)
        cuda = self.device.type == "cuda"
        loader = DataLoader(epoch, batch_size=None, num_workers=workers if cuda else 0, pin_memory=cuda)
        for x, y in loader:
            yield x.to(self.device, non_blocking=cuda), y.to(self.device, non_blocking=cuda)
