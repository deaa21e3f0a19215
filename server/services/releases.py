"""Early release (DOMAIN rule 3) and the kiosk commands the office and leadership may send."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import time

from sqlalchemy import select

from lockers.wire import messages as m
from server.commands import CommandResult
from server.custody.records import in_slot
from server.errors import NotAllowed, NotFound
from server.models import Deposit, EarlyRelease, Kiosk, Site
from server.policy.calendar import local_today
from server.services.context import LEADERSHIP, OFFICE, ServiceContext


@dataclass(frozen=True)
class EarlyReleaseView:
    """An approved early release; ``command_id`` is set when the slot was opened remotely."""

    id: int
    token: str
    pupil_ref: str
    reason: str
    command_id: str | None = None


class ReleaseServices:
    """Overrides that open slots outside the normal rules, all recorded."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def approve_early_release(self, actor: str, pupil_ref: str, reason: str, *,
                              not_before: time | None = None, open_now: bool = False,
                              site: str | None = None, ttl_s: float = 120.0
                              ) -> EarlyReleaseView:
        """Let the pupil collect before the window today: their next tap opens the slot, or
        with ``open_now`` the slot of today's uncollected deposit opens remotely."""
        if not reason.strip():
            raise NotAllowed("an early release needs a reason (appointment, illness, ...)")
        with self.ctx.action(actor, "early_release.approve", roles=OFFICE) as act:
            s = act.session
            pupil = self.ctx.pupil(s, pupil_ref, site)
            st = s.get(Site, pupil.site_id)
            assert st is not None
            today = local_today(st, self.ctx.clock.now())
            row = EarlyRelease(token=secrets.token_hex(6), pupil_id=pupil.id, day=today,
                               reason=reason, staff_id=act.staff.id,
                               approved_at=self.ctx.clock.now(), not_before=not_before)
            s.add(row)
            s.flush()
            command_id = None
            if open_now:
                dep = s.scalar(select(Deposit).where(
                    Deposit.pupil_id == pupil.id, Deposit.day == today,
                    Deposit.collected_at.is_(None)).order_by(Deposit.deposited_at.desc()))
                if dep is None:
                    raise NotFound(f"{pupil_ref} has no device in a locker today")
                kiosk = s.get(Kiosk, dep.kiosk_id)
                assert kiosk is not None
                cmd = self.ctx.commands.record(s, kiosk, m.CommandKind.REMOTE_UNLOCK,
                                               act.staff.username, reason, slot=dep.slot,
                                               purpose="early_release", ttl_s=ttl_s)
                act.command(cmd, st.code)
                command_id = cmd.id
            act.audit("early_release", row.id, reason=reason, pupil_ref=pupil.reference,
                      detail={"token": row.token, "not_before": not_before,
                              "command_id": command_id})
            act.touch(st.id)
            return EarlyReleaseView(row.id, row.token, pupil.reference, reason, command_id)

    def remote_unlock(self, actor: str, kiosk: str, slot: int, reason: str, *,
                      purpose: str = "staff", site: str | None = None, ttl_s: float = 120.0
                      ) -> str:
        """Open one slot remotely (fault fix, staff); returns the command id to wait on.

        A slot the server believes holds a device is opened for that device's custody record
        (the kiosk refuses if its own record differs); the record does not move, and if the
        slot is emptied the record is flagged for a staff check. Handing a device back is a
        custody action (``services.custody``), never this."""
        with self.ctx.action(actor, "command.remote_unlock", roles=OFFICE) as act:
            st = self.ctx.site(act.session, site)
            k = self.ctx.kiosk(act.session, st, kiosk)
            inside = in_slot(act.session, k.id, slot)
            cmd = self.ctx.commands.record(
                act.session, k, m.CommandKind.REMOTE_UNLOCK, act.staff.username, reason,
                slot=slot, purpose=purpose, ttl_s=ttl_s,
                custody_id=inside.custody_id if inside else None,
                expected_pupil_ref=inside.pupil_ref if inside else None)
            act.command(cmd, st.code)
            return cmd.id

    def emergency_open(self, actor: str, reason: str, *, site: str | None = None,
                       drill: bool = False, ttl_s: float = 300.0) -> list[str]:
        """Open every slot of every kiosk of a site (fire alarm or drill); leadership only.
        Returns one command id per kiosk."""
        with self.ctx.action(actor, "command.emergency_open", roles=LEADERSHIP) as act:
            st = self.ctx.site(act.session, site)
            ids = []
            for k in act.session.scalars(select(Kiosk).where(Kiosk.site_id == st.id)):
                cmd = self.ctx.commands.record(act.session, k, m.CommandKind.EMERGENCY_OPEN,
                                               act.staff.username, reason, ttl_s=ttl_s,
                                               purpose="drill" if drill else "fire_alarm")
                act.command(cmd, st.code)
                ids.append(cmd.id)
            act.audit("site", st.code, reason=reason, detail={"commands": ids, "drill": drill})
            return ids

    def resync(self, actor: str, kiosk: str, reason: str = "resync requested", *,
               site: str | None = None, ttl_s: float = 60.0) -> str:
        """Ask a kiosk to resend its state and reload its replica."""
        with self.ctx.action(actor, "command.resync", roles=OFFICE) as act:
            st = self.ctx.site(act.session, site)
            k = self.ctx.kiosk(act.session, st, kiosk)
            cmd = self.ctx.commands.record(act.session, k, m.CommandKind.RESYNC,
                                           act.staff.username, reason, ttl_s=ttl_s)
            act.command(cmd, st.code)
            act.touch(st.id)
            if self.ctx.replica is not None:
                self.ctx.replica.resend_snapshot(k.id)
            return cmd.id

    def wait(self, command_id: str, timeout: float = 10.0) -> CommandResult:
        """Wait for a command's acknowledgement: success, refused, failed or timeout."""
        return self.ctx.commands.wait(command_id, timeout)
