"""Fleet evaluation: ``bag_eval`` over many bags in parallel on Dask, finished bags kept.

    bag_eval runs/ --config P.yaml --out fleet/                      # LocalCluster, 1 worker/core
    bag_eval 'runs/**/*.mcap' --config P.yaml --out fleet/ --workers 2
    bag_eval runs/ --config P.yaml --out fleet/ --scheduler tcp://HOST:8786   # existing cluster
    bag_eval runs/ --config P.yaml --out fleet/ --workers 0          # in this process, no Dask

How a bag travels::

    BAG | DIR | GLOB --find_bags--> bag paths
      --bag_key--> (bag path, sha256 of its files, config hash)
      --FleetIndex (fleet_index.json)--> finished in an earlier run with this key: skipped
      --engine: one task per bag--> evaluate_task, on a worker: bag_eval.evaluate_bag,
                                    the node's pipeline (offline = live, by construction)
      --> bags/<name>/: report.write_report, the single-bag report, written by the task
          where its machine sees --out (in-process, LocalCluster), else by the driver
      --results stream back as they finish--> fleet_index.json, updated after every bag
    all finished bags of the selection --fleet_report--> fleet.csv, fleet.md, fleet.json, plots

Engines: the default is a Dask ``LocalCluster`` of worker processes (one per core, one
thread each) that listens on 127.0.0.1 only and has no dashboard; ``--scheduler`` sends the
same tasks to an existing Dask cluster (its workers need this package and must see the bag
paths); ``--workers 0`` runs the same task function in this process, one bag after another
(no Dask needed). A bag that fails, or whose worker dies, is reported by name and recorded
as failed; the others complete. A rerun with the same ``--out`` skips bags finished with the
same key and retries failed ones. Internals: docs/FLEET.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import glob
import hashlib
import json
import logging
import math
import os
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from infonet_ros.bag_io import BagError

__all__ = ['BagKey', 'BagOutcome', 'FleetIndex', 'FleetRun', 'bag_key', 'config_sha256',
           'content_sha256', 'evaluate_task', 'find_bags', 'is_single_bag', 'run_fleet']

BAG_SUFFIXES = ('.mcap', '.db3')
GLOB_CHARS = '*?['
INDEX_NAME = 'fleet_index.json'


# --- finding bags -------------------------------------------------------------------------

def _is_bag_dir(path: Path) -> bool:
    return path.is_dir() and (path / 'metadata.yaml').is_file()


def _bag_of(path: Path) -> Path | None:
    """The bag a path stands for: a bag directory, a storage file inside one (its
    directory), a loose .mcap/.db3 file; else None."""
    if _is_bag_dir(path):
        return path
    if path.is_file() and path.suffix in BAG_SUFFIXES:
        return path.parent if _is_bag_dir(path.parent) else path
    return None


def _bags_under(root: Path) -> list[Path]:
    """Bag directories (not descended into) and loose .mcap/.db3 files below ``root``."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        here = Path(dirpath)
        if _is_bag_dir(here):
            found.append(here)
            dirnames.clear()
            continue
        dirnames.sort()
        found += [here / f for f in sorted(filenames) if Path(f).suffix in BAG_SUFFIXES]
    return found


def is_single_bag(spec: str) -> bool:
    """True when one command-line argument means one bag, evaluated as ``bag_eval`` always
    did (today's single report): a bag directory, a .mcap/.db3 file, a directory with one
    storage file and no bags below it (a recording without metadata.yaml), or a path that
    does not exist and is no pattern (the single-bag path reports it)."""
    path = Path(spec)
    if not path.exists():
        return not any(c in spec for c in GLOB_CHARS)
    if path.is_file() or _is_bag_dir(path):
        return True
    try:
        children = list(path.iterdir())
    except OSError:
        return True          # unreadable: the single-bag path names the problem
    top = [p for p in children if p.is_file() and p.suffix in BAG_SUFFIXES]
    return len(top) == 1 and not any(_is_bag_dir(p) for p in children)


def find_bags(specs: Sequence[str]) -> list[Path]:
    """The bags named by ``BAG [BAG ...] | DIR | GLOB`` arguments, each once, sorted.

    A DIR is searched recursively for bag directories (with metadata.yaml) and loose
    .mcap/.db3 files; a GLOB (``*``, ``?``, ``[``; ``**`` recurses) may match either.
    Raises BagError naming an argument that names no bag.
    """
    bags: dict[Path, None] = {}
    for spec in specs:
        path = Path(spec)
        if any(c in spec for c in GLOB_CHARS) and not path.exists():
            matches = [Path(m) for m in sorted(glob.glob(spec, recursive=True))]
            found = [b for b in (_bag_of(m) for m in matches) if b is not None]
            found += [b for m in matches if m.is_dir() and _bag_of(m) is None
                      for b in _bags_under(m)]
            if not found:
                raise BagError(f"no rosbag2 bags match '{spec}' ({len(matches)} paths "
                               'matched; a bag is a directory with metadata.yaml or a '
                               '.mcap/.db3 file)')
        elif not path.exists():
            raise BagError(f"bag '{spec}' does not exist")
        elif _bag_of(path) is not None:
            found = [_bag_of(path)]
        elif path.is_dir():
            found = _bags_under(path)
            if not found:
                raise BagError(f"no rosbag2 bags in directory '{spec}' (looked for "
                               'directories with metadata.yaml and .mcap/.db3 files)')
        else:
            raise BagError(f"'{spec}' is not a rosbag2 bag (a directory with metadata.yaml "
                           'or a .mcap/.db3 file), a directory of bags or a pattern')
        for bag in found:
            bags.setdefault(bag.resolve(), None)
    return sorted(bags)


# --- keys: bag path + content hash + config hash --------------------------------------------

@dataclass(frozen=True)
class BagKey:
    """What identifies a finished evaluation: same bag file(s), same settings."""

    bag: str              # absolute path
    content_sha256: str   # the bag's bytes (every file of a bag directory)
    config_sha256: str    # parameters, compared estimators, batch size, model weights


def content_sha256(bag: Path) -> str:
    """sha256 over a bag's files: name, size and bytes of each, in name order."""
    files = ([bag] if bag.is_file() else
             sorted((p for p in bag.rglob('*') if p.is_file()),
                    key=lambda p: p.relative_to(bag).as_posix()))
    digest = hashlib.sha256()
    for path in files:
        name = '' if path == bag else path.relative_to(bag).as_posix()
        with open(path, 'rb') as f:
            inner = hashlib.file_digest(f, 'sha256').hexdigest()
        digest.update(f'{name}\0{path.stat().st_size}\0{inner}\n'.encode())
    return digest.hexdigest()


def config_sha256(config, compare: Sequence[str] = (), batch_windows: int = 64) -> str:
    """sha256 of everything that changes a bag's results: the node parameters, the
    compared estimators, the batch size (windows per estimator call) and, for InfoNet, the
    weights file's bytes and this package's version."""
    import infonet_ros

    doc = {'config': dataclasses.asdict(config), 'compare': sorted(compare),
           'batch_windows': int(batch_windows), 'version': infonet_ros.__version__}
    if 'infonet' in (config.estimator, *compare):
        if config.model_path:
            weights = Path(config.model_path)
        else:
            from infonet_ros.estimator import BUNDLED_WEIGHTS as weights
        try:
            doc['weights_sha256'] = content_sha256(Path(weights))
        except OSError as exc:
            raise ValueError(f"parameter 'model_path': cannot read '{weights}': "
                             f'{exc.strerror or exc}') from None
    text = json.dumps(doc, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def bag_key(bag: Path, config_hash: str) -> BagKey:
    return BagKey(str(bag), content_sha256(bag), config_hash)


# --- the index of finished bags (fleet_index.json) --------------------------------------------

class FleetIndex:
    """``<out>/fleet_index.json``: one entry per bag evaluated into this output directory.

    Entries: ``bag``, ``content_sha256``, ``config_sha256``, ``status`` ('done' | 'failed'),
    ``folder`` (relative to out, 'done' only), ``error``, ``worker``, ``wall_s``,
    ``finished_utc``. Saved atomically after every bag, so an interrupted run keeps every
    bag it finished.
    """

    def __init__(self, out: Path):
        self.out = Path(out)
        self.path = self.out / INDEX_NAME
        self.entries: list[dict] = []
        if self.path.exists():
            try:
                self.entries = json.loads(self.path.read_text())['bags']
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"cannot read '{self.path}' ({exc}); remove it to start the "
                                 'fleet evaluation over') from None

    def done(self, key: BagKey) -> dict | None:
        """The entry of a finished evaluation with this key whose report is still there."""
        for e in self.entries:
            if (e['status'] == 'done' and e['bag'] == key.bag
                    and e['content_sha256'] == key.content_sha256
                    and e['config_sha256'] == key.config_sha256
                    and (self.out / e['folder'] / 'summary.json').is_file()):
                return e
        return None

    def folder_owner(self, folder: str) -> str | None:
        for e in self.entries:
            if e.get('folder') == folder:
                return e['bag']
        return None

    def record(self, key: BagKey, **fields) -> dict:
        """Replace the bag's entry (and any other entry using its folder); save."""
        folder = fields.get('folder')
        self.entries = [e for e in self.entries
                        if e['bag'] != key.bag and (folder is None or e.get('folder') != folder)]
        fields = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                  for k, v in fields.items()}
        entry = {**dataclasses.asdict(key), **fields,
                 'finished_utc': dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}
        self.entries.append(entry)
        self.save()
        return entry

    def save(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix('.json.tmp')
        tmp.write_text(json.dumps({'bags': sorted(self.entries, key=lambda e: e['bag'])},
                                  indent=1) + '\n')
        os.replace(tmp, self.path)


def folder_names(bags: Sequence[Path], index: FleetIndex) -> dict[Path, str]:
    """``bags/<name>`` per bag: the bag's name; bags of the selection that share a name get
    the parent directories that tell them apart (``robot1-bag``, ``robot2-bag``); a name
    already used in this output directory by another bag gets a short hash of the path."""
    def base(bag: Path) -> str:
        return bag.stem if bag.is_file() else bag.name

    groups: dict[str, list[Path]] = {}
    for bag in bags:
        groups.setdefault(base(bag), []).append(bag)
    names = {}
    for name, group in groups.items():
        if len(group) > 1:
            common = Path(os.path.commonpath(group))
            for bag in group:
                parts = bag.relative_to(common).parts
                names[bag] = '-'.join(parts[:-1] + (base(bag),))
        else:
            names[group[0]] = name
    for bag, name in names.items():
        folder = f'bags/{name}'
        owner = index.folder_owner(folder)
        if owner is not None and owner != str(bag):
            folder += '-' + hashlib.sha1(str(bag).encode()).hexdigest()[:8]
        names[bag] = folder
    return names


# --- the task: one bag, the node's pipeline ---------------------------------------------------

def evaluate_task(bag: str, config, compare: Sequence[str], batch_windows: int,
                  folder: str | None = None, plots: bool = True):
    """Evaluate one bag exactly as ``bag_eval BAG`` does; runs on a worker (or in-process).

    With ``folder`` the task also writes the bag's report there (where the worker sees the
    output directory: a LocalCluster, in-process) and returns no evaluation; else the driver
    writes it. Returns ``(BagEvaluation or None, where, seconds)``: ``where`` the worker's
    address or 'in-process', ``seconds`` the task's wall time there.
    Raises BagError / ValueError / OSError on a bad bag (the driver reports it by name).
    """
    from infonet_ros import report
    from infonet_ros.bag_eval import evaluate_bag, require_windows
    from infonet_ros.runtime import tune_malloc

    start = time.perf_counter()
    tune_malloc()
    ev = evaluate_bag(bag, config, compare=compare, batch_windows=batch_windows,
                      progress=False, salvage=False)   # a damaged bag fails by name
    require_windows(ev, bag, config)
    if folder is not None:
        report.write_report(ev, folder, plots=plots)
        ev = None
    return ev, _where(), time.perf_counter() - start


def _where() -> str:
    try:
        from distributed import get_worker
        return get_worker().address
    except (ImportError, ValueError):
        return 'in-process'


# --- engines ------------------------------------------------------------------------------------

def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise ValueError('several bags run on Dask, which is not installed: pip install '
                         "'infonet_ros[fleet]' (or dask[distributed]), or pass --workers 0 to "
                         'evaluate them one after another in this process') from None
    return distributed


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None):
    """A Dask client: of an existing cluster at ``scheduler``, else of a LocalCluster of
    ``workers`` processes (default: one per core), one thread each, listening on
    127.0.0.1 only, without a dashboard. Closed (workers stopped) on exit."""
    distributed = _import_distributed()
    if scheduler:
        try:
            client = distributed.Client(scheduler, timeout='20s')
        except (OSError, TimeoutError) as exc:
            raise ValueError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        try:
            yield client
        finally:
            client.close()
        return
    import dask

    n = workers or default_workers()
    # Dask's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536, which makes
    # tune_malloc() a no-op there (the user's setting wins) and hands InfoNet's temporaries
    # back to the kernel after every call (runtime.py); keep their thread limits, not that.
    environ = {k: v for k, v in dask.config.get('distributed.nanny.pre-spawn-environ').items()
               if k != 'MALLOC_TRIM_THRESHOLD_'}
    # One thread per worker: the estimator runs with the config's torch_threads (default 1),
    # a process per core is what scales. No dashboard and loopback only: nothing listens
    # off this machine.
    with dask.config.set({'distributed.nanny.pre-spawn-environ': environ}):
        cluster = distributed.LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, host='127.0.0.1',
            protocol='tcp', dashboard_address=None, worker_dashboard_address=None,
            silence_logs=logging.CRITICAL)   # a failed bag is reported once, by the driver
    try:
        with distributed.Client(cluster) as client:
            yield client
    finally:
        cluster.close()


def engine_addresses(client) -> dict:
    """Where the scheduler, the workers and their nannies listen (for the report/tests)."""
    info = client.scheduler_info()
    workers = info.get('workers', {})
    return {'scheduler': client.scheduler.address,
            'worker_addresses': sorted(workers),
            'nanny_addresses': sorted(w['nanny'] for w in workers.values() if w.get('nanny'))}


def _run_in_process(jobs, config, compare, batch_windows, plots) -> Iterator[tuple]:
    """``(bag, evaluation or None, exception or None, where, task seconds)`` per
    ``(bag, folder)`` job, folder None: the driver writes the report."""
    for bag, folder in jobs:
        start = time.perf_counter()
        try:
            ev, where, seconds = evaluate_task(str(bag), config, compare, batch_windows,
                                               folder, plots)
        except Exception as exc:   # noqa: BLE001 - a bad bag must not stop the others
            yield bag, None, exc, 'in-process', time.perf_counter() - start
        else:
            yield bag, ev, None, where, seconds


def _run_on_dask(client, jobs, config, compare, batch_windows, plots) -> Iterator[tuple]:
    """As _run_in_process, one task per bag, yielded as they finish (any order)."""
    distributed = _import_distributed()
    futures = {}
    for bag, folder in jobs:
        future = client.submit(evaluate_task, str(bag), config, list(compare), batch_windows,
                               folder, plots,
                               key=f'bag_eval-{bag.name}-{uuid.uuid4().hex[:12]}')
        futures[future] = bag
    for future in distributed.as_completed(futures):
        bag = futures.pop(future)
        try:
            ev, where, seconds = future.result()
        except Exception as exc:   # noqa: BLE001 - a bad bag or a dead worker: report it
            yield bag, None, exc, '', math.nan
        else:
            yield bag, ev, None, where, seconds
        future.release()


def error_line(bag: Path, exc: BaseException) -> str:
    """One line naming the bag: BagError text as is, anything else with its type."""
    text = ' '.join(str(exc).split()) or type(exc).__name__
    if type(exc).__name__ == 'KilledWorker':
        text = f'a worker died while evaluating it ({text})'
    elif not isinstance(exc, (BagError, ValueError, OSError)):
        text = f'{type(exc).__name__}: {text}'
    if str(bag) not in text:
        text = f"bag '{bag}': {text}"
    return text if len(text) < 400 else text[:397] + '...'


# --- the driver ---------------------------------------------------------------------------------

@dataclass
class BagOutcome:
    """One bag of a fleet run."""

    bag: str
    status: str             # 'done' (this run) | 'skipped' (done earlier, same key) | 'failed'
    folder: str | None      # bags/<name>, relative to out ('done' and 'skipped')
    error: str = ''         # one line, 'failed' only
    worker: str = ''        # where it ran: a worker address or 'in-process'
    wall_s: float = 0.0     # the task's wall time on its worker (this run; NaN if it died)


@dataclass
class FleetRun:
    out: Path
    outcomes: list[BagOutcome]
    engine: dict            # kind, workers, addresses
    config_sha256: str
    wall_s: float
    report: dict            # name -> path of the fleet report files

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)


def run_fleet(bags: Sequence[Path], config, out, *, compare: Sequence[str] = (),
              batch_windows: int = 64, scheduler: str | None = None,
              workers: int | None = None, plots: bool = True, progress: bool = True,
              outlier_z: float | None = None, outlier_min_delta: float | None = None,
              log=None) -> FleetRun:
    """Evaluate ``bags`` into ``out`` (per-bag folders, fleet report); see the module doc.

    ``workers``: None = one per core, 0 = in this process without Dask. ``log``: a callable
    for one-line messages (default: stderr, above the progress bar).
    """
    from tqdm import tqdm

    from infonet_ros import fleet_report, report

    wall = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    index = FleetIndex(out)
    chash = config_sha256(config, compare, batch_windows)
    folders = folder_names(bags, index)
    log = log or (lambda line: tqdm.write(line, file=sys.stderr))

    outcomes: dict[Path, BagOutcome] = {}
    keys: dict[Path, BagKey] = {}
    jobs = []
    with tqdm(bags, desc='hashing bags', unit='bag', disable=not progress or len(bags) < 2,
              leave=False, dynamic_ncols=True) as bar:
        for bag in bar:
            try:
                keys[bag] = bag_key(bag, chash)
            except OSError as exc:
                outcomes[bag] = BagOutcome(str(bag), 'failed', None,
                                           error_line(bag, BagError(f'cannot read: {exc}')))
                continue
            entry = index.done(keys[bag])
            if entry is not None:
                outcomes[bag] = BagOutcome(str(bag), 'skipped', entry['folder'],
                                           worker=entry.get('worker', ''))
            else:
                jobs.append(bag)
    for bag, o in outcomes.items():
        if o.status == 'failed':
            log(f'bag_eval: error: {o.error}')

    # Reports are written where the bag was evaluated when that machine sees --out (this
    # one: in-process, LocalCluster), so the driver is no bottleneck; a remote cluster's
    # workers may not see it: they send the evaluation back and the driver writes.
    on_worker = scheduler is None
    jobs = [(bag, str((out / folders[bag]).resolve()) if on_worker else None) for bag in jobs]
    engine = {'kind': 'none (every bag already done)', 'workers': 0}
    with contextlib.ExitStack() as stack:
        if not jobs:
            results = iter(())
        elif workers == 0:
            engine = {'kind': 'in-process', 'workers': 1}
            results = _run_in_process(jobs, config, compare, batch_windows, plots)
        else:
            client = stack.enter_context(dask_client(scheduler, workers))
            addresses = engine_addresses(client)
            engine = {'kind': f'dask scheduler {scheduler}' if scheduler else 'dask LocalCluster',
                      'workers': len(addresses['worker_addresses']), **addresses}
            results = _run_on_dask(client, jobs, config, compare, batch_windows, plots)
        skipped = len(bags) - len(jobs)
        with tqdm(total=len(bags), initial=skipped, desc='bag_eval fleet', unit='bag',
                  disable=not progress, dynamic_ncols=True) as bar:
            bar.set_postfix(done=0, skipped=skipped, failed=len(outcomes) - skipped)
            for bag, ev, exc, where, task_wall in results:
                if exc is not None:
                    o = BagOutcome(str(bag), 'failed', None, error_line(bag, exc), where,
                                   task_wall)
                    index.record(keys[bag], status='failed', error=o.error, worker=where,
                                 wall_s=task_wall)
                    log(f'bag_eval: error: {o.error}')
                else:
                    if ev is not None:
                        report.write_report(ev, out / folders[bag], plots=plots)
                    o = BagOutcome(str(bag), 'done', folders[bag], '', where, task_wall)
                    index.record(keys[bag], status='done', folder=folders[bag], error='',
                                 worker=where, wall_s=task_wall)
                outcomes[bag] = o
                states = [x.status for x in outcomes.values()]
                bar.set_postfix(done=states.count('done'), skipped=states.count('skipped'),
                                failed=states.count('failed'), refresh=False)
                bar.update(1)
    ordered = [outcomes[bag] for bag in bags]
    options = {k: v for k, v in (('z_max', outlier_z), ('min_delta', outlier_min_delta))
               if v is not None}
    paths = fleet_report.write_fleet_report(out, ordered, config, chash, engine,
                                            plots=plots, **options)
    return FleetRun(out, ordered, engine, chash, time.perf_counter() - wall, paths)


# --- command line (bag_eval with several bags) -------------------------------------------------

def main(args) -> int:
    """``bag_eval`` with several bags, a directory or a pattern (parsed by bag_eval's parser).

    Exit status: 0 every bag done; 1 some bags failed (named on stderr and in fleet.md), the
    others done; 2 nothing could be done (bad arguments or parameters, no bags, every bag
    failed); 130 interrupted (finished bags are kept: rerun to continue).
    """
    from infonet_ros.bag_eval import load_config

    def error(text):
        print(f"bag_eval: error: {' '.join(str(text).split())}", file=sys.stderr)
        return 2

    if args.truth:
        return error('--truth compares one bag with its ground truth; give a single bag')
    if args.workers is not None and args.workers < 0:
        return error(f'--workers must be >= 0, got {args.workers}')
    if args.scheduler and args.workers is not None:
        return error('--workers sizes the local cluster; with --scheduler the cluster '
                     'decides')
    if args.batch < 1:
        return error(f'--batch must be >= 1, got {args.batch}')
    try:
        bags = find_bags(args.bag)
        config = load_config(args.config, args.model, args.device, args.estimator)
        run = run_fleet(bags, config, args.out, compare=args.compare, batch_windows=args.batch,
                        scheduler=args.scheduler, workers=args.workers,
                        plots=not args.no_plots, progress=not args.quiet,
                        outlier_z=args.outlier_z, outlier_min_delta=args.outlier_min_delta)
    except (BagError, ValueError, FileNotFoundError, OSError) as exc:
        return error(exc)
    except KeyboardInterrupt:
        print(f'bag_eval: interrupted; finished bags are kept in {args.out}: rerun the same '
              'command to continue', file=sys.stderr)
        return 130
    if not args.quiet:
        print(console_summary(run))
    if run.count('failed') == 0:
        return 0
    return 2 if run.count('failed') == len(run.outcomes) else 1


def console_summary(run: FleetRun) -> str:
    doc = json.loads(run.report['json'].read_text())
    lines = [f"{len(run.outcomes)} bags: {run.count('done')} evaluated, "
             f"{run.count('skipped')} reused from an earlier run, {run.count('failed')} failed "
             f"({run.wall_s:.1f} s, {run.engine['kind']}, {run.engine['workers']} worker(s))"]
    for o in doc['outliers']:
        span = o['span_rel_s']
        where = f' at {span[0]:.1f}-{span[1]:.1f} s' if span else ''
        lines.append(f"  outlier: {Path(o['folder']).name}  {o['pair']}  median "
                     f"{o['median_mi']:.3f} nats vs fleet {o['fleet_median_mi']:.3f}{where}")
    for o in run.outcomes:
        if o.status == 'failed':
            lines.append(f'  failed: {o.error}')
    lines.append(f"report: {run.report['md']}")
    return '\n'.join(lines)
