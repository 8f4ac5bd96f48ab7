"""A trace (:func:`chain.trace.trace`) as text for people, one line per log entry.

::

    print(trace_text(trace(store, "lot:09506000134352.L20260212"), seconds=0.12), end="")

    print(across_text(trace_across(logs, "lot:...", ref_status=check), 0.3, names), end="")

Each line names the entry it rests on (and, across logs, its log), so that
it can be proven; pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from chain.trace import REFILL_MIN_KG, TraceItem, TraceResult
from chain.trace_across import AcrossItem, AcrossResult, Crossing

__all__ = ["HIDDEN_FIELDS", "across_text", "trace_text"]

HIDDEN_FIELDS = frozenset({"pubkey"})
"""Fields left out of the text (long, and of no use to read); JSON keeps them."""


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _line(item: TraceItem, log: str = "") -> str:
    fields = "; ".join(
        f"{name}={_when(value) if name.endswith('_ms') and isinstance(value, int) else value}"
        for name, value in item.fields
        if name not in HIDDEN_FIELDS
    )
    where = f"{log}entry {item.index}"
    head = f"  {_when(item.ts)}  {where:<15} {item.relation:<11} {item.event:<11}"
    return f"{head} {item.subject}  [{item.signer}]" + (f"  {fields}" if fields else "") + "\n"


def trace_text(result: TraceResult, seconds: float) -> str:
    """``result`` as text: birds, recalls first, downstream, upstream; ``seconds`` it took."""
    window = ""
    if result.window is not None:
        window = f", {_when(result.window[0])} to {_when(result.window[1])}"
    out = [f"Trace of {result.start}{window}: entries 0 to {result.limit - 1} of the log\n"]
    out.append(f"Birds ({len(result.birds)}): {', '.join(result.birds) or 'none'}\n")
    if result.recalls:
        out.append(f"\nRECALLED ({len(result.recalls)}):\n")
        out += [_line(item) for item in result.recalls]
    else:
        out.append("No recall concerns it.\n")
    for title, items in (("Downstream", result.downstream), ("Upstream", result.upstream)):
        out.append(f"\n{title} ({len(items)}):\n")
        out += [_line(item) for item in items] or ["  nothing\n"]
    out.append(
        f"\nThe log records no feed deliveries: feed_refill lines are refills of a barn's feed "
        f"hopper (a rise of {REFILL_MIN_KG:g} kg or more between two readings).\n"
        f"Traced in {seconds:.3f} s. Prove any line: /api/v1/entries/<entry>/proof\n"
    )
    return "".join(out)


def _across_line(item: AcrossItem, names: Mapping[str, str]) -> str:
    line = _line(item.item, f"{names.get(item.origin, item.origin)}: ")
    if item.flags:
        line = line[:-1] + f"  !! REFERENCE FAILS: {', '.join(item.flags)}\n"
    return line


def _crossing_line(crossing: Crossing, names: Mapping[str, str]) -> str:
    status = "holds" if crossing.status is None else f"FAILS {crossing.status}"
    ref = crossing.ref
    other = names.get(ref.log, ref.log)
    return (
        f"  {names.get(crossing.origin, crossing.origin)}: entry {crossing.index} -> "
        f"{other}: entry {ref.index} ({ref.subject}, seen at size {ref.size}): {status}\n"
    )


def across_text(result: AcrossResult, seconds: float, names: Mapping[str, str]) -> str:
    """A trace across logs as text: recalls first, downstream, upstream, references checked.

    ``names`` gives a log's name (``Green Valley Farm``) by origin; a log not
    in it is shown by its origin. ``seconds`` is how long the trace took.
    """
    window = ""
    if result.window is not None:
        window = f", {_when(result.window[0])} to {_when(result.window[1])}"
    where = "every log that names it" if result.origin is None else result.origin
    out = [f"Trace of {result.start}{window} across {len(result.limits)} logs, from {where}\n"]
    for origin, limit in result.limits:
        out.append(f"  {names.get(origin, origin)} ({origin}): entries 0 to {limit - 1}\n")
    out.append(f"Birds ({len(result.birds)}): {', '.join(result.birds) or 'none'}\n")
    failing = result.failing
    if failing:
        out.append(f"\nREFERENCES THAT DO NOT HOLD ({len(failing)}):\n")
        out += [_crossing_line(c, names) for c in failing]
    if result.recalls:
        out.append(f"\nRECALLED ({len(result.recalls)}):\n")
        out += [_across_line(item, names) for item in result.recalls]
    else:
        out.append("No recall in any log concerns it.\n")
    for title, items in (("Downstream", result.downstream), ("Upstream", result.upstream)):
        out.append(f"\n{title} ({len(items)}):\n")
        out += [_across_line(item, names) for item in items] or ["  nothing\n"]
    out.append(f"\nReferences checked ({len(result.references)}):\n")
    out += [_crossing_line(c, names) for c in result.references] or ["  none\n"]
    out.append(
        f"\nTraced in {seconds:.3f} s. Prove any line in its log: "
        "/api/v1/entries/<entry>/proof of that log's read API\n"
    )
    return "".join(out)
