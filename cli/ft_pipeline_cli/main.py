"""ft-pipeline: submit, follow, stop and report on fine-tuning runs through the pipeline's runs API.

Where the API is:
  --stack NAME (or FT_PIPELINE_STACK)  a deployed stack: its RunsApiUrl output, requests SigV4-signed for
                                       execute-api with your AWS credentials (boto3's usual chain)
  --url URL (or FT_PIPELINE_URL)       any base URL, e.g. the local emulation http://127.0.0.1:3000;
                                       unsigned unless --sign
  An explicit --url or --stack wins over the environment; FT_PIPELINE_URL wins over FT_PIPELINE_STACK.

watch (and submit --wait) prints one line per new timeline entry, `[+MM:SS] STATUS  transition  note`, where
the time is since the run was created (its created_at, so the same run always reads the same, however late the
watch starts; +H:MM:SS from an hour on), and exits when the run reaches a terminal state.

Exit codes:
  0    success (watch, submit --wait: the run COMPLETED)
  1    the run ended badly (STOPPED, REJECTED, *_FAILED, TRAINING_STOPPED), or nothing to report yet
  2    usage error, bad arguments (a file name the API refuses, an unreadable options file, no --stack/--url,
       a parameter the API answers 422)
  3    not found (404: no such run)
  4    API or network error (other 4xx/5xx, connection refused, timeout, no AWS credentials to sign with)
  130  interrupted (Ctrl-C)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import webbrowser
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from ft_pipeline_cli import __version__, render
from ft_pipeline_cli.client import ApiError, Client, Signer, download, stack_api_url, upload
from ft_pipeline_cli.constants import FILENAME_PATTERN, PAID_SERVING_STATES, SUCCEEDED, TERMINAL_STATES

OK, ENDED_BADLY, USAGE, NOT_FOUND, API_ERROR, INTERRUPTED = 0, 1, 2, 3, 4, 130
PROG = "ft-pipeline"
EPILOG = """\
exit codes:
  0    success (watch, submit --wait: the run COMPLETED)
  1    the run ended badly (STOPPED, REJECTED, *_FAILED, TRAINING_STOPPED), or nothing to report yet
  2    usage error, bad arguments (also when the API answers 422)
  3    not found (404: no such run)
  4    API or network error (other 4xx/5xx, connection refused, no AWS credentials to sign with)
  130  interrupted (Ctrl-C)

environment: FT_PIPELINE_STACK, FT_PIPELINE_URL stand in for --stack, --url.
watch prints [+MM:SS] STATUS  transition  note, the time since the run was created."""
RETRIES_WHILE_WATCHING = 5  # consecutive 503s / network failures a watch sits out before giving up


class UsageError(Exception):
    """Exit 2, with the message."""


class Context:
    def __init__(self, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
        self.args, self.out, self.err = args, out, err
        self._client: Client | None = None

    @property
    def json(self) -> bool:
        return bool(self.args.json)

    def print(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def note(self, text: str) -> None:
        print(text, file=self.err, flush=True)

    def dump(self, document: Any, *, line: bool = False) -> None:
        print(json.dumps(document, separators=(",", ":")) if line else json.dumps(document, indent=2),
              file=self.out, flush=True)

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = make_client(self.args)
        return self._client


def make_client(args: argparse.Namespace) -> Client:
    url, stack = args.url, args.stack
    if url and stack:
        raise UsageError("give --url or --stack, not both")
    if not url and not stack:
        url, stack = os.environ.get("FT_PIPELINE_URL") or None, os.environ.get("FT_PIPELINE_STACK") or None
        if url:
            stack = None
    if stack:
        url = stack_api_url(stack, args.region)
        return Client(url, Signer.from_session(args.region, url), timeout=args.timeout)
    if not url:
        raise UsageError("where is the API? give --stack NAME (a deployed stack) or --url URL "
                         "(or set FT_PIPELINE_STACK / FT_PIPELINE_URL)")
    signer = Signer.from_session(args.region, url) if args.sign else None
    try:
        return Client(url, signer, timeout=args.timeout)
    except ApiError as exc:
        raise UsageError(exc.message) from None


# --- commands -----------------------------------------------------------------------------------------------


def cmd_submit(ctx: Context) -> int:
    args = ctx.args
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    filename = path.name
    if not re.fullmatch(FILENAME_PATTERN, filename):
        raise UsageError(f"{filename}: the API accepts file names of letters, digits, '.', '_' and '-' "
                         "(starting with a letter or digit, at most 100 characters before the extension), ending "
                         ".csv or .jsonl, optionally .gz; rename the file")
    options: dict[str, Any] | None = None
    if args.options:
        try:
            options = json.loads(Path(args.options).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"--options {args.options}: not a readable JSON file ({exc})") from None
        if not isinstance(options, dict):
            raise UsageError(f"--options {args.options}: the file must hold a JSON object")
    if args.base_model:
        options = {**(options or {}), "base_model": args.base_model}
    answer = ctx.client.submit(filename, options)
    data = answer["data"]
    size = path.stat().st_size
    with path.open("rb") as stream:
        upload(data["url"], stream, size, data.get("headers") or {}, timeout=max(300.0, args.timeout))
    if ctx.json:
        ctx.dump(answer, line=args.wait)
    else:
        ctx.print(f"uploaded {filename} ({size:,} bytes){' with its options' if answer.get('options_written') else ''}")
        ctx.print(f"key: {data['key']}")
        if not args.wait:
            ctx.print(f"the run is listed once the upload is validated: {PROG} runs (or submit --wait)")
    if not args.wait:
        return OK
    run_id = _wait_for_run(ctx, data["key"])
    if not ctx.json:
        ctx.print(f"run: {run_id}")
    return _watch(ctx, run_id)


def _wait_for_run(ctx: Context, key: str) -> str:
    """The run of an upload, once the validator has claimed it (seconds; longer if the stack is throttled)."""
    failures, deadline = 0, time.monotonic() + ctx.args.appear_timeout
    while True:
        if time.monotonic() > deadline:
            raise ApiError(None, f"no run appeared for {key} within {ctx.args.appear_timeout:g} s: is the upload "
                                 f"under the stack's incoming prefix, and its validator healthy? ({PROG} runs)")
        try:
            runs = ctx.client.list_runs(key=key, limit=1).get("runs") or []
            failures = 0
        except ApiError as exc:
            failures = _sit_out(ctx, exc, failures)
            runs = []
        if runs:
            return str(runs[0]["run_id"])
        time.sleep(ctx.args.interval)


def _sit_out(ctx: Context, exc: ApiError, failures: int) -> int:
    """A watch keeps going through a few 503s and network failures; anything else ends it."""
    if exc.status not in (None, 429, 502, 503, 504) or failures + 1 >= RETRIES_WHILE_WATCHING:
        raise exc
    ctx.note(f"{PROG}: {exc}; retrying")
    return failures + 1


def cmd_runs(ctx: Context) -> int:
    args = ctx.args
    filters = {"state": args.state, "since": args.since, "until": args.until, "limit": args.limit}
    if args.all:
        runs = [run for page in ctx.client.all_runs(**filters) for run in page.get("runs") or []]
        document: dict[str, Any] = {"runs": runs}
    else:
        document = ctx.client.list_runs(**filters)
        runs = document.get("runs") or []
    if ctx.json:
        ctx.dump(document)
        return OK
    ctx.print(render.runs_table(runs))
    if document.get("next_cursor"):
        ctx.print(f"(more runs: {PROG} runs --all)")
    return OK


def cmd_show(ctx: Context) -> int:
    run = ctx.client.get_run(ctx.args.run)
    if ctx.json:
        ctx.dump(run)
    else:
        ctx.print(render.run_detail(run))
    return OK


def cmd_watch(ctx: Context) -> int:
    return _watch(ctx, ctx.args.run)


def _watch(ctx: Context, run_id: str) -> int:
    shown, failures = 0, 0
    while True:
        try:
            run = ctx.client.get_run(run_id)
            failures = 0
        except ApiError as exc:
            failures = _sit_out(ctx, exc, failures)
            time.sleep(ctx.args.interval)
            continue
        origin = render.parse_time(run.get("created_at"))
        timeline = run.get("timeline") or []
        for entry in timeline[shown:]:
            if ctx.json:
                ctx.dump(entry, line=True)
            else:
                ctx.print(render.timeline_line(entry, origin))
        shown = max(shown, len(timeline))
        status = run.get("status")
        if status in TERMINAL_STATES:
            if not ctx.json:
                verdict = (run.get("evaluation") or {}).get("passed")
                gate = {True: "; the quality gate passed", False: "; the quality gate FAILED"}.get(verdict, "")
                ctx.print(f"run {run_id} ended {status}{gate}")
            return OK if status in SUCCEEDED else ENDED_BADLY
        time.sleep(ctx.args.interval)


def cmd_stop(ctx: Context) -> int:
    answer = ctx.client.stop_run(ctx.args.run)
    if ctx.json:
        ctx.dump(answer)
    else:
        ctx.print(answer.get("message") or ("stop requested" if answer.get("stop_requested") else "nothing to stop"))
    return OK


REPORT_FILES = ("report.html", "report.json")


def cmd_report(ctx: Context) -> int:
    args = ctx.args
    run = ctx.client.get_run(args.run)
    links = run.get("links") or {}
    wanted = [name for name in REPORT_FILES if name in links]
    if not wanted:
        message = f"no report yet (the run is {run.get('status')})"
        if ctx.json:
            ctx.dump({"run_id": run.get("run_id"), "status": run.get("status"), "files": {}, "message": message})
        else:
            ctx.note(f"{PROG}: {message}")
        return ENDED_BADLY
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out}: {exc}") from None
    files: dict[str, str] = {}
    for name in wanted:
        target = out / f"{run['run_id']}-{name}"
        target.write_bytes(download(links[name]["url"], timeout=args.timeout))
        files[name] = str(target)
    if ctx.json:
        ctx.dump({"run_id": run["run_id"], "status": run.get("status"), "files": files})
    else:
        for path in files.values():
            ctx.print(path)
    if args.open and "report.html" in files:
        webbrowser.open(Path(files["report.html"]).resolve().as_uri())
    return OK


def cmd_cost(ctx: Context) -> int:
    runs = [run for page in ctx.client.all_runs(limit=100) for run in page.get("runs") or []]
    alive = [r for r in runs if r.get("serving_state") in PAID_SERVING_STATES or r.get("status") not in TERMINAL_STATES]
    alive_usd = round(sum(r.get("cost_usd") or 0.0 for r in alive), 6)
    total_usd = round(sum(r.get("cost_usd") or 0.0 for r in runs), 6)
    if ctx.json:
        ctx.dump({"alive": alive, "alive_usd": alive_usd, "runs": len(runs), "total_usd": total_usd})
        return OK
    if alive:
        ctx.print(render.cost_table(alive))
        ctx.print(f"alive: {len(alive)} run(s), {render.money(alive_usd)} so far")
    else:
        ctx.print("nothing alive: no run in progress, no serving resource")
    ctx.print(f"all {len(runs)} run(s): {render.money(total_usd)}")
    return OK


# --- the parser ---------------------------------------------------------------------------------------------


def _global_options(parser: argparse.ArgumentParser, defaults: bool) -> None:
    """The same options before or after the command (after it, they override nothing unless given)."""

    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    group = parser.add_argument_group("where the API is (before or after the command)")
    group.add_argument("--stack", metavar="NAME", default=default(None),
                       help="a deployed stack's name: its RunsApiUrl output, requests SigV4-signed")
    group.add_argument("--url", metavar="URL", default=default(None),
                       help="the API's base URL, e.g. http://127.0.0.1:3000 (unsigned unless --sign)")
    group.add_argument("--sign", action="store_true", default=default(False),
                       help="sign requests to --url with your AWS credentials (SigV4, execute-api)")
    group.add_argument("--region", default=default(None), help="the AWS region (else your profile's)")
    group.add_argument("--json", action="store_true", default=default(False),
                       help="print the API's JSON instead of tables (watch: one JSON line per timeline entry)")
    group.add_argument("--timeout", type=_positive_float, metavar="S", default=default(30.0),
                       help="seconds to wait for each answer (default 30)")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text}") from None
    if not value > 0:  # 0 would poll as fast as the API answers, into its throttle
        raise argparse.ArgumentTypeError(f"must be more than 0: {text}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # exit 2, as argparse does, but through main's return value
        self.print_usage(sys.stderr)
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Submit, follow, stop and report on the pipeline's fine-tuning runs.",
                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _global_options(parser, defaults=True)
    common = _Parser(add_help=False)
    _global_options(common, defaults=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, handler: Callable[[Context], int], text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text, parents=[common], epilog=EPILOG,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.set_defaults(handler=handler)
        return sub

    sub = command("submit", cmd_submit, "upload a dataset (.csv or .jsonl, optionally .gz): the upload starts a run")
    sub.add_argument("file", metavar="FILE")
    sub.add_argument("--base-model", metavar="ID", help="the base model to tune (sets the options' base_model)")
    sub.add_argument("--options", metavar="FILE.json", help="the run's options manifest (a JSON object)")
    sub.add_argument("--wait", action="store_true", help="then follow the run like watch, until it ends")
    sub.add_argument("--appear-timeout", type=_positive_float, default=900.0, metavar="S",
                     help="with --wait: give up if no run appears for the upload within S seconds (default 900)")
    sub.add_argument("--interval", type=_positive_float, default=10.0, metavar="S",
                     help="with --wait: seconds between polls (default 10)")

    sub = command("runs", cmd_runs, "list runs, newest first")
    sub.add_argument("--state", metavar="S", help="only runs in this state, e.g. TRAINING")
    sub.add_argument("--since", metavar="T", help="created at or after (ISO 8601 with a zone, e.g. 2026-12-01T00:00Z)")
    sub.add_argument("--until", metavar="T", help="created at or before (ISO 8601 with a zone)")
    sub.add_argument("--limit", type=_positive_int, metavar="N", help="runs per page (the API's default: 20)")
    sub.add_argument("--all", action="store_true", help="every page, not only the first")

    sub = command("show", cmd_show, "one run: timeline, resources, cost, evaluation and links")
    sub.add_argument("run", metavar="RUN")

    sub = command("watch", cmd_watch, "follow a run until it ends: one line per state it enters")
    sub.add_argument("run", metavar="RUN")
    sub.add_argument("--interval", type=_positive_float, default=10.0, metavar="S",
                     help="seconds between polls (default 10)")

    sub = command("stop", cmd_stop, "stop a run and tear down what it created")
    sub.add_argument("run", metavar="RUN")

    sub = command("report", cmd_report, "download the run's evaluation report (RUN-report.html, RUN-report.json)")
    sub.add_argument("run", metavar="RUN")
    sub.add_argument("--out", metavar="DIR", default=".", help="where to write them (default: .)")
    sub.add_argument("--open", action="store_true", help="open report.html in the browser")

    command("cost", cmd_cost, "what is alive (in progress or serving) and what it costs; the total of all runs")
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            parser.print_usage(err)
            print(f"{PROG}: error: give a command (see {PROG} --help)", file=err)
            return USAGE
        return int(args.handler(Context(args, out, err)))
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else USAGE)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=err)
        return USAGE
    except ApiError as exc:
        print(f"{PROG}: error: {exc}", file=err)
        if exc.status == 422:  # the API refused an argument (a state, a time, the options): a usage error
            return USAGE
        return NOT_FOUND if exc.status == 404 else API_ERROR
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=err)
        return INTERRUPTED
    except BrokenPipeError:  # ft-pipeline runs | head
        return OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
