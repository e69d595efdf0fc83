"""The shipment state machines, as data: one table per direction, read by one function.

A state with no way out is terminal. Items (and the partner) may change only in
the `editable` states, before dispatch or receipt; a shipment counts in the
balance in its `counted` states; reaching `year_state` fixes the year it counts in.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Machine:
    direction: str
    initial: str
    transitions: dict[str, tuple[str, ...]]
    editable: frozenset[str]
    counted: frozenset[str]
    # Target states that make no sense for an empty shipment.
    needs_items: frozenset[str]
    year_state: str
    # States in which the copies actually received may still be recorded.
    receipt_open: frozenset[str] = frozenset()

    @property
    def states(self) -> tuple[str, ...]:
        seen = [self.initial]
        for source, targets in self.transitions.items():
            seen += [source, *targets]
        return tuple(dict.fromkeys(seen))

    def allowed(self, state: str) -> tuple[str, ...]:
        return self.transitions.get(state, ())

    def is_terminal(self, state: str) -> bool:
        return not self.allowed(state)


OUTGOING = Machine(
    direction="outgoing",
    initial="draft",
    transitions={
        "draft": ("packed", "cancelled"),
        "packed": ("dispatched", "cancelled"),
        "dispatched": ("delivered", "lost", "returned"),
        "delivered": ("acknowledged",),
    },
    editable=frozenset({"draft", "packed"}),
    counted=frozenset({"dispatched", "delivered", "acknowledged"}),
    needs_items=frozenset({"packed", "dispatched"}),
    year_state="dispatched",
)

INCOMING = Machine(
    direction="incoming",
    initial="expected",
    transitions={
        "expected": ("received", "cancelled"),
        "received": ("accessioned",),
    },
    editable=frozenset({"expected"}),
    counted=frozenset({"received", "accessioned"}),
    needs_items=frozenset({"received"}),
    year_state="received",
    receipt_open=frozenset({"expected", "received"}),
)

MACHINES = {machine.direction: machine for machine in (OUTGOING, INCOMING)}
DIRECTIONS = tuple(MACHINES)
STATES = tuple(dict.fromkeys(s for m in MACHINES.values() for s in m.states))
# Every state but the initial ones has its `<state>_at` column on Shipment.
TIMED_STATES = tuple(s for s in STATES if s not in {m.initial for m in MACHINES.values()})
