"""The ``tuner`` command: argument parsing only; the work is done by the library.

Exit codes: 0 success, 1 a run that could not complete, 2 invalid input (nothing dispatched or
written).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from importlib import resources

from tuner.errors import ConfigError, ResultsError

DEFAULT_CONFIG = "california.yaml"


def _default_config_text() -> str:
    return resources.files("tuner.configs").joinpath(DEFAULT_CONFIG).read_text()


def _json_default(value):
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _load_search(config: str | None):
    from tuner.search import Search

    return Search(config if config else _default_config_text())


def cmd_run(args: argparse.Namespace) -> int:
    from tuner.results import best_per_model

    search = _load_search(args.config)
    search.config = search.config.with_overrides(results=args.results, cluster=args.cluster, workers=args.workers)
    result = search.run(
        progress=not args.quiet,
        refit=False,
        retry_failed=args.retry_failed,
        take_over=args.take_over,
        allow_mixed=args.allow_mixed,
    )
    df = result.results_
    n_failed = int((df["status"] == "failed").sum()) if len(df) else 0
    print(f"tuner: {len(df)} trials in {search.config.results_url} ({result.dispatched} run now, {n_failed} failed)")
    best = best_per_model(df)
    if best.empty:
        print("tuner: no trial succeeded", file=sys.stderr)
        return 1
    _print_table(best, "best trial per model", search.config.metric)
    return 0


def _print_table(df, title: str, metric: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col in ("model", metric, "± std", "params", "trial_id"):
        table.add_column(col, overflow="fold", no_wrap=col != "params")
    for _, row in df.iterrows():
        table.add_row(
            str(row["model"]),
            f"{row['mean_test_score']:.6g}",
            f"{row['std_test_score']:.3g}",
            row["params"],
            str(row["trial_id"]),
        )
    console = Console()
    if not console.is_terminal:  # logs and pipes: no wrapping of ids and names
        console = Console(width=200)
    console.print(table)


def cmd_results(args: argparse.Namespace) -> int:
    from tuner.results import best_per_model, best_trials, read_results, summary
    from tuner.store import ResultStore

    store = ResultStore(args.url)
    if store.fs.isdir(store.root) and not any(
        os.path.basename(p.rstrip("/")).startswith("part-") for p in store.fs.ls(store.root, detail=False)
    ):
        # a results root, not a search: name the searches in it
        found = [
            os.path.basename(p.rstrip("/"))
            for p in store.fs.ls(store.root, detail=False)
            if store.fs.isdir(p) and any(os.path.basename(q).startswith("part-") for q in store.fs.ls(p, detail=False))
        ]
        if found:
            print(f"tuner: {args.url} holds the results of several searches; pick one: "
                  + ", ".join(f"{args.url.rstrip('/')}/{name}" for name in sorted(found)), file=sys.stderr)
            return 2
    df = read_results(args.url)
    if df.empty:
        print(f"tuner: no results at {args.url}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary(df, args.top), default=_json_default, indent=2))
        return 0
    metric = str(df["metric"].iloc[0])
    print(f"{len(df)} trials, {int((df['status'] == 'failed').sum())} failed, metric {metric}")
    _print_table(best_trials(df, args.top), f"top {args.top}", metric)
    _print_table(best_per_model(df), "best per model", metric)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    search = _load_search(args.config)
    plan = search.plan(with_store=False)
    if "brackets" in plan:  # successive halving, Hyperband, ASHA
        rungs = sum(r["n_configs"] for b in plan["brackets"] for r in b["rungs"])
        print(f"ok: '{search.config.name}' is valid: {plan['strategy']}, {len(plan['brackets'])} bracket(s), "
              f"at most {rungs} rung evaluations, {plan['total_resources']} rounds per fold")
    else:
        print(f"ok: '{search.config.name}' is valid: {plan['total_trials']} trials, {plan['total_fits']} fits")
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    search = _load_search(args.config)
    plan = search.plan()
    if args.json:
        print(json.dumps(plan, indent=2))
        return 0
    print(f"search '{plan['name']}': strategy {plan['strategy']}, engine {plan['engine']}, {plan['folds']}-fold CV")
    print(f"results: {plan['results']}")
    for model, m in plan["models"].items():
        print(f"  {model:<50} {m['trials']:>7} trials {m['fits']:>8} fits  ({m['finished']} finished)")
    print(f"total: {plan['total_trials']} trials, {plan['total_fits']} fits, {plan['to_run']} to run")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from tuner.report import write_report

    path = write_report(args.url, args.output)
    print(f"tuner: report written to {path}")
    return 0


def cmd_cluster_spec(args: argparse.Namespace) -> int:
    from tuner.kubernetes import render_cluster_spec

    search = _load_search(args.config)
    print(render_cluster_spec(search.config.cluster, fmt=args.format))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tuner", description="Distributed hyperparameter search on Dask.")
    sub = p.add_subparsers(dest="command", required=True)

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

    res = sub.add_parser("results", help="show the best trials of a results location")
    res.add_argument("url", help="a search's results: results/<name> or s3://bucket/prefix/<name>")
    res.add_argument("--top", type=int, default=10)
    res.add_argument("--json", action="store_true", help="machine-readable output")
    res.set_defaults(func=cmd_results)

    val = sub.add_parser("validate", help="check a configuration without running anything")
    val.add_argument("config")
    val.set_defaults(func=cmd_validate)

    plan = sub.add_parser("plan", help="show what would run: trials and fits per model")
    plan.add_argument("config", nargs="?")
    plan.add_argument("--json", action="store_true")
    plan.set_defaults(func=cmd_plan)
    rep = sub.add_parser("report", help="write a self-contained HTML report of a results location")
    rep.add_argument("url", help="a search's results: results/<name> or s3://bucket/prefix/<name>")
    rep.add_argument("--output", default="report.html", help="HTML file to write (default: report.html)")
    rep.set_defaults(func=cmd_report)

    clu = sub.add_parser("cluster", help="Kubernetes helpers")
    clu_sub = clu.add_subparsers(dest="cluster_command", required=True)
    spec = clu_sub.add_parser("spec", help="print the DaskCluster manifest that kind 'kubernetes' would create")
    spec.add_argument("config")
    spec.add_argument("--format", choices=("yaml", "json"), default="yaml")
    spec.set_defaults(func=cmd_cluster_spec)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, ResultsError) as exc:
        print(f"tuner: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
