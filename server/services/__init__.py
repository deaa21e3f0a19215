"""The service layer: one method per office action, each recording who/when/why in the audit
log and republishing the kiosks' replicas after its commit. The web and the CLI call only
this; neither touches the models directly for changes.

    services = Services(store, clock, replica=..., commands=...)
    services.confiscations.confiscate("jsmith", "A123", "phone out in class")
"""

from __future__ import annotations

from lockers.clock import Clock
from server.commands import CommandCenter
from server.replica import ReplicaPublisher
from server.services.admin import AdminServices
from server.services.calendar import CalendarServices
from server.services.cards import CardServices
from server.services.confiscations import ConfiscationServices
from server.services.context import ServiceContext
from server.services.custody import CustodyServices
from server.services.exceptions import ExceptionServices
from server.services.groups import GroupServices
from server.services.identities import IdentityServices
from server.services.notifications import NotificationServices
from server.services.queries import Queries
from server.services.registers import RegisterServices
from server.services.releases import ReleaseServices
from server.services.reports import Reports
from server.services.signin import SignInServices
from server.services.timeline import Timelines
from server.services.trust import TrustOverview
from server.store import Store


class Services:
    """Every office action and query, grouped by what they act on."""

    def __init__(self, store: Store, clock: Clock, replica: ReplicaPublisher | None = None,
                 commands: CommandCenter | None = None) -> None:
        self.ctx = ServiceContext(store, clock, replica, commands)
        self.store, self.clock = store, clock
        self.admin = AdminServices(self.ctx)
        self.calendar = CalendarServices(self.ctx)
        self.cards = CardServices(self.ctx)
        self.custody = CustodyServices(self.ctx)
        self.confiscations = ConfiscationServices(self.ctx, self.custody)
        self.timelines = Timelines(self.ctx)
        self.exceptions = ExceptionServices(self.ctx)
        self.groups = GroupServices(self.ctx)
        self.identities = IdentityServices(self.ctx)
        self.notifications = NotificationServices(self.ctx)
        self.releases = ReleaseServices(self.ctx)
        self.queries = Queries(self.ctx)
        self.registers = RegisterServices(self.ctx)
        self.reports = Reports(self.ctx)
        self.signin = SignInServices(self.ctx)
        self.trust = TrustOverview(self.ctx)

    @property
    def commands(self) -> CommandCenter:
        """The command tracker (``wait(command_id, timeout)`` for outcomes)."""
        return self.ctx.commands


__all__ = ["Services"]
