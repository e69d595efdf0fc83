"""Who is asking: the roles, and the caller every service is told about."""

from __future__ import annotations

from dataclasses import dataclass

# In order of power: each role may do what the roles before it may.
ROLES = ("viewer", "coordinator", "admin")


@dataclass(frozen=True)
class Caller:
    """Who is making a request, as the services need to know it."""

    id: int
    name: str
    role: str

    def may(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


# The actor of what the command line and the demo loader do.
SYSTEM = Caller(id=0, name="system", role="admin")
