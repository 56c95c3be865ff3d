"""The cpxl command: parse, call one library function, render, exit.

Failures end the command in one place (:class:`Cpxl`): a :class:`~cpxl.errors.CpxlError` is
said in words with its own exit code; anything else is a bug, said to be one (exit 70), with its
traceback kept in the workspace's outbox/errors/. The README's exit-code table says what each
code means.
"""

from __future__ import annotations

import gc
import json
import signal
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from cpxl import api
from cpxl.errors import (
    EXIT_ATTENTION,
    EXIT_BUG,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CpxlError,
)

F = TypeVar("F", bound=Callable[..., Any])
WORKSPACE, OUTBOX = "cpxl.workspace", "cpxl.outbox"  # where a bug's log goes (in ctx.meta)


class PeriodType(click.ParamType[str, str]):
    """A period id, checked the same way by every command (a usage error, exit 2)."""

    name = "period"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return api.check_period(str(value))
        except CpxlError as exc:
            self.fail(str(exc), param, ctx)


PERIOD = PeriodType()
PERIOD_HELP = "Period id: 2025, 2025S1, 2025Q1 or 202503."


def _remember(key: str) -> Callable[[click.Context, click.Parameter, Path | None], Path | None]:
    """A parameter callback that notes a folder, so that a bug's log can be written there."""

    def note(ctx: click.Context, _param: click.Parameter, value: Path | None) -> Path | None:
        if value is not None:
            ctx.meta[key] = value
        return value

    return note


def workspace_option(f: F) -> F:
    """Every command takes --workspace (default: the current folder)."""
    return click.option(
        "--workspace",
        "-w",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path(),
        show_default=True,
        callback=_remember(WORKSPACE),
        help="The workspace folder (rules/, templates_xlsx/, inbox/, outbox/, the store).",
    )(f)


def json_option(f: F) -> F:
    """Every command that reports can print its result as JSON instead."""
    return click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")(f)


def _emit(data: object) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=1, default=str))


@contextmanager
def _progress(label: str, total: int, quiet: bool) -> Iterator[Callable[[Any], None]]:
    """A progress bar on a terminal; nothing when output is piped or --json is asked for."""
    if quiet or not sys.stderr.isatty() or total <= 0:
        yield lambda _item: None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield lambda _item: bar.update(1)


# Allocations between two collections of Python's youngest generation (Python's own: 700).
YOUNG_COLLECTION_EVERY = 10_000


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Python's cycle collector set for a command's work, and set back after.

    A run or a consolidation makes millions of short-lived values. By default each 700 of them
    start a collection, and every few hundred one that walks every object alive, modules and
    catalogue included: a sixth of a 1,000-return run's parent. What lives for the whole
    command is set aside from collections (``gc.freeze``, which the worker processes forked
    later share too), and the youngest generation is collected less often.
    """
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


class Cpxl(click.Group):
    """The cpxl command group, which ends every failure of its commands in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; say an expected failure in words, and a bug as a bug."""
        try:
            with _fewer_collections():
                return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click's own: usage errors (exit 2) and explicit exits
        except CpxlError as exc:
            click.echo(api.describe(exc), err=True)
            raise click.exceptions.Exit(exc.exit_code) from exc
        except KeyboardInterrupt as exc:
            click.echo(
                "cpxl: stopped. Every file is either fully stored or not at all; "
                "run the same command again to finish.",
                err=True,
            )
            if isinstance(exc, api.RunStopped):
                click.echo(api.render_stopped(exc.report), err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from exc
        except Exception as exc:
            root, outbox = ctx.meta.get(WORKSPACE, Path()), ctx.meta.get(OUTBOX)
            log = api.record_bug(root, exc, outbox, ["cpxl", *sys.argv[1:]])
            if log is None:
                click.echo("".join(traceback.format_exception(exc)), err=True)
            click.echo(api.render_bug(log), err=True)
            raise click.exceptions.Exit(EXIT_BUG) from exc


def _stop_on_sigterm() -> None:
    """SIGTERM (a service stopped, a shutdown) stops a run as Ctrl-C does: in words."""

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


HELP = """Collect the child protection figures ministries report, check them, and build the
national workbook.

\b
A data officer's round, in a workspace folder (cpxl init makes one):
  cpxl templates --period 2025     issue one workbook per ministry (templates_xlsx/)
  cpxl run                         check every workbook saved into inbox/: each file gets one
                                   status and a feedback workbook to send back (outbox/feedback/)
  cpxl status --period 2025        who has reported, who is late, what is missing
  cpxl consolidate --period 2025   the national workbook and its exports (outbox/national/)

\b
Exit codes (the README says more): 0 done; 1 a file needs attention or a check failed;
2 asked in a way that cannot be done (an option, a period, the catalogue); 3 the work could
not start (workspace busy, store damaged or missing); 70 a bug in cpxl, to report with the
log it names; 130 stopped by Ctrl-C (run the same command again to finish).
"""


@click.group(cls=Cpxl, help=HELP)
@click.version_option(package_name="cpxl")
def main() -> None:
    """cpxl: Excel data collection for Cambodia's CPIMS."""


@main.command()
@click.argument(
    "directory", type=click.Path(file_okay=False, path_type=Path), callback=_remember(WORKSPACE)
)
def init(directory: Path) -> None:
    """Create a workspace with its own editable copy of the built-in catalogue."""
    ws = api.init(directory)
    click.echo(f"Workspace ready in {ws.root}: edit rules/ to change the catalogue.")


@main.group()
def catalogue() -> None:
    """Check the catalogue in rules/, or publish it as a metadata book."""


@catalogue.command("check")
@click.option("--rules", type=click.Path(file_okay=False, path_type=Path), default=None)
@workspace_option
@json_option
def catalogue_check(rules: Path | None, workspace: Path, as_json: bool) -> None:
    """Check every file of the catalogue; list every problem at once (exit 2 if any)."""
    report = api.check_catalogue(workspace, rules)
    if as_json:
        _emit(report.to_dict())
    else:
        click.echo(api.render_catalogue_report(report))
    sys.exit(EXIT_OK if report.ok else EXIT_USAGE)


@catalogue.command("book")
@click.option("--rules", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@workspace_option
def catalogue_book(rules: Path | None, out: Path | None, workspace: Path) -> None:
    """Write the bilingual metadata book: indicators, elements, rules, calendar, Khmer to review."""
    path = api.book(workspace, rules, out)
    click.echo(f"Metadata book written: {path}")


@main.command()
@click.option("--period", type=PERIOD, required=True, help=PERIOD_HELP)
@click.option("--ministry", "ministries", multiple=True, help="Only these ministries.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option(
    "--prefill-previous",
    is_flag=True,
    help="Show last period's accepted values (from the store) in grey beside each input block.",
)
@click.option("--store", "store_url", default=None)
@workspace_option
@json_option
def templates(
    period: str,
    ministries: Sequence[str],
    out: Path | None,
    prefill_previous: bool,
    store_url: str | None,
    workspace: Path,
    as_json: bool,
) -> None:
    """Issue one template per reporting ministry for a period (default: templates_xlsx/)."""
    total = api.count_templates(workspace, period, ministries)
    with _progress("Templates", total, as_json) as tick:
        result = api.templates(
            workspace,
            period,
            ministries,
            out,
            prefill_previous=prefill_previous,
            store_url=store_url,
            on_progress=tick,
        )
    if as_json:
        _emit(result.to_dict())
        return
    if not result.files:
        who = ", ".join(ministries) or "any ministry"
        click.echo(
            f"No templates for {result.period}: no data set of {who} is reported for a period "
            "of this kind. Each data set is reported yearly (2025), half-yearly (2025S1), "
            "quarterly (2025Q1) or monthly (202503), as its frequency in rules/ says."
        )
        return
    count = api.counted(len(result.files), "template")
    click.echo(f"{count} for {result.period} in {result.register.parent}:")
    for f in result.files:
        click.echo(f"  {f.name}")


@main.command()
@click.option("--period", type=PERIOD, required=True, help=PERIOD_HELP)
@click.option("--ministry", "ministries", multiple=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--mistakes", is_flag=True, help="Add typical human errors and list them.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None)
@workspace_option
@json_option
def simulate(
    period: str,
    ministries: Sequence[str],
    seed: int,
    mistakes: bool,
    out: Path | None,
    workspace: Path,
    as_json: bool,
) -> None:
    """Fill issued templates as officials would (for the demo, training and tests)."""
    made = api.simulate(workspace, period, ministries, seed, mistakes, out)
    if as_json:
        _emit([m.to_dict() for m in made])
        return
    for m in made:
        click.echo(f"{m.path}")
        for x in m.mistakes:
            click.echo(f"  {x.sheet}!{x.cell}: {x.kind}: typed {x.typed!r} for {x.intended}")


@main.command()
@click.option("--inbox", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option(
    "--outbox",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    callback=_remember(OUTBOX),
)
@click.option("--store", "store_url", default=None, help="SQLite path or postgresql:// URL.")
@click.option("--dry-run", is_flag=True, help="Check and write feedback; leave the store as is.")
@click.option(
    "--period",
    "periods",
    type=PERIOD,
    multiple=True,
    help="Only returns for this period are expected (others are errors).",
)
@click.option(
    "--ministry",
    "ministries",
    multiple=True,
    help="Only returns from this ministry are expected (others are errors).",
)
@click.option("--workers", type=int, default=None, help="Worker processes (default: cores).")
@click.option(
    "--received",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]),
    default=None,
    help="When these files were received (e.g. a batch saved from e-mail days later), "
    "instead of the time each was saved in the inbox; local time.",
)
@click.option(
    "--time-limit",
    type=click.FloatRange(min=1),
    default=api.TIME_LIMIT_S,
    show_default=True,
    help="Seconds one file may take to check before it is stopped.",
)
@click.option(
    "--wait",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds to wait for another run on this workspace to finish.",
)
@workspace_option
@json_option
def run(
    inbox: Path | None,
    outbox: Path | None,
    store_url: str | None,
    dry_run: bool,
    periods: Sequence[str],
    ministries: Sequence[str],
    workers: int | None,
    received: datetime | None,
    time_limit: float,
    wait: float,
    workspace: Path,
    as_json: bool,
) -> None:
    """Check every file in the inbox, write feedback, store clean data."""
    _stop_on_sigterm()
    total = api.count_inbox(workspace, inbox)
    expect = api.Expectation(tuple(ministries), tuple(periods))
    catalogue = api.catalogue_of(api.workspace(workspace))
    with _progress("Checking", total, as_json) as tick:
        report = api.run(
            workspace,
            inbox,
            outbox,
            store_url,
            dry_run,
            workers,
            wait=wait,
            expect=expect,
            on_progress=tick,
            time_limit=time_limit,
            received=received.astimezone() if received else None,
            catalogue=catalogue,
        )
    shown = api.report_dict(report, catalogue) if as_json else api.render_run(report)
    if as_json:
        _emit(shown)
    else:
        click.echo(shown)
    sys.exit(report.exit_code)


@main.command()
@click.option("--period", type=PERIOD, required=True, help=PERIOD_HELP)
@click.option("--store", "store_url", default=None)
@workspace_option
@json_option
def status(period: str, store_url: str | None, workspace: Path, as_json: bool) -> None:
    """Who has reported for a period, who is late, who is missing: who to chase today."""
    report = api.status(workspace, period, store_url)
    if as_json:
        _emit(report.to_dict())
    else:
        click.echo(api.render_status(report))
    sys.exit(report.exit_code)


@main.group()
def store() -> None:
    """Look after the national store."""


@store.command("check")
@click.option("--store", "store_url", default=None)
@workspace_option
def store_check(store_url: str | None, workspace: Path) -> None:
    """Run the store's integrity check."""
    problems = api.store_check(workspace, store_url)
    for p in problems:
        click.echo(f"problem: {p}")
    found = api.counted(len(problems), "problem")
    click.echo("The store is sound." if not problems else f"{found} found.")
    sys.exit(EXIT_OK if not problems else EXIT_ATTENTION)


@store.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--store", "store_url", default=None)
@workspace_option
def store_backup(file: Path, store_url: str | None, workspace: Path) -> None:
    """Copy the store to FILE with the database's own backup mechanism."""
    api.store_backup(workspace, file, store_url)
    click.echo(f"Backup written: {file}")


@main.command()
@click.option("--period", type=PERIOD, default=None, help=PERIOD_HELP)
@click.option("--from", "first", type=PERIOD, default=None, help="First period of a range.")
@click.option("--to", "last", type=PERIOD, default=None, help="Last period of a range.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option(
    "--format",
    "formats",
    default=",".join(api.CONSOLIDATE_FORMATS),
    show_default=True,
    callback=lambda _ctx, _param, value: _formats(value),
    help="Which outputs, separated by commas.",
)
@click.option("--store", "store_url", default=None)
@click.option(
    "--one-process",
    is_flag=True,
    help="Write the workbook and the exports one after the other in one process: about twice "
    "the time, a third less memory.",
)
@workspace_option
@json_option
def consolidate(
    period: str | None,
    first: str | None,
    last: str | None,
    out: Path | None,
    formats: list[str],
    store_url: str | None,
    one_process: bool,
    workspace: Path,
    as_json: bool,
) -> None:
    """Build the national workbook and exports (default: into outbox/national/)."""
    if not period and not (first and last):
        raise click.UsageError("give --period P, or --from P1 --to P2")
    result = api.consolidate(
        workspace, period, first, last, out, formats, store_url, side_by_side=not one_process
    )
    if as_json:
        _emit(result.to_dict())
    else:
        click.echo(api.render_consolidation(result))


def _formats(value: str) -> list[str]:
    """--format as a list, refused in words when it names a format cpxl does not write."""
    wanted = [f.strip().lower() for f in value.split(",") if f.strip()]
    unknown = [f for f in wanted if f not in api.CONSOLIDATE_FORMATS]
    if unknown or not wanted:
        given = api.in_words(unknown) if unknown else "nothing"
        raise click.BadParameter(
            f"{given} is not a format cpxl writes; "
            f"choose among {api.in_words(api.CONSOLIDATE_FORMATS)}."
        )
    return wanted


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8080, show_default=True)
@click.option("--store", "store_url", default=None, help="SQLite path or postgresql:// URL.")
@click.option(
    "--secure-cookies", is_flag=True, help="Send the session cookie over HTTPS only (TLS proxy)."
)
@workspace_option
def serve(
    host: str, port: int, store_url: str | None, secure_cookies: bool, workspace: Path
) -> None:
    """Serve the portal: ministries upload returns, officers and the national team download."""
    api.serve(workspace, host, port, store_url, secure_cookies=secure_cookies)


@main.group()
def users() -> None:
    """Portal accounts: senders (one ministry), officers and the national team."""


@users.command("add")
@click.argument("login")
@click.option("--role", type=click.Choice(["sender", "officer", "national"]), required=True)
@click.option("--ministry", default=None, help="A sender's ministry code, e.g. MOSVY.")
@click.option("--store", "store_url", default=None)
@workspace_option
def users_add(
    login: str, role: str, ministry: str | None, store_url: str | None, workspace: Path
) -> None:
    """Add an account; its password is read from standard input (one line)."""
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    account = api.users_add(workspace, login, password, role, ministry, store_url)
    click.echo(f"Account {account.login} ({account.role}) added.")


@users.command("list")
@click.option("--store", "store_url", default=None)
@workspace_option
@json_option
def users_list(store_url: str | None, workspace: Path, as_json: bool) -> None:
    """List every account with its role, ministry and whether it may sign in."""
    accounts = api.users_list(workspace, store_url)
    if as_json:
        _emit([a.to_dict() for a in accounts])
    else:
        click.echo(api.render_users(accounts))


@users.command("disable")
@click.argument("login")
@click.option("--store", "store_url", default=None)
@workspace_option
def users_disable(login: str, store_url: str | None, workspace: Path) -> None:
    """Stop an account from signing in (what it did stays in the access log)."""
    account = api.users_disable(workspace, login, store_url)
    click.echo(f"Account {account.login} is disabled.")


@main.command()
@click.argument(
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo"),
    callback=_remember(WORKSPACE),
)
@json_option
def demo(directory: Path, as_json: bool) -> None:
    """Build a complete demo workspace: templates, returns, a run, national outputs."""
    from cpxl.demo import build_demo

    result = build_demo(directory)
    if as_json:
        _emit(result.to_dict())
    else:
        click.echo(result.render())


if __name__ == "__main__":  # pragma: no cover
    main()
