"""The ``tuner`` command: argument parsing and printing only; the work is done by the library.

Exit codes:

* 0 -- success;
* 1 -- a run in which no trial succeeded (the most frequent errors are printed), or an
  unexpected internal error (one line; ``TUNER_DEBUG=1`` shows the traceback);
* 2 -- bad input or an unusable location: an invalid configuration or option, a results
  location that is a file, unwritable, foreign or empty, a scheduler that does not answer.
  Nothing is dispatched and nothing is written;
* 130 -- interrupted with Ctrl-C: what finished is saved, the same command resumes;
* 141 -- the output pipe was closed (``tuner results --json | head``), silently.

No traceback reaches the terminal: every error is one line naming what, where and what to do.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from importlib import resources
from typing import Any

from tuner.errors import ConfigError, TunerError

DEFAULT_CONFIG = "california.yaml"


def _default_config_text() -> str:
    return resources.files("tuner.configs").joinpath(DEFAULT_CONFIG).read_text()


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _load_search(config: str | None):
    from tuner.search import Search

    return Search(config if config else _default_config_text())


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _err(message: str) -> None:
    print(f"tuner: {message}", file=sys.stderr, flush=True)


# -- run ------------------------------------------------------------------------------------


def _on_sigint(signum, frame):  # noqa: ARG001 - signal handler signature
    # Quiet Dask's own shutdown chatter (closed comms, cancelled tasks): the run stops on purpose.
    for name in ("distributed", "tornado", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not break the clean-up
    raise KeyboardInterrupt


def _warm_workers(args: argparse.Namespace):
    """A local cluster's workers forked with their imports done (:mod:`tuner.warm_start`), the fork
    server started first so that its imports run beside the driver's."""
    from pathlib import Path

    from tuner.warm_start import preloaded_workers, worker_modules

    try:
        text = Path(args.config).read_text(encoding="utf-8") if args.config else _default_config_text()
    except (OSError, UnicodeDecodeError):
        text = ""  # validation names the problem
    return preloaded_workers(worker_modules(text, args.cluster))


def cmd_run(args: argparse.Namespace) -> int:
    with _warm_workers(args):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from tuner.results import best_per_model, counts

    search = _load_search(args.config)
    search.config = search.config.with_overrides(results=args.results, cluster=args.cluster, workers=args.workers)
    location = search.config.results_url
    previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        result = search.run(
            progress=not args.quiet,
            refit=False,
            retry_failed=args.retry_failed,
            take_over=args.take_over,
            allow_mixed=args.allow_mixed,
        )
    except KeyboardInterrupt:
        saved = _saved_trials(location)
        _err(f"interrupted: {_plural(saved, 'trial')} saved in {location}; run the same command to resume")
        return 130
    finally:
        signal.signal(signal.SIGINT, previous)
    df = result.results_
    c = counts(df)
    print(f"tuner: {_plural(c.trials, 'trial')} in {location} ({result.dispatched:,} run now, "
          f"{c.failed:,} failed)")
    _print_failures(df)
    best = best_per_model(df)
    if best.empty:
        _err("no trial succeeded; the errors above are in the 'error' column of the results")
        return 1
    _print_table(best, "best trial per model", search.config.metric)
    return 0


def _saved_trials(location: str) -> int:
    try:
        from tuner.store import ResultStore

        return len(ResultStore(location).read(columns=["trial_id"]))
    except Exception:  # the location itself is the problem: say 0 rather than fail again
        return 0


# -- printing -------------------------------------------------------------------------------


def _console():
    from rich.console import Console

    console = Console()
    if not console.is_terminal:  # logs and pipes: no wrapping of ids and names
        console = Console(width=200)
    return console


def _print_table(df, title: str, metric: str) -> None:
    from rich.table import Table

    budgeted = "rung" in df.columns and df["rung"].notna().any()
    table = Table(title=title)
    budget = "rows %" if "param_rows" in df.columns and df["param_rows"].notna().any() else "rounds"
    columns = ["model", metric, "± std", *(["rung", budget] if budgeted else []), "params", "trial_id"]
    for col in columns:
        table.add_column(col, overflow="fold", no_wrap=col != "params")
    for _, row in df.iterrows():
        rung = [str(int(row["rung"])), str(int(row["n_resources"]))] if budgeted else []
        table.add_row(
            str(row["model"]),
            f"{row['mean_test_score']:.6g}",
            f"{row['std_test_score']:.3g}",
            *rung,
            row["params"],
            str(row["trial_id"]),
        )
    _console().print(table)


def _print_failures(df, top: int = 5) -> None:
    from tuner.results import failures

    failed = failures(df, None)
    if failed.empty:
        return
    total = int(failed["trials"].sum())
    print(f"failed trials by error ({_plural(total, 'trial')}):")
    for _, row in failed.head(top).iterrows():
        print(f"  {row['trials']:>6,} x {row['model']}: {row['error']}")
    if len(failed) > top:
        print(f"  ... and {len(failed) - top} other errors (tuner results --json lists them all)")


# -- other verbs ----------------------------------------------------------------------------


def cmd_results(args: argparse.Namespace) -> int:
    from tuner.results import best_per_model, best_trials, counts, read_search, select_metric, summary

    df = read_search(args.url)
    if args.json:
        print(json.dumps(summary(df, args.top, args.metric), default=_json_default, indent=2))
        return 0
    rows, metric = select_metric(df, args.metric)
    c = counts(rows)
    configs = f" ({_plural(c.configurations, 'configuration')})" if c.configurations != c.trials else ""
    print(f"{_plural(c.trials, 'trial')}{configs}, {c.ok:,} ok, {c.failed:,} failed, metric {metric}")
    _print_failures(rows, top=10)
    if c.ok == 0 or metric is None:
        _err("no trial succeeded")
        return 1
    _print_table(best_trials(rows, args.top, metric), f"top {args.top}", metric)
    _print_table(best_per_model(rows, metric), "best per model", metric)
    return 0


def cmd_fidelity(args: argparse.Namespace) -> int:
    import pandas as pd

    from tuner.errors import ResultsError
    from tuner.results import fidelity, read_search

    table = fidelity(read_search(args.url), args.metric)
    if table.empty:
        raise ResultsError(f"no configuration at {args.url} was scored at two round counts: run random or tpe "
                           "with search.max_resource (a rounds ladder), or successive_halving, hyperband or asha")
    if args.json:
        print(json.dumps(table.to_dict("records"), indent=2))
        return 0
    print("rank correlation of each budget's scores (round count, or share of the rows) with the largest's "
          "(Spearman; +1: short runs rank configurations as long runs do, 0: they say nothing)")
    for model, group in table.groupby("model", sort=False):
        print(f"  {model}")
        for _, row in group.iterrows():
            rho = "n/a (fewer than 3)" if pd.isna(row["spearman"]) else f"{row['spearman']:+.2f}"
            budget = f"{int(row['rounds']):>7,} rounds" if row["unit"] == "rounds" else f"{int(row['rounds']):>5}% of the rows"
            print(f"    {budget}  {rho:>6}  over {int(row['configurations']):,} configurations")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    search = _load_search(args.config)
    plan = search.plan(with_store=False)
    if plan.budgeted:
        print(f"ok: '{plan.name}' is valid: {plan.strategy}, {_plural(len(plan.brackets or []), 'bracket')}, "
              f"at most {_plural(plan.total_trials, 'rung trial')}, {plan.continued_resources:,} rounds per fold")
    else:
        print(f"ok: '{plan.name}' is valid: {_plural(plan.total_trials, 'trial')}, {_plural(plan.total_fits, 'fit')}")
    for line in plan.data_lines:
        print("  " + line)
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    search = _load_search(args.config)
    plan = search.plan()
    out = plan.as_dict()
    lines = plan.lines()
    if args.calibrate:
        from tuner.projection import DEFAULT_WORKERS, format_seconds

        workers = args.workers or list(DEFAULT_WORKERS)
        try:
            projections, models = search.projection(workers)
        except ValueError as exc:  # no configuration of a model could be fitted here
            raise ConfigError("--calibrate", search.config.name, "a search whose models can be fitted", str(exc)) from None
        out["calibration"] = {m: {"overhead_s": t.overhead, "per_unit_s": t.per_unit, "exponent": t.exponent}
                              for m, t in models.items()}
        out["projection"] = [
            {"workers": p.workers, "wall_seconds": p.wall_seconds, "efficiency": p.efficiency,
             "tail_seconds": p.tail_seconds, "work_seconds": p.busy_seconds,
             **({"cost": p.cost(args.price_per_core_hour)} if args.price_per_core_hour is not None else {})}
            for p in projections]
        lines.append(f"projected on this machine's speed ({format_seconds(projections[0].busy_seconds)} of fits "
                     "in all; fits timed here on one fold, each slot one core):")
        for p in projections:
            cost = f"  cost {p.cost(args.price_per_core_hour):,.2f}" if args.price_per_core_hour is not None else ""
            lines.append(f"  {p.workers:>6,} workers  {format_seconds(p.wall_seconds):>9}  efficiency "
                         f"{p.efficiency:4.0%}  beyond the ideal {format_seconds(p.tail_seconds)}{cost}")
    elif args.workers or args.price_per_core_hour is not None:
        raise ConfigError("--calibrate", None, "--calibrate with --workers and --price-per-core-hour "
                          "(the projection times a few fits on this machine first)")
    print(json.dumps(out, indent=2) if args.json else "\n".join(lines))
    return 0



def cmd_report(args: argparse.Namespace) -> int:
    from tuner.report import write_report

    path = write_report(args.url, args.output, metric=args.metric)
    print(f"tuner: report written to {path}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    with _warm_workers(args):
        return _export(args)


def _export(args: argparse.Namespace) -> int:
    from pathlib import Path

    search = _load_search(args.config)
    search.config = search.config.with_overrides(results=args.results, cluster=args.cluster, workers=args.workers)
    output = Path(args.output)
    if not output.parent.is_dir():
        raise ConfigError("--output", args.output, "a file in an existing folder")
    if output.is_dir():
        raise ConfigError("--output", args.output, "a file name, not a folder")
    model = search.export(trial_id=args.trial)
    model.save(output)
    print(f"tuner: {model!r} written to {output} (load it with tuner.TunedModel.load)")
    return 0


def cmd_cluster_spec(args: argparse.Namespace) -> int:
    from tuner.kubernetes import render_cluster_spec

    search = _load_search(args.config)
    print(render_cluster_spec(search.config.cluster, fmt=args.format))
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: an integer >= 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"got {value}; allowed: an integer >= 1")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: a number >= 0") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: a number >= 0")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line and exit 2, as for every other bad input
        self.exit(2, f"tuner: error: {message} (see tuner {self.prog.split()[-1]} --help)\n"
                  if " " in self.prog else f"tuner: error: {message} (see tuner --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="tuner", description="Distributed hyperparameter search on Dask.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a search (default: the built-in California housing search)")
    run.add_argument("config", nargs="?", help="YAML configuration (default: built-in California housing)")
    run.add_argument("--results", help="results location: folder, s3://bucket/prefix, gs://bucket/prefix")
    run.add_argument("--cluster", help="'local' or a scheduler address such as tcp://host:8786")
    run.add_argument("--workers", type=int, help="local cluster: number of worker processes")
    run.add_argument("--retry-failed", action="store_true", help="run failed trials again")
    run.add_argument("--quiet", action="store_true", help="no progress output")
    run.add_argument("--take-over", action="store_true", help="write even if another run's lease looks alive")
    run.add_argument(
        "--allow-mixed", action="store_true", help="add trials to results of a search with other data/CV/metric"
    )
    run.set_defaults(func=cmd_run)

    res = sub.add_parser("results", help="show the best trials and the failures of a results location")
    res.add_argument("url", help="a search's results: results/<name> or s3://bucket/prefix/<name>")
    res.add_argument("--top", type=_positive, default=10, help="how many of the best trials (default 10)")
    res.add_argument("--metric", help="the metric to rank by, where the results hold several")
    res.add_argument("--json", action="store_true", help="machine-readable output")
    res.set_defaults(func=cmd_results)

    fid = sub.add_parser("fidelity", help="how well short runs predict long ones: rank correlation per round count")
    fid.add_argument("url", help="a search's results: results/<name> or s3://bucket/prefix/<name>")
    fid.add_argument("--metric", help="the metric to rank by, where the results hold several")
    fid.add_argument("--json", action="store_true", help="machine-readable output")
    fid.set_defaults(func=cmd_fidelity)

    val = sub.add_parser("validate", help="check a configuration without running anything")
    val.add_argument("config")
    val.set_defaults(func=cmd_validate)

    plan = sub.add_parser("plan", help="show what would run: trials and fits per model")
    plan.add_argument("config", nargs="?")
    plan.add_argument("--json", action="store_true")
    plan.add_argument("--calibrate", action="store_true",
                      help="time a few fits per model here and project the wall time on --workers slots")
    plan.add_argument("--workers", type=_positive, nargs="+", help="worker slots to project for (default 2 16 64 200 1000)")
    plan.add_argument("--price-per-core-hour", type=_non_negative, help="with --calibrate: the cost of each projection")
    plan.set_defaults(func=cmd_plan)

    rep = sub.add_parser("report", help="write a self-contained HTML report of a results location")
    rep.add_argument("url", help="a search's results: results/<name> or s3://bucket/prefix/<name>")
    rep.add_argument("--output", default="report.html", help="HTML file to write (default: report.html)")
    rep.add_argument("--metric", help="the metric to rank by, where the results hold several")
    rep.set_defaults(func=cmd_report)

    exp = sub.add_parser("export", help="refit the best configuration on all the data and save the model")
    exp.add_argument("config", help="the search's YAML configuration (its data and results location)")
    exp.add_argument("--output", default="model.joblib", help="file to write (default: model.joblib)")
    exp.add_argument("--trial", help="a trial_id to export instead of the best")
    exp.add_argument("--results", help="results location, as for tuner run")
    exp.add_argument("--cluster", help="'local' or a scheduler address such as tcp://host:8786")
    exp.add_argument("--workers", type=int, help="local cluster: number of worker processes")
    exp.set_defaults(func=cmd_export)

    clu = sub.add_parser("cluster", help="Kubernetes helpers")
    clu_sub = clu.add_subparsers(dest="cluster_command", required=True, parser_class=_Parser)
    spec = clu_sub.add_parser("spec", help="print the DaskCluster manifest that kind 'kubernetes' would create")
    spec.add_argument("config")
    spec.add_argument("--format", choices=("yaml", "json"), default="yaml")
    spec.set_defaults(func=cmd_cluster_spec)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except TunerError as exc:  # bad input or an unusable location: nothing was written
        _err(f"error: {exc}")
        return 2
    except BrokenPipeError:
        # the reader went away (| head): stop quietly; no flush at exit into the closed pipe
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except Exception as exc:  # a bug, or an environment problem nobody foresaw: one line still
        if os.environ.get("TUNER_DEBUG"):
            raise
        _err(f"internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
             "(run with TUNER_DEBUG=1 for the traceback, and please report it)")
        return 1


def entry() -> None:
    """The ``tuner`` executable: :func:`main` (SciPy's docstrings kept as written,
    :mod:`tuner.scipy_docstrings`), then the exit handlers, then exit at once.

    By then everything is written and closed (results, the lease, the cluster); what Python would
    still do is free the hundreds of modules and objects imported (scikit-learn, pandas, Dask, the
    model libraries): half a second or more of every command, for nothing. Where a thread of ours
    is still working (nothing should be), Python's own shutdown runs instead and waits for it.
    """
    import atexit
    import threading

    import tuner.scipy_docstrings  # noqa: F401 - applies itself: a faster import of scikit-learn

    code = main()
    working = [t for t in threading.enumerate()
               if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    if working:
        sys.exit(code)
    atexit._run_exitfuncs()  # logging's flush, multiprocessing's clean-up, Dask's
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can reach it
            pass
    os._exit(code)


if __name__ == "__main__":
    entry()
