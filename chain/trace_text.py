"""A trace (:func:`chain.trace.trace`) as text for people, one line per log entry.

::

    print(trace_text(trace(store, "lot:09506000134352.L20260212"), seconds=0.12), end="")

Each line names the entry it rests on, so that it can be proven; pure.
"""

from __future__ import annotations

from datetime import UTC, datetime

from chain.trace import REFILL_MIN_KG, TraceItem, TraceResult

__all__ = ["HIDDEN_FIELDS", "trace_text"]

HIDDEN_FIELDS = frozenset({"pubkey"})
"""Fields left out of the text (long, and of no use to read); JSON keeps them."""


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _line(item: TraceItem) -> str:
    fields = "; ".join(
        f"{name}={_when(value) if name.endswith('_ms') and isinstance(value, int) else value}"
        for name, value in item.fields
        if name not in HIDDEN_FIELDS
    )
    head = f"  {_when(item.ts)}  entry {item.index:<9} {item.relation:<11} {item.event:<11}"
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
