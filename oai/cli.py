"""`libfed sets rule/show/list/remove-rule`: sets defined by rules (docs/sets.md), which
the root CLI registers under its `sets` group beside `sets add`.

Each command imports what it uses when it runs: `libfed --help` reads this module for
the commands' help alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from libfed.kernel.cli import Context, pass_context, progress, refusal

if TYPE_CHECKING:
    from libfed.records.set_membership import Evaluated, SetSummary

_FIELD_HELP = (
    "A MARC condition (repeatable, each must hold): TAG and a subfield code, or a control "
    "field's /POSITIONS, then = (equals), ~ (contains) or ^ (starts with), then values "
    "separated by |: 650a~history, 041a=aze|rus, 008/35-37=aze, 245^the."
)


def _counted(done: Evaluated) -> str:
    return (
        f"{done.members:,} records now in the set, {done.changed:,} datestamps changed "
        f"({done.read:,} records read)"
    )


@click.command("rule")
@click.argument("spec")
@click.option(
    "--language",
    "languages",
    multiple=True,
    metavar="CODE",
    help="In this language, as catalogued: MARC 008/35-37 or 041 (aze, rus; repeatable or "
    "comma-separated: any of them).",
)
@click.option("--year", "years", metavar="FROM-TO", help="Published 1990-2000, 1990-, -2000, 1995.")
@click.option(
    "--subject",
    "subjects",
    multiple=True,
    metavar="WORDS",
    help="Every word among the subjects (6xx), in any script, as search matches them "
    "(repeatable: any of them).",
)
@click.option("--field", "fields", multiple=True, metavar="CONDITION", help=_FIELD_HELP)
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="NAME",
    help="Harvested from this source ('local': this library's own; repeatable: any).",
)
@click.option("--name", help="The set's name, when the rule makes a new set.")
@click.option("--preview", is_flag=True, help="Only count the records it would hold.")
@pass_context
def sets_rule(
    context: Context,
    spec: str,
    languages: tuple[str, ...],
    years: str | None,
    subjects: tuple[str, ...],
    fields: tuple[str, ...],
    sources: tuple[str, ...],
    name: str | None,
    preview: bool,
) -> None:
    """Define set SPEC by a rule: its members are the records that meet every condition
    given. It replaces the set's earlier rule and hand-assigned members; records whose
    membership changes get a new datestamp, so incremental harvests see them."""
    from libfed.kernel.errors import ServiceError
    from libfed.records import set_membership
    from libfed.records.set_rules import check_spec, parse_rule

    try:
        check_spec(spec)
        rule = parse_rule(
            languages=languages,
            years=years or "",
            subjects=subjects,
            fields=fields,
            sources=sources,
        )
    except ServiceError as error:
        raise refusal(error) from None
    database = context.migrated_db()
    if preview:
        count = set_membership.preview(database, spec, rule)
        click.echo(f"{count:,} records would be in the set")
        return
    done = set_membership.save_rule(
        database, spec, rule, name, progress(lambda read: f"  {read:,} records read")
    )
    click.echo(f"set {spec}: {' '.join(rule.options())}")
    click.echo(_counted(done))


@click.command("remove-rule")
@click.argument("spec")
@pass_context
def sets_remove_rule(context: Context, spec: str) -> None:
    """Define set SPEC by hand again: its members stay, as if assigned by hand."""
    from libfed.records import set_membership

    done = set_membership.remove_rule(context.migrated_db(), spec)
    if done is None:
        raise click.ClickException(f"set {spec!r} has no rule")
    click.echo(f"set {spec} has no rule any more; its {done.members:,} records stay in it")


def _summaries(context: Context, specs: list[str] | None) -> list[SetSummary]:
    from libfed.records.set_membership import set_summaries

    with context.migrated_db().session() as session:
        return set_summaries(session, specs)


@click.command("show")
@click.argument("spec")
@pass_context
def sets_show(context: Context, spec: str) -> None:
    """A set's name, description, rule and number of members."""
    found = _summaries(context, [spec])
    if not found:
        raise click.ClickException(f"no set {spec!r}; `libfed sets list` lists them")
    summary = found[0]
    click.echo(f"{summary.spec}: {summary.name}")
    if summary.description:
        click.echo(f"  {summary.description}")
    click.echo(f"  {summary.members:,} records")
    if summary.rule is None:
        click.echo("  members assigned by hand (libfed import --set)")
    else:
        click.echo(f"  rule: {' '.join(summary.rule.options())}")


@click.command("list")
@pass_context
def sets_list(context: Context) -> None:
    """Every set with its number of members, and its rule if it has one."""
    summaries = _summaries(context, None)
    if not summaries:
        click.echo("no sets yet")
    for summary in summaries:
        rule = f"  rule: {' '.join(summary.rule.options())}" if summary.rule else ""
        click.echo(f"{summary.spec}\t{summary.members:,} records\t{summary.name}{rule}")
